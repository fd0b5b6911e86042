package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/oidcaddy/oidcaddy/internal/pgtest"
)

// instanceHeader names the instance that answered: each instance behind the
// front adds it with Caddy's header directive, and the front passes it on.
const instanceHeader = "X-Instance"

// frontCaddyfile is a plain Caddy in front of the instances, as an operator
// would run it: round robin, a request that cannot reach an instance tried
// on the next one (lb_try_duration; Caddy retries a request on another
// instance only when the connection failed, or for a GET), an instance that
// failed a request left out for fail_duration, and its health checked.
const frontCaddyfile = `{
	admin 127.0.0.1:%d
	persist_config off
}

http://127.0.0.1:%d {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:%d 127.0.0.1:%d {
		lb_policy round_robin
		lb_try_duration 5s
		lb_try_interval 50ms
		fail_duration 30s
		max_fails 1
		health_uri /.well-known/openid-configuration
		health_interval 500ms
		# Generous: a slow answer on a busy test machine must not take an
		# instance out and spoil the alternation the tests check.
		health_timeout 5s
		health_fails 2
	}
}
`

// balancedPair is two instances of the provider on one PostgreSQL database,
// both serving the issuer at the front's address, behind a front Caddy
// doing round robin.
type balancedPair struct {
	issuer string // the front's address
	a, b   *caddyServer
	// onA and onB are the instances' own addresses, for requests that must
	// land on one of them.
	onA, onB keysInstance
	front    *caddyServer
}

// startBalancedPair starts A and B with providerBlock in their oidc_provider
// blocks (with key_encryption_secret, so they share keys) and the front.
func startBalancedPair(t *testing.T, providerBlock string) *balancedPair {
	t.Helper()
	dsn := pgtest.Database(t)
	front := newSiteConfig(t)
	p := &balancedPair{issuer: front.Issuer()}
	env := []string{"OIDC_DATABASE_URL=" + dsn, sharedKeysEnv(e2eKeyEncryptionSecret)}
	for _, in := range []struct {
		name string
		srv  **caddyServer
		at   *keysInstance
	}{{"A", &p.a, &p.onA}, {"B", &p.b, &p.onB}} {
		cfg := newSiteConfig(t)
		for cfg.SitePort == front.SitePort || cfg.SitePort == front.AdminPort || cfg.AdminPort == front.SitePort || cfg.AdminPort == front.AdminPort {
			cfg = newSiteConfig(t)
		}
		cfg.StorageDir = postgresStorage
		cfg.ExtraClients = "\t\tkey_encryption_secret {env.OIDC_KEY_ENCRYPTION_SECRET}\n" + providerBlock
		file := strings.Replace(string(cfg.caddyfile(t)), "issuer "+cfg.Issuer(), "issuer "+p.issuer, 1)
		file = string(withSiteDirectives(t, []byte(file), "", "\theader "+instanceHeader+" "+in.name+"\n"))
		*in.srv = startCaddyWith(t, cfg, []byte(file), env...)
		*in.at = on(p.issuer, cfg.Issuer())
	}
	p.front = startCaddyWith(t, front, fmt.Appendf(nil, frontCaddyfile, front.AdminPort, front.SitePort, p.a.cfg.SitePort, p.b.cfg.SitePort))
	return p
}

// instanceRecorder is an http.RoundTripper that notes which instance
// answered each request, in order.
type instanceRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []answeredBy
}

type answeredBy struct{ request, instance string }

func newInstanceRecorder() *instanceRecorder {
	return &instanceRecorder{next: &http.Transport{}}
}

func (r *instanceRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.seen = append(r.seen, answeredBy{req.Method + " " + req.URL.Path, resp.Header.Get(instanceHeader)})
	}
	return resp, err
}

// take returns what was recorded since the last take.
func (r *instanceRecorder) take() []answeredBy {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := r.seen
	r.seen = nil
	return seen
}

// wantAlternating checks that the requests of one flow went to A and B in
// turn: round robin, and the flow does not depend on landing where it began.
func wantAlternating(t *testing.T, what string, seen []answeredBy) {
	t.Helper()
	var trail []string
	for _, s := range seen {
		trail = append(trail, s.request+" → "+s.instance)
	}
	t.Logf("%s, request by request:\n\t%s", what, strings.Join(trail, "\n\t"))
	if len(seen) < 4 {
		t.Fatalf("%s: only %d requests recorded", what, len(seen))
	}
	for i, s := range seen {
		if s.instance != "A" && s.instance != "B" {
			t.Fatalf("%s: request %d (%s) has %s %q, want A or B", what, i, s.request, instanceHeader, s.instance)
		}
		if i > 0 && s.instance == seen[i-1].instance {
			t.Errorf("%s: requests %d and %d (%s, %s) both went to %s: not alternating", what, i-1, i, seen[i-1].request, s.request, s.instance)
		}
	}
}

