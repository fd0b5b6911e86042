package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

func (h *harness) accessToken(t *testing.T) string {
	t.Helper()
	code, verifier := h.codeFor(h.browser(), nil)
	r := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}, "web", webSecret)
	if r.status != 200 {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	return jsonBody(t, r)["access_token"].(string)
}

func TestUserinfo(t *testing.T) {
	// In parallel with the other waiting tests: the oversized-body case waits out net/http's 500 ms lingering close,
	// which costs wall time, not work.
	t.Parallel()
	h := newHarness(t)
	token := h.accessToken(t)
	bearer := func(method, tok, contentType, body string) *http.Request {
		r, _ := http.NewRequest(method, h.issuer+"/userinfo", strings.NewReader(body))
		if tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		return r
	}
	form := "application/x-www-form-urlencoded"
	cases := []struct {
		name      string
		req       *http.Request
		status    int
		errCode   string // "" for success; "-" for a challenge without error code
		challenge string // expected in WWW-Authenticate
	}{
		{"GET with bearer header", bearer("GET", token, "", ""), 200, "", ""},
		{"POST with bearer header", bearer("POST", token, "", ""), 200, "", ""},
		{"POST with form body", bearer("POST", "", form, url.Values{"access_token": {token}}.Encode()), 200, "", ""},
		{"no token", bearer("GET", "", "", ""), 401, "-", `Bearer realm="`},
		{"unknown token", bearer("GET", "not-a-token", "", ""), 401, "invalid_token", `error="invalid_token"`},
		{"two methods", bearer("POST", token, form, url.Values{"access_token": {token}}.Encode()), 400, "invalid_request", `error="invalid_request"`},
		{"token in query", func() *http.Request {
			r := bearer("GET", "", "", "")
			r.URL.RawQuery = "access_token=" + token
			return r
		}(), 400, "invalid_request", `error="invalid_request"`},
		{"basic scheme", func() *http.Request { r := bearer("GET", "", "", ""); r.SetBasicAuth("a", "b"); return r }(), 400, "invalid_request", `error="invalid_request"`},
		{"oversized form", bearer("POST", "", form, "access_token="+strings.Repeat("x", 70<<10)), 413, "invalid_request", ""},
		{"DELETE", bearer("DELETE", token, "", ""), 405, "invalid_request", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.events.reset()
			r := h.browser().do(tc.req)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if !strings.Contains(r.header.Get("WWW-Authenticate"), tc.challenge) {
				t.Errorf("WWW-Authenticate = %q, want it to contain %q", r.header.Get("WWW-Authenticate"), tc.challenge)
			}
			if tc.errCode == "-" && strings.Contains(r.header.Get("WWW-Authenticate"), "error=") {
				t.Errorf("a request without credentials gets no error code in the challenge (RFC 6750 §3.1)")
			}
			body := jsonBody(t, r)
			if tc.errCode == "" {
				if body["sub"] != "alice-sub" {
					t.Errorf("claims = %v", body)
				}
				return
			}
			if tc.errCode != "-" && body["error"] != tc.errCode {
				t.Errorf("error = %v, want %s", body["error"], tc.errCode)
			}
			if h.events.count(provider.EventUserinfoError) != 1 {
				t.Errorf("events = %v", h.events.names())
			}
		})
	}
	// Expiry: the same token is refused once its lifetime has passed.
	h.clock.advance(time.Hour + time.Second)
	if r := h.browser().do(bearer("GET", token, "", "")); r.status != 401 {
		t.Fatalf("expired token: %d %s", r.status, r.body)
	}
}

