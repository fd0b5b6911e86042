package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/oidcaddy/oidcaddy/internal/formflow"
	"github.com/oidcaddy/oidcaddy/internal/pgtest"
)

// protectedPairCaddyfile is one of two instances on one PostgreSQL
// database: the provider at 127.0.0.1 and, on localhost, an app behind
// oidc_protect, both answering for the addresses the test's load balancer
// gives them (the issuer and the app's origin are the balancer's), and
// naming themselves in instanceHeader.
const protectedPairCaddyfile = `{
	admin 127.0.0.1:%[1]d
	persist_config off
}

http://localhost:%[2]d {
	bind 127.0.0.1
	header ` + instanceHeader + ` %[3]s
	oidc_protect {
		issuer %[4]s
		allow /api/* scope read
		allow * group staff
		header_up X-Forwarded-User {oidc.sub} X-Forwarded-Email {oidc.email} X-Forwarded-Groups {oidc.groups}
	}
	reverse_proxy %[5]s
}

http://127.0.0.1:%[6]d {
	bind 127.0.0.1
	header ` + instanceHeader + ` %[3]s
	oidc_provider {
		issuer %[4]s
		storage ` + postgresStorage + `
		key_encryption_secret {env.OIDC_KEY_ENCRYPTION_SECRET}
		client api-caller {
			secret {env.DEMO_CLIENT_SECRET}
			grant_types client_credentials
			allowed_scopes read write
		}
		user demo {
			password_hash ` + demoPasswordHash + `
			subject demo-subject
			claim email demo@example.com
			groups staff
		}
		user outsider {
			password_hash ` + demoPasswordHash + `
			subject outsider-subject
		}
	}
}
`

// alternatingInstances is the test's load balancer, an http.RoundTripper:
// a request for the issuer's or the app's address goes to instance A or B
// (keeping its Host header, as a proxy does), in turn, request by request,
// or to one instance while pinned. It notes which instance answered.
type alternatingInstances struct {
	transport http.RoundTripper
	// routes maps a balanced host:port to the instances' own, A then B.
	routes map[string][2]string
	mu     sync.Mutex
	next   int // 0: A, 1: B
	pinned int // -1, or the instance every request goes to
	seen   []answeredBy
	// misrouted are requests answered by another server than the instance
	// they were sent to.
	misrouted []string
}

var instanceNames = [2]string{"A", "B"}

func (lb *alternatingInstances) RoundTrip(req *http.Request) (*http.Response, error) {
	addrs, ok := lb.routes[req.URL.Host]
	if !ok {
		return lb.transport.RoundTrip(req)
	}
	lb.mu.Lock()
	i := lb.pinned
	if i < 0 {
		i, lb.next = lb.next, 1-lb.next
	}
	lb.mu.Unlock()
	out := req.Clone(req.Context())
	out.Host, out.URL.Host = req.URL.Host, addrs[i]
	resp, err := lb.transport.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	resp.Request = req
	lb.mu.Lock()
	defer lb.mu.Unlock()
	// What the instance says of itself, not where it was sent.
	got := resp.Header.Get(instanceHeader)
	lb.seen = append(lb.seen, answeredBy{req.Method + " " + req.URL.Path, got})
	if got != instanceNames[i] {
		lb.misrouted = append(lb.misrouted, fmt.Sprintf("%s %s sent to %s, answered by %q", req.Method, req.URL.Path, instanceNames[i], got))
	}
	return resp, nil
}

// alternateFrom sends the next request to instance first ("A" or "B"),
// then the following ones in turn.
func (lb *alternatingInstances) alternateFrom(first string) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.pinned, lb.next = -1, strings.Index("AB", first)
}

// pin sends every request to one instance.
func (lb *alternatingInstances) pin(instance string) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.pinned = strings.Index("AB", instance)
}

func (lb *alternatingInstances) take() []answeredBy {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	seen := lb.seen
	lb.seen = nil
	return seen
}

// protectedPair is two Caddy instances, each with the provider and the
// protected app, on one PostgreSQL database, behind the test's balancer.
type protectedPair struct {
	issuer, app string // the balanced addresses
	lb          *alternatingInstances
	upstream    *echoUpstream
}

