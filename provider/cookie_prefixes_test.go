package provider_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/oidcaddy/oidcaddy/internal/formflow"
	"github.com/oidcaddy/oidcaddy/provider"
)

// plainJar keeps every cookie by name and sends them all back, whatever their
// Secure, Path or prefix: the test server is plain http while the issuer may
// be https, and the attributes are asserted on what the provider set.
type plainJar struct {
	mu  sync.Mutex
	m   map[string]*http.Cookie
	set []*http.Cookie // every Set-Cookie, in order
}

func (j *plainJar) SetCookies(_ *url.URL, cs []*http.Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range cs {
		j.set = append(j.set, c)
		if c.MaxAge < 0 {
			delete(j.m, c.Name)
		} else {
			j.m[c.Name] = c
		}
	}
}

func (j *plainJar) Cookies(*url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []*http.Cookie
	for _, c := range j.m {
		out = append(out, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	return out
}

// lastSet returns the last Set-Cookie whose name ends with suffix.
func (j *plainJar) lastSet(suffix string) *http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := len(j.set) - 1; i >= 0; i-- {
		if strings.HasSuffix(j.set[i].Name, suffix) {
			return j.set[i]
		}
	}
	return nil
}

// Cookie names carry __Host- when the browser can enforce host-only, root
// path and Secure, __Secure- when only Secure holds, and no prefix over plain
// http; the configured name prefix follows.
func TestCookiePrefixes(t *testing.T) {
	t.Parallel()
	yes := true
	for _, tc := range []struct {
		name            string
		issuer, path    string // path: the issuer's path, "" for the root
		cookies         provider.CookieConfig
		session, others string // expected name prefixes (before the configured one)
		namePrefix      string
		secure          bool
	}{
		{name: "https root", issuer: "https://idp.example", session: "__Host-", others: "__Secure-", namePrefix: "oidcaddy", secure: true},
		{name: "https custom name", issuer: "https://idp.example", cookies: provider.CookieConfig{NamePrefix: "myidp"}, session: "__Host-", others: "__Secure-", namePrefix: "myidp", secure: true},
		{name: "https with domain", issuer: "https://idp.example", cookies: provider.CookieConfig{Domain: "idp.example"}, session: "__Secure-", others: "__Secure-", namePrefix: "oidcaddy", secure: true},
		{name: "https below a path", issuer: "https://idp.example/op", path: "/op", session: "__Secure-", others: "__Secure-", namePrefix: "oidcaddy", secure: true},
		{name: "http forced secure", cookies: provider.CookieConfig{Secure: &yes}, session: "__Host-", others: "__Secure-", namePrefix: "oidcaddy", secure: true},
		{name: "http development", session: "", others: "", namePrefix: "oidcaddy", secure: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var issuer string
			h := newHarness(t, func(c *provider.Config) {
				if tc.issuer != "" {
					c.Issuer = tc.issuer
				}
				c.Cookies = tc.cookies
				issuer = c.Issuer
			}, withDeviceClient(t))
			base := h.srv.URL + tc.path
			jar := &plainJar{m: map[string]*http.Cookie{}}
			b := &browser{h: h, c: formflow.New(jar).Client}
			local := func(loc string) string { // the issuer's URLs, served by the test server
				if strings.HasPrefix(loc, "/") {
					return h.srv.URL + loc
				}
				return base + strings.TrimPrefix(loc, issuer)
			}
			check := func(ck *http.Cookie, want, path string) {
				t.Helper()
				if ck == nil {
					t.Fatalf("no %s cookie was set", want)
				}
				if ck.Name != want || ck.Secure != tc.secure || ck.Path != path || !ck.HttpOnly {
					t.Errorf("cookie %s (Secure=%v Path=%q HttpOnly=%v), want %s (Secure=%v Path=%q)", ck.Name, ck.Secure, ck.Path, ck.HttpOnly, want, tc.secure, path)
				}
				if want, got := tc.cookies.Domain, ck.Domain; strings.HasSuffix(ck.Name, "_session") && got != want {
					t.Errorf("%s Domain=%q, want %q", ck.Name, got, want)
				}
			}

			_, challenge := pkce("k")
			authz := base + "/authorize?" + url.Values{"client_id": {"trusted"}, "redirect_uri": {webRedirect}, "response_type": {"code"}, "scope": {"openid"},
				"code_challenge": {challenge}, "code_challenge_method": {"S256"}}.Encode()
			r := b.get(authz)
			loc := local(r.header.Get("Location"))
			uid := loc[strings.LastIndex(loc, "/")+1:]
			check(jar.lastSet("_interaction"), tc.others+tc.namePrefix+"_interaction", tc.path+"/interaction/"+uid)
			action, csrf := page(t, b.get(loc))
			r = b.postForm(local(action), url.Values{"csrf_token": {csrf}, "login": {"alice"}, "password": {alicePassword}})
			if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), webRedirect) {
				t.Fatalf("login: %d %s", r.status, r.header.Get("Location"))
			}
			sessionPath := tc.path
			if sessionPath == "" {
				sessionPath = "/"
			}
			check(jar.lastSet("_session"), tc.session+tc.namePrefix+"_session", sessionPath)
			if ck := jar.lastSet("_interaction"); ck.MaxAge >= 0 || ck.Name != tc.others+tc.namePrefix+"_interaction" {
				t.Errorf("the interaction cookie %s was not cleared under its own name (MaxAge %d)", ck.Name, ck.MaxAge)
			}
			// The provider reads the session back under the same name.
			r = b.get(authz + "&prompt=none")
			if u, _ := url.Parse(r.header.Get("Location")); u == nil || u.Query().Get("code") == "" {
				t.Fatalf("prompt=none with the session cookie: %d %s", r.status, r.header.Get("Location"))
			}

			// The device page's CSRF cookie has no Domain and, for an issuer
			// at the root, the path "/": __Host- fits there.
			pg := b.get(base + "/device")
			devicePrefix := tc.others
			if tc.secure && tc.path == "" {
				devicePrefix = "__Host-"
			}
			check(jar.lastSet("_device"), devicePrefix+tc.namePrefix+"_device", sessionPath)
			action, csrf = page(t, pg)
			if r := b.postForm(local(action), url.Values{"csrf_token": {csrf}, "user_code": {"BCDF-GHJK"}}); r.status != http.StatusBadRequest {
				t.Errorf("device form with its cookie: %d, want 400 (a wrong code, not a CSRF failure)", r.status)
			}

			// Logging out clears the session cookie under its name.
			pg = b.get(base + "/session/end")
			action, csrf = page(t, pg)
			if r := b.postForm(local(action), url.Values{"csrf_token": {csrf}, "decision": {"logout"}, "logout_state": {regexpField(pg.body, "logout_state")}}); r.status != http.StatusOK {
				t.Fatalf("logout: %d %s", r.status, r.body)
			}
			if ck := jar.lastSet("_session"); ck.MaxAge >= 0 || ck.Name != tc.session+tc.namePrefix+"_session" {
				t.Errorf("the session cookie %s was not cleared under its own name (MaxAge %d)", ck.Name, ck.MaxAge)
			}
		})
	}
}