func TestDiscoveryAndJWKS(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	r := b.get(h.issuer + "/.well-known/openid-configuration")
	doc := jsonBody(t, r)
	if r.status != 200 || doc["issuer"] != h.issuer || doc["token_endpoint"] != h.issuer+"/token" || doc["jwks_uri"] != h.issuer+"/jwks" {
		t.Fatalf("discovery: %d %v", r.status, doc)
	}
	// Every advertised endpoint URL must be one the provider serves.
	for field, v := range doc {
		if u, ok := v.(string); ok && strings.HasSuffix(field, "_endpoint") || field == "jwks_uri" {
			if u == "" || !h.p.Handles(strings.TrimPrefix(u, h.issuer)) {
				t.Errorf("%s = %q is not served", field, u)
			}
		}
	}
	for field, want := range map[string]string{"code_challenge_methods_supported": `["S256"]`, "response_types_supported": `["code"]`,
		"id_token_signing_alg_values_supported": `["ES256"]`, "request_uri_parameter_supported": "false", "subject_types_supported": `["public"]`,
		"grant_types_supported":                          `["authorization_code","refresh_token","client_credentials","urn:ietf:params:oauth:grant-type:device_code"]`,
		"introspection_endpoint":                         `"` + h.issuer + `/token/introspection"`,
		"revocation_endpoint":                            `"` + h.issuer + `/token/revocation"`,
		"pushed_authorization_request_endpoint":          `"` + h.issuer + `/par"`,
		"end_session_endpoint":                           `"` + h.issuer + `/session/end"`,
		"device_authorization_endpoint":                  `"` + h.issuer + `/device/auth"`,
		"introspection_endpoint_auth_methods_supported":  `["client_secret_basic","client_secret_post"]`,
		"authorization_response_iss_parameter_supported": "true",
		"backchannel_logout_supported":                   "true"} {
		got, _ := json.Marshal(doc[field])
		if string(got) != want {
			t.Errorf("%s = %s, want %s", field, got, want)
		}
	}
	r = b.get(h.issuer + "/jwks")
	var set struct{ Keys []map[string]any }
	if err := json.Unmarshal([]byte(r.body), &set); err != nil || r.status != 200 || len(set.Keys) != 1 {
		t.Fatalf("jwks: %d %s", r.status, r.body)
	}
	if k := set.Keys[0]; k["kid"] == nil || k["alg"] != "ES256" || k["d"] != nil {
		t.Errorf("jwk = %v", k)
	}
	for _, tc := range []struct {
		path  string
		event provider.EventName
	}{{"/.well-known/openid-configuration", provider.EventDiscoveryError}, {"/jwks", provider.EventJwksError}} {
		h.events.reset()
		r := b.postForm(h.issuer+tc.path, url.Values{})
		if r.status != 405 || r.header.Get("Allow") == "" || h.events.count(tc.event) != 1 {
			t.Errorf("POST %s: %d Allow=%q events=%v", tc.path, r.status, r.header.Get("Allow"), h.events.names())
		}
	}
}

func TestInteractionProtections(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	r := b.get(h.authorizeURL(nil))
	pageURL := h.abs(r.header.Get("Location"))
	pg := b.get(pageURL)
	action, csrf := page(t, pg)
	assertNoInlineScript(t, pg)
	for _, want := range []string{`<label for="login">`, `<label for="password">`, `autocomplete="current-password"`, `lang="en"`} {
		if !strings.Contains(pg.body, want) {
			t.Errorf("login page lacks %s", want)
		}
	}
	if pg.header.Get("X-Frame-Options") != "DENY" || !strings.Contains(pg.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("login page can be framed: %v", pg.header)
	}

	// Another browser (no binding cookie) cannot use the page.
	other := h.browser()
	if r := other.get(pageURL); r.status != 400 {
		t.Errorf("page opened without the binding cookie: %d", r.status)
	}
	if r := other.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "login": {"alice"}, "password": {alicePassword}}); r.status != 400 {
		t.Errorf("login posted without the binding cookie: %d", r.status)
	}
	// Wrong CSRF token.
	if r := b.postForm(h.abs(action), url.Values{"csrf_token": {"forged"}, "login": {"alice"}, "password": {alicePassword}}); r.status != 403 {
		t.Errorf("forged CSRF token: %d", r.status)
	}
	// Wrong method and unknown action.
	if r := b.get(h.abs(action)); r.status != 405 {
		t.Errorf("GET on the login action: %d", r.status)
	}
	if r := b.postForm(pageURL+"/nope", url.Values{"csrf_token": {csrf}}); r.status != 404 {
		t.Errorf("unknown action: %d", r.status)
	}
	// A consent answer at the login step is refused.
	if r := b.postForm(pageURL+"/consent", url.Values{"csrf_token": {csrf}, "decision": {"allow"}}); r.status != 400 {
		t.Errorf("consent at the login step: %d", r.status)
	}
	// Wrong password: back to the page by POST-redirect-GET, which shows
	// an accessible alert.
	r = b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "login": {"alice"}, "password": {"nope"}})
	if r.status != 303 || h.abs(r.header.Get("Location")) != pageURL {
		t.Errorf("wrong password: %d to %q", r.status, r.header.Get("Location"))
	}
	if r := b.get(pageURL); r.status != 200 || !strings.Contains(r.body, `role="alert"`) {
		t.Errorf("login page after a wrong password: %d", r.status)
	}
	// The interaction is gone after expiry.
	h.clock.advance(11 * time.Minute)
	if r := b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "login": {"alice"}, "password": {alicePassword}}); r.status != 400 {
		t.Errorf("expired interaction: %d", r.status)
	}
	if h.events.count(provider.EventServerError) != 0 {
		t.Errorf("server errors: %v", h.events.names())
	}
}

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *provider.Config) {
		c.Throttle = provider.LoginThrottle{FreeAttempts: 3, Window: time.Minute, BaseDelay: 10 * time.Second, MaxDelay: time.Minute}
	})
	b := h.browser()
	r := b.get(h.authorizeURL(nil))
	action, csrf := page(t, b.get(h.abs(r.header.Get("Location"))))
	attempt := func(pw string) response {
		return b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "login": {"ALICE"}, "password": {pw}})
	}
	// Exactly free_attempts wrong passwords are checked; the last locks.
	for i := range 3 {
		if r := attempt("wrong"); r.status != 303 {
			t.Fatalf("failure %d: %d", i+1, r.status)
		}
	}
	// Locked: even the right password is refused until the delay passes.
	r = attempt(alicePassword)
	if r.status != 429 || r.header.Get("Retry-After") != "10" {
		t.Fatalf("locked account: %d Retry-After=%q", r.status, r.header.Get("Retry-After"))
	}
	h.clock.advance(11 * time.Second)
	if r := attempt(alicePassword); r.status != 303 {
		t.Fatalf("after the delay the right password works: %d %s", r.status, r.body)
	}
}