func startProtectedPair(t *testing.T) *protectedPair {
	t.Helper()
	dsn := pgtest.Database(t) // skips, with the reason, when PostgreSQL is missing (fails under CI=true)
	up := startEchoUpstream(t)
	used := map[int]bool{}
	port := func() int {
		for {
			if p := freePort(t); !used[p] {
				used[p] = true
				return p
			}
		}
	}
	// The balanced addresses: nothing listens there, the balancer maps them.
	issuerPort, appPort := port(), port()
	p := &protectedPair{
		issuer:   fmt.Sprintf("http://127.0.0.1:%d", issuerPort),
		app:      fmt.Sprintf("http://localhost:%d", appPort),
		upstream: up,
		lb:       &alternatingInstances{transport: &http.Transport{}, routes: map[string][2]string{}, pinned: -1},
	}
	env := []string{"OIDC_DATABASE_URL=" + dsn, sharedKeysEnv(e2eKeyEncryptionSecret)}
	var issuerAt, appAt [2]string
	for i, name := range instanceNames {
		cfg := siteConfig{SitePort: port(), AdminPort: port()}
		instanceApp := port()
		file := fmt.Sprintf(protectedPairCaddyfile, cfg.AdminPort, instanceApp, name, p.issuer, strings.TrimPrefix(up.URL, "http://"), cfg.SitePort)
		startCaddyWith(t, cfg, []byte(file), env...)
		issuerAt[i], appAt[i] = fmt.Sprintf("127.0.0.1:%d", cfg.SitePort), fmt.Sprintf("127.0.0.1:%d", instanceApp)
	}
	p.lb.routes[strings.TrimPrefix(p.issuer, "http://")] = issuerAt
	p.lb.routes[strings.TrimPrefix(p.app, "http://")] = appAt
	t.Cleanup(func() {
		p.lb.mu.Lock()
		defer p.lb.mu.Unlock()
		if len(p.lb.misrouted) > 0 {
			t.Errorf("requests not answered by the instance they were sent to:\n\t%s", strings.Join(p.lb.misrouted, "\n\t"))
		}
	})
	return p
}

// browser is a user agent whose every request goes through the balancer.
func (p *protectedPair) browser() *formflow.Browser {
	b := formflow.New(nil)
	b.Client.Transport = p.lb
	return b
}