// balancedPairBlock is the provider configuration of
// TestLoadBalancedInstancesServeOneIssuer.
const balancedPairBlock = offlineAppClient + `
		registration {
			policy open
		}
		login_throttle {
			free_attempts 4
			window 15m
			base_delay 1m
			max_delay 15m
		}`

// Two instances on one PostgreSQL database behind a third Caddy doing round
// robin serve one issuer (issue 10's acceptance): go-oidc and x/oauth2 log in
// through the front with every request of the flow on the other instance
// than the one before; then, each step on one instance and its check on the
// other: refresh, introspection and revocation; a client registered on A
// works on B and, deleted on B, is refused on A at once; a client assertion
// used on one instance is a replay on the other; and failed logins split over
// both lock the account on both.
func TestLoadBalancedInstancesServeOneIssuer(t *testing.T) {
	p := startBalancedPair(t, balancedPairBlock)
	rec := newInstanceRecorder()
	ctx, cancel := context.WithTimeout(oidc.ClientContext(context.Background(), &http.Client{Transport: rec, Timeout: 15 * time.Second}), time.Minute)
	defer cancel()

	// The login, through the front.
	rp := newRelyingParty(ctx, t, p.issuer, offlineApp)
	rp.conf.Scopes = append(rp.conf.Scopes, "offline_access")
	b := newBrowser(t)
	b.client.Transport = rec
	rec.take()
	tok := rp.signIn(ctx, b, demoUser)
	rawID, _ := tok.Extra("id_token").(string)
	idToken, err := rp.verifier.Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("go-oidc rejects the ID token: %v", err)
	}
	if idToken.Subject != "demo-subject" {
		t.Errorf("ID token sub = %q", idToken.Subject)
	}
	info, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || info.Subject != "demo-subject" {
		t.Fatalf("userinfo through the front: %v %+v", err, info)
	}
	wantAlternating(t, "login, code exchange, ID token check and userinfo through the front", rec.take())

	// Refresh through the front, then on each instance directly.
	refreshed, err := rp.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
	if err != nil || refreshed.RefreshToken == "" || refreshed.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh through the front: %v", err)
	}
	mA, mB := p.onA.endpoints(ctx, t), p.onB.endpoints(ctx, t)
	owner := clientCreds{ID: offlineApp.ID, Secret: offlineApp.Secret}
	refreshOn := func(m providerMetadata, refreshToken string) apiResponse {
		return postForm(t, m.TokenEndpoint, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}, owner)
	}
	r := refreshOn(mA, refreshed.RefreshToken)
	if r.Status != http.StatusOK {
		t.Fatalf("refresh on A of a token issued through the front: %d %s", r.Status, r.Body)
	}
	onA := r.JSON(t)
	accessA, _ := onA["access_token"].(string)
	refreshA, _ := onA["refresh_token"].(string)
	wantActive(t, "access token refreshed on A, introspected on B", introspect(t, mB, demoApp, accessA), true, offlineApp.ID)
	wantActive(t, "refresh token rotated on A, introspected on B", introspect(t, mB, owner, refreshed.RefreshToken), false, "")
	wantActive(t, "refresh token issued on A, introspected on B", introspect(t, mB, owner, refreshA), true, offlineApp.ID)

	// Revocation on one instance is seen on the other at once.
	revoke(t, mB, owner, accessA)
	wantActive(t, "access token revoked on B, introspected on A", introspect(t, mA, demoApp, accessA), false, "")
	revoke(t, mA, owner, refreshA)
	if r := refreshOn(mB, refreshA); r.Status != http.StatusBadRequest || r.errorCode() != "invalid_grant" {
		t.Errorf("refresh on B with a refresh token revoked on A: %d %s, want 400 invalid_grant", r.Status, r.Body)
	}

	// A client registered on A works on B; deleted on B, it is refused on A
	// at once.
	dyn := registered(t, register(t, mA, "", map[string]any{
		"client_name":                "Registered on A",
		"grant_types":                []string{"client_credentials"},
		"response_types":             []string{},
		"token_endpoint_auth_method": "client_secret_basic",
	}))
	dynCreds := clientCreds{ID: dyn.ClientID, Secret: dyn.ClientSecret}
	if r := postForm(t, mB.TokenEndpoint, url.Values{"grant_type": {"client_credentials"}}, dynCreds); r.Status != http.StatusOK {
		t.Fatalf("client registered on A, token on B: %d %s", r.Status, r.Body)
	}
	atB := strings.Replace(dyn.RegistrationClientURI, p.issuer, p.onB.base, 1)
	if r := sendJSON(t, http.MethodDelete, atB, dyn.RegistrationAccessToken, nil); r.Status != http.StatusNoContent {
		t.Fatalf("deleting on B the client registered on A: %d %s", r.Status, r.Body)
	}
	if r := postForm(t, mA.TokenEndpoint, url.Values{"grant_type": {"client_credentials"}}, dynCreds); r.Status != http.StatusUnauthorized || r.errorCode() != "invalid_client" {
		t.Errorf("client deleted on B, token on A: %d %s, want 401 invalid_client", r.Status, r.Body)
	}

	// A private_key_jwt assertion used on one instance is a replay on the
	// other (the jti markers are shared), both ways.
	key := newClientKey(t, "balanced-key")
	var jwks any
	if err := json.Unmarshal(key.jwks, &jwks); err != nil {
		t.Fatal(err)
	}
	keyClient := registered(t, register(t, mB, "", map[string]any{
		"client_name":                "Key client",
		"grant_types":                []string{"client_credentials"},
		"response_types":             []string{},
		"token_endpoint_auth_method": "private_key_jwt",
		"jwks":                       jwks,
	}))
	// The audience is the issuer's token endpoint, wherever the assertion
	// lands.
	audience := discover(ctx, t, p.issuer).TokenEndpoint
	for _, way := range []struct {
		name          string
		first, replay providerMetadata
	}{{"used on A, replayed on B", mA, mB}, {"used on B, replayed on A", mB, mA}} {
		assertion := key.assertion(t, keyClient.ClientID, audience)
		if r := postForm(t, way.first.TokenEndpoint, assertionGrant(assertion), clientCreds{}); r.Status != http.StatusOK {
			t.Fatalf("assertion %s: first use: %d %s", way.name, r.Status, r.Body)
		}
		if r := postForm(t, way.replay.TokenEndpoint, assertionGrant(assertion), clientCreds{}); r.Status != http.StatusUnauthorized || r.errorCode() != "invalid_client" {
			t.Errorf("assertion %s: the replay got %d %s, want 401 invalid_client", way.name, r.Status, r.Body)
		}
	}

	// Failed logins on A count on B: with free_attempts 4, two wrong
	// passwords on each instance lock the account on both, so that even the
	// right password is refused.
	login := openLoginForm(ctx, t, p.issuer, rp)
	for i, in := range []keysInstance{p.onA, p.onB, p.onA, p.onB} {
		if r := login.post(t, in, "wrong-password"); r.Status != http.StatusSeeOther {
			t.Fatalf("wrong password %d, on %s: %d %s, want 303 back to the login page", i+1, in.base, r.Status, r.Body)
		}
	}
	for _, in := range []keysInstance{p.onA, p.onB} {
		if r := login.post(t, in, demoUser.Password); r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Errorf("right password on %s after 2+2 failures split over A and B: %d Retry-After %q, want 429 (locked)", in.base, r.Status, r.Header.Get("Retry-After"))
		}
	}
}