func TestTemplatesOverride(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "login.html"), []byte(`<html lang="fr"><form method="post" action="{{.Action}}"><input type="hidden" name="csrf_token" value="{{.CSRF}}"><label for="login">Identifiant</label></form></html>`), 0o600)
	h := newHarness(t, func(c *provider.Config) { c.TemplatesDir = dir })
	b := h.browser()
	r := b.get(h.authorizeURL(nil))
	pg := b.get(h.abs(r.header.Get("Location")))
	if !strings.Contains(pg.body, "Identifiant") {
		t.Fatalf("custom template not used: %s", pg.body)
	}
	os.WriteFile(filepath.Join(dir, "consent.html"), []byte(`{{.Broken`), 0o600)
	_, err := provider.New(provider.Config{Issuer: "https://x.example", Store: h.store, Clients: testClients(t), Accounts: &provider.StaticAccounts{}, Signer: h.keys, TemplatesDir: dir})
	if err == nil || !strings.Contains(err.Error(), "consent.html") {
		t.Fatalf("a broken template must fail New with its name, got %v", err)
	}
}

// failingStore fails or panics on demand, to prove internal failures become
// server_error responses and events, never crashes or leaked detail.
type failingStore struct {
	provider.Store
	fail  bool
	panic bool
}

var errDisk = errors.New("disk on fire at /var/lib/secret-path")

func (f *failingStore) check() error {
	if f.panic {
		var m map[string]int
		m["x"]++ // a real runtime panic (nil map write)
	}
	if f.fail {
		return errDisk
	}
	return nil
}

func (f *failingStore) Consume(ctx context.Context, k provider.Kind, id string, at time.Time) (provider.Record, error) {
	if err := f.check(); err != nil {
		return provider.Record{}, err
	}
	return f.Store.Consume(ctx, k, id, at)
}

func (f *failingStore) Get(ctx context.Context, k provider.Kind, id string) (provider.Record, error) {
	if err := f.check(); err != nil {
		return provider.Record{}, err
	}
	return f.Store.Get(ctx, k, id)
}

func TestStoreFailuresBecomeServerErrors(t *testing.T) {
	t.Parallel()
	var fs *failingStore
	h := newHarness(t, func(c *provider.Config) { fs = &failingStore{Store: c.Store}; c.Store = fs })
	code, verifier := h.codeFor(h.browser(), nil)
	for _, mode := range []string{"error", "panic"} {
		t.Run(mode, func(t *testing.T) {
			h.events.reset()
			fs.fail, fs.panic = mode == "error", mode == "panic"
			defer func() { fs.fail, fs.panic = false, false }()
			r := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}, "web", webSecret)
			body := jsonBody(t, r)
			if r.status != 500 || body["error"] != "server_error" || strings.Contains(r.body, "secret-path") {
				t.Fatalf("got %d %s", r.status, r.body)
			}
			if h.events.count(provider.EventServerError) != 1 || h.events.count(provider.EventGrantError) != 0 {
				t.Errorf("events = %v", h.events.names())
			}
			var cause error
			for _, e := range h.events.events {
				if e.Name == provider.EventServerError {
					cause = e.Cause
				}
			}
			if cause == nil {
				t.Errorf("server_error event carries no cause for the operator")
			}
		})
	}
	// The code survived both failures.
	r := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}, "web", webSecret)
	if r.status != 200 {
		t.Fatalf("after the store recovered: %d %s", r.status, r.body)
	}
	// Browser endpoints: an error page, not a crash.
	fs.fail = true
	b := h.browser()
	b.c.Jar.SetCookies(mustURL(h.issuer), []*http.Cookie{{Name: "oidcaddy_session", Value: "x"}})
	if r := b.get(h.authorizeURL(nil)); r.status != 500 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("authorization with a failing store: %d %s", r.status, r.body)
	}
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