// postAsAPICaller posts form to the issuer's path through the balancer,
// authenticated as the api-caller client.
func (p *protectedPair) postAsAPICaller(t *testing.T, path string, form url.Values) formflow.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("api-caller", demoClientSecret)
	r, err := formflow.Do(&http.Client{Transport: p.lb}, req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The steps of a gate sign-in that need the internal client of the
// protected origin: each must work on the instance that did not start it.
var gateSignInSteps = []string{"GET /authorize", "POST /interaction/…/login", "GET /.oidc/callback"}

func gateStep(request string) string {
	method, path, _ := strings.Cut(request, " ")
	if strings.HasPrefix(path, "/interaction/") && strings.HasSuffix(path, "/login") {
		path = "/interaction/…/login"
	}
	return method + " " + path
}

// Two Caddy instances on one PostgreSQL database each protect the same app
// with oidc_protect, behind a load balancer (issue 11: works the same on
// the Postgres backend with two instances): a browser signs in with every
// request of the flow on the other instance than the one before, once
// starting on each instance so that each step runs on both, and the
// upstream sees the identity; a user outside the group gets 403; RP-initiated
// logout on one instance, from the site's logout path or at the provider,
// ends the gate session on the other; a bearer token issued by one instance
// is accepted by the gate on the other, and refused there once revoked on
// the first.
func TestProtectOnTwoInstancesSharingPostgres(t *testing.T) {
	p := startProtectedPair(t)

	stepsOn := map[string]map[string]bool{}
	var demo *formflow.Browser
	for _, first := range instanceNames {
		b := p.browser()
		p.lb.alternateFrom(first)
		e := decodeEcho(t, signInThroughGate(t, b, p.issuer, p.app, "/dashboard", "demo"))
		seen := p.lb.take()
		wantAlternating(t, "sign-in starting on "+first, seen)
		if e.User != "demo-subject" || e.Email != "demo@example.com" || e.Groups != "staff" {
			t.Fatalf("identity at the upstream after a sign-in starting on %s: %+v", first, e)
		}
		for _, s := range seen {
			step := gateStep(s.request)
			if stepsOn[step] == nil {
				stepsOn[step] = map[string]bool{}
			}
			stepsOn[step][s.instance] = true
		}
		demo = b
	}
	for _, step := range gateSignInSteps {
		if !stepsOn[step]["A"] || !stepsOn[step]["B"] {
			t.Errorf("%s ran on %v during the sign-ins, want on both A and B", step, stepsOn[step])
		}
	}
	// The gate session is good on both instances.
	for _, in := range instanceNames {
		p.lb.pin(in)
		if e := decodeEcho(t, navigate(t, demo, p.app+"/dashboard")); e.User != "demo-subject" {
			t.Fatalf("the gate session on %s: %+v", in, e)
		}
	}

	t.Run("user outside the group", func(t *testing.T) {
		p.lb.alternateFrom("B")
		if r := signInThroughGate(t, p.browser(), p.issuer, p.app, "/dashboard", "outsider"); r.Status != http.StatusForbidden || strings.Contains(r.Body, "reached") {
			t.Fatalf("a user outside the group: %d %s", r.Status, r.Body)
		}
	})

	t.Run("logout at the provider on one instance", func(t *testing.T) {
		b := demo
		p.lb.pin("A")
		r := navigate(t, b, p.issuer+"/session/end")
		forms := formflow.Forms(r.Body)
		if r.Status != http.StatusOK || len(forms) == 0 {
			t.Fatalf("logout confirmation on A: %d %s", r.Status, r.Body)
		}
		v := forms[0].Hidden
		v.Set("decision", "logout")
		if r, err := b.PostForm(formflow.Resolve(r.URL, forms[0].Action), v); err != nil || r.Status != http.StatusOK {
			t.Fatalf("confirmed logout on A: %d %v %s", r.Status, err, r.Body)
		}
		p.lb.pin("B")
		if r := navigate(t, b, p.app+"/dashboard"); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location(), p.issuer+"/authorize?") {
			t.Fatalf("the gate on B after the logout on A: %d %q %s", r.Status, r.Location(), r.Body)
		}
	})

	t.Run("logout from the site's logout path", func(t *testing.T) {
		b := p.browser()
		p.lb.alternateFrom("A")
		if e := decodeEcho(t, signInThroughGate(t, b, p.issuer, p.app, "/dashboard", "demo")); e.User != "demo-subject" {
			t.Fatalf("sign-in: %+v", e)
		}
		// The logout path on B ends B's cookie and leads to the provider's
		// end session endpoint with the internal client's id; A confirms
		// and sends the browser back to the site.
		p.lb.pin("B")
		r := navigate(t, b, p.app+"/.oidc/logout")
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location(), p.issuer+"/session/end?") {
			t.Fatalf("the site's logout path on B: %d %q", r.Status, r.Location())
		}
		p.lb.pin("A")
		r = navigate(t, b, r.Location())
		forms := formflow.Forms(r.Body)
		if r.Status != http.StatusOK || len(forms) == 0 {
			t.Fatalf("logout confirmation on A for the gate's client: %d %s", r.Status, r.Body)
		}
		v := forms[0].Hidden
		v.Set("decision", "logout")
		r, err := b.PostForm(formflow.Resolve(r.URL, forms[0].Action), v)
		if err != nil || r.Status != http.StatusSeeOther || r.Location() != p.app+"/" {
			t.Fatalf("confirmed logout on A: %d %v %q, want a redirect to %s/", r.Status, err, r.Location(), p.app)
		}
		for _, in := range instanceNames {
			p.lb.pin(in)
			if r := navigate(t, b, p.app+"/dashboard"); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location(), p.issuer+"/authorize?") {
				t.Fatalf("the gate on %s after the logout: %d %q %s", in, r.Status, r.Location(), r.Body)
			}
		}
	})

	t.Run("bearer token of the other instance", func(t *testing.T) {
		c := &http.Client{Transport: p.lb, CheckRedirect: formflow.StopAtRedirects}
		for _, tc := range []struct{ issuedOn, usedOn string }{{"A", "B"}, {"B", "A"}} {
			p.lb.pin(tc.issuedOn)
			r := p.postAsAPICaller(t, "/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}})
			var body struct {
				AccessToken string `json:"access_token"`
			}
			_ = json.Unmarshal([]byte(r.Body), &body)
			tok := body.AccessToken
			if r.Status != http.StatusOK || tok == "" {
				t.Fatalf("token from %s: %d %s", tc.issuedOn, r.Status, r.Body)
			}
			call := func() formflow.Response {
				t.Helper()
				req := mustRequest(t, p.app+"/api/items")
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("X-Forwarded-User", "spoofed")
				r, err := formflow.Do(c, req)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			p.lb.pin(tc.usedOn)
			if e := decodeEcho(t, call()); e.User != "api-caller" {
				t.Fatalf("token from %s at the gate on %s: %+v", tc.issuedOn, tc.usedOn, e)
			}
			// Revoked where it was issued: refused on the other at once.
			p.lb.pin(tc.issuedOn)
			if r := p.postAsAPICaller(t, "/token/revocation", url.Values{"token": {tok}}); r.Status != http.StatusOK {
				t.Fatalf("revocation on %s: %d %s", tc.issuedOn, r.Status, r.Body)
			}
			p.lb.pin(tc.usedOn)
			if r := call(); r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Fatalf("token revoked on %s at the gate on %s: %d %q %s", tc.issuedOn, tc.usedOn, r.Status, r.Header.Get("WWW-Authenticate"), r.Body)
			}
		}
	})
}