// loginForm is a login page's form, to be posted to a chosen instance.
type loginForm struct {
	action *url.URL
	values url.Values
	client *http.Client // the browser's cookies, no redirects followed
}

// openLoginForm starts an authorization request for rp in a fresh browser
// and returns the login form it leads to.
func openLoginForm(ctx context.Context, t *testing.T, issuer string, rp *relyingParty) loginForm {
	t.Helper()
	b := newBrowser(t)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rp.newAuthRequest().URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	forms, err := parseForms(resp.Request.URL, body)
	if err != nil {
		t.Fatal(err)
	}
	f := pickForm(forms)
	if f == nil || !strings.HasSuffix(f.Action.Path, "/login") {
		t.Fatalf("%s shows no login form (%s):\n%s", resp.Request.URL, resp.Status, body)
	}
	return loginForm{action: f.Action, values: f.Values, client: &http.Client{
		Jar: b.client.Jar, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// post submits the form with demoUser's login and password to instance in.
func (f loginForm) post(t *testing.T, in keysInstance, password string) apiResponse {
	t.Helper()
	target, err := url.Parse(strings.Replace(f.action.String(), in.issuer, in.base, 1))
	if err != nil || !strings.HasPrefix(target.String(), in.base) {
		t.Fatalf("login form action %s is not below the issuer %s", f.action, in.issuer)
	}
	values := cloneValues(f.values)
	values.Set("login", demoUser.Login)
	values.Set("password", password)
	req, err := http.NewRequest(http.MethodPost, target.String(), strings.NewReader(values.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// The session cookies were set at the issuer's address; the instance
	// shares its host, so the jar sends them (cookies ignore the port).
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return apiResponse{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// instancesSeen counts the answers by instance.
func instancesSeen(seen []answeredBy) map[string]int {
	n := map[string]int{}
	for _, s := range seen {
		n[s.instance]++
	}
	return n
}