func TestNewValidatesConfig(t *testing.T) {
	h := newHarness(t)
	base := provider.Config{Issuer: "https://id.example", Store: h.store, Clients: testClients(t), Accounts: &provider.StaticAccounts{}, Signer: h.keys}
	for _, tc := range []struct {
		name string
		mod  func(*provider.Config)
	}{
		{"no issuer", func(c *provider.Config) { c.Issuer = "" }},
		{"ftp issuer", func(c *provider.Config) { c.Issuer = "ftp://id.example" }},
		{"issuer with query", func(c *provider.Config) { c.Issuer = "https://id.example?x=1" }},
		{"issuer with trailing slash", func(c *provider.Config) { c.Issuer = "https://id.example/" }},
		{"no store", func(c *provider.Config) { c.Store = nil }},
		{"no signer", func(c *provider.Config) { c.Signer = nil }},
	} {
		cfg := base
		tc.mod(&cfg)
		if _, err := provider.New(cfg); err == nil {
			t.Errorf("%s: New accepted it", tc.name)
		}
	}
	if _, err := provider.New(base); err != nil {
		t.Fatalf("valid config: %v", err)
	}
}

func TestClientValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    *provider.Client
	}{
		{"unknown grant type", &provider.Client{ID: "x", TokenEndpointAuthMethod: provider.AuthMethodNone, GrantTypes: []string{"password"}}},
		{"code grant without redirect URIs", &provider.Client{ID: "x", TokenEndpointAuthMethod: provider.AuthMethodNone}},
		{"public client_credentials", &provider.Client{ID: "x", TokenEndpointAuthMethod: provider.AuthMethodNone, GrantTypes: []string{provider.GrantTypeClientCredentials}}},
		{"basic without secret", &provider.Client{ID: "x", TokenEndpointAuthMethod: provider.AuthMethodClientSecretBasic, RedirectURIs: []string{"https://a.example/cb"}}},
		{"private_key_jwt without keys", &provider.Client{ID: "x", TokenEndpointAuthMethod: provider.AuthMethodPrivateKeyJWT, RedirectURIs: []string{"https://a.example/cb"}}},
		{"fragment redirect", &provider.Client{ID: "x", TokenEndpointAuthMethod: provider.AuthMethodNone, RedirectURIs: []string{"https://a.example/cb#x"}}},
		{"javascript redirect", &provider.Client{ID: "x", TokenEndpointAuthMethod: provider.AuthMethodNone, RedirectURIs: []string{"javascript:alert(1)"}}},
		{"bad token format", &provider.Client{ID: "x", TokenEndpointAuthMethod: provider.AuthMethodNone, RedirectURIs: []string{"https://a.example/cb"}, AccessTokenFormat: "paseto"}},
	} {
		if _, err := provider.NewStaticClients(tc.c); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	short := &provider.Client{ID: "x", TokenEndpointAuthMethod: provider.AuthMethodClientSecretJWT, GrantTypes: []string{provider.GrantTypeClientCredentials}}
	short.SetSecret("too-short-for-hs256")
	if _, err := provider.NewStaticClients(short); err == nil {
		t.Errorf("client_secret_jwt with a short secret: accepted")
	}
}

// A client that hangs up mid-request is not a server error: the store's
// context.Canceled must not page anyone through server_error.
func TestCanceledRequestIsNotAServerError(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	code, verifier := h.codeFor(h.browser(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	body := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}.Encode()
	req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body)).WithContext(ctx)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("web", webSecret)
	h.events.reset()
	h.p.ServeHTTP(httptest.NewRecorder(), req)
	if n := h.events.count(provider.EventServerError); n != 0 {
		t.Fatalf("server_error emitted for a canceled request (%v)", h.events.names())
	}
}
