package provider_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/oidcaddy/oidcaddy/internal/formflow"
	"github.com/oidcaddy/oidcaddy/internal/jose"
	"github.com/oidcaddy/oidcaddy/internal/pgtest"
	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/store/badgerstore"
	"github.com/oidcaddy/oidcaddy/store/memstore"
	"github.com/oidcaddy/oidcaddy/store/postgres"
)

// Test fixtures. The secrets are distinctive so leak checks can search for them.
const (
	webSecret     = "web-client-secret-7f3a9c"
	postSecret    = "post-client-secret-2b8d1e"
	apiSecret     = "api-client-secret-5c4b3a"
	apiResource   = "https://api.example/"
	alicePassword = "wonderland-password-91"
	webRedirect   = "https://rp.example/callback"
	spaRedirect   = "http://127.0.0.1:5557/callback"
)

// recorder is an EventSink that keeps every event for assertions.
type recorder struct {
	mu     sync.Mutex
	events []provider.Event
}

func (r *recorder) Emit(_ context.Context, e provider.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	seenEvents.Store(e.Name, true)
}

// seenEvents collects every event any test made the provider emit, so
// TestMain can check the whole catalogue is reachable.
var seenEvents sync.Map

func (r *recorder) count(name provider.EventName) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Name == name {
			n++
		}
	}
	return n
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.events = nil
	r.mu.Unlock()
}

func (r *recorder) names() []provider.EventName {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]provider.EventName, len(r.events))
	for i, e := range r.events {
		out[i] = e.Name
	}
	return out
}

// clock is a settable clock so lifetimes can be tested without sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type harness struct {
	t      testing.TB
	p      *provider.Provider
	srv    *httptest.Server
	events *recorder
	store  provider.Store
	clock  *clock
	keys   *jose.KeySet
	issuer string
}

var (
	aliceHashOnce sync.Once
	aliceHash     string
	aliceHashErr  error
)

// hashPassword is alice's password hash, made once: at bcrypt's lowest cost,
// since these tests are about the protocol, not the cost of hashing
// (password_hash_test.go and the benchmarks cover that).
func hashPassword(tb testing.TB) string {
	tb.Helper()
	aliceHashOnce.Do(func() {
		var h []byte
		h, aliceHashErr = bcrypt.GenerateFromPassword([]byte(alicePassword), bcrypt.MinCost)
		aliceHash = string(h)
	})
	if aliceHashErr != nil {
		tb.Fatal(aliceHashErr)
	}
	return aliceHash
}

var (
	accountsOnce sync.Once
	accounts     *provider.StaticAccounts
	accountsErr  error
)

// testAccounts is the user store every harness shares. StaticAccounts is
// immutable once made, and making it hashes a dummy password for unknown
// logins (provider.NewStaticAccounts), which per harness was a good part of
// the package's test time.
func testAccounts(tb testing.TB) *provider.StaticAccounts {
	tb.Helper()
	hash := hashPassword(tb)
	accountsOnce.Do(func() {
		accounts, accountsErr = provider.NewStaticAccounts(provider.User{Login: "alice", Subject: "alice-sub", PasswordHash: hash,
			Claims: map[string]any{"name": "Alice Liddell", "email": "alice@example.com", "email_verified": true, "phone_number": "+1 555"}})
	})
	if accountsErr != nil {
		tb.Fatal(accountsErr)
	}
	return accounts
}

func testClients(tb testing.TB) provider.StaticClients {
	web := &provider.Client{ID: "web", Name: "Web App", RedirectURIs: []string{webRedirect, "https://rp.example/cb?tenant=1"}, PostLogoutRedirectURIs: []string{"https://rp.example/bye"},
		TokenEndpointAuthMethod: provider.AuthMethodClientSecretBasic, GrantTypes: []string{provider.GrantTypeAuthorizationCode, provider.GrantTypeRefreshToken}}
	web.SetSecret(webSecret)
	post := &provider.Client{ID: "post", RedirectURIs: []string{webRedirect}, TokenEndpointAuthMethod: provider.AuthMethodClientSecretPost}
	post.SetSecret(postSecret)
	spa := &provider.Client{ID: "spa", RedirectURIs: []string{spaRedirect}, TokenEndpointAuthMethod: provider.AuthMethodNone}
	trusted := &provider.Client{ID: "trusted", RedirectURIs: []string{webRedirect}, TokenEndpointAuthMethod: provider.AuthMethodNone, SkipConsent: true}
	nocode := &provider.Client{ID: "machine", TokenEndpointAuthMethod: provider.AuthMethodClientSecretBasic, GrantTypes: []string{provider.GrantTypeClientCredentials}}
	nocode.SetSecret(webSecret)
	api := &provider.Client{ID: "api", TokenEndpointAuthMethod: provider.AuthMethodClientSecretBasic, GrantTypes: []string{provider.GrantTypeClientCredentials},
		AllowedScopes: []string{"read", "write"}, IntrospectAnyToken: true}
	api.SetSecret(apiSecret)
	apiJWT := &provider.Client{ID: "api-jwt", TokenEndpointAuthMethod: provider.AuthMethodClientSecretBasic, GrantTypes: []string{provider.GrantTypeClientCredentials},
		AllowedScopes: []string{"read"}, AccessTokenFormat: provider.TokenFormatJWT}
	apiJWT.SetSecret(apiSecret)
	webJWT := &provider.Client{ID: "web-jwt", RedirectURIs: []string{webRedirect}, TokenEndpointAuthMethod: provider.AuthMethodClientSecretBasic,
		GrantTypes: []string{provider.GrantTypeAuthorizationCode, provider.GrantTypeRefreshToken}, AccessTokenFormat: provider.TokenFormatJWT, AlwaysIssueRefreshToken: true}
	webJWT.SetSecret(webSecret)
	cs, err := provider.NewStaticClients(web, post, spa, trusted, nocode, api, apiJWT, webJWT)
	if err != nil {
		tb.Fatal(err)
	}
	return cs
}

var (
	keyOnce sync.Once
	testKey *jose.Key
)

// newHarness returns a provider on an in-memory store (store/memstore), which
// keeps unit tests fast. Benchmarks get a production backend instead, so their
// numbers are read against production (docs/performance.md): real Badger on
// disk, or with OIDC_BENCH_STORE=postgres a fresh database on the package's
// throwaway PostgreSQL cluster (internal/pgtest; skipped, with the reason,
// when PostgreSQL is not installed).
func newHarness(tb testing.TB, mods ...func(*provider.Config)) *harness {
	tb.Helper()
	if _, ok := tb.(*testing.B); ok {
		return newHarnessOn(tb, benchStore(tb), mods...)
	}
	return newHarnessOn(tb, memstore.New(), mods...)
}

// benchStore is the backend benchmarks run on: OIDC_BENCH_STORE names it,
// badger (the default) or postgres.
func benchStore(tb testing.TB) provider.Store {
	tb.Helper()
	switch backend := os.Getenv("OIDC_BENCH_STORE"); backend {
	case "", "badger":
		return badgerStore(tb)
	case "postgres":
		return postgresStore(tb)
	default:
		tb.Fatalf("OIDC_BENCH_STORE=%q: want badger or postgres", backend)
		return nil
	}
}

// postgresStore opens the production PostgreSQL store on a new database of
// the package's throwaway cluster, with the pool size the Caddyfile example
// suggests.
func postgresStore(tb testing.TB) provider.Store {
	tb.Helper()
	st, err := postgres.Open(context.Background(), postgres.Options{DSN: pgtest.Database(tb), MaxConns: 20})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// newBadgerHarness is newHarness on real Badger on disk, for tests about
// real-storage behaviour: races between concurrent requests (the issues ask
// for these against Badger, whose optimistic transactions and stripe locks
// are what the provider must cope with), and anything that depends on how
// the production backend behaves.
func newBadgerHarness(tb testing.TB, mods ...func(*provider.Config)) *harness {
	tb.Helper()
	return newHarnessOn(tb, badgerStore(tb), mods...)
}

func badgerStore(tb testing.TB) provider.Store {
	tb.Helper()
	st, err := badgerstore.Open(badgerstore.Options{Dir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

func newHarnessOn(tb testing.TB, st provider.Store, mods ...func(*provider.Config)) *harness {
	tb.Helper()
	var err error
	keyOnce.Do(func() { testKey, err = jose.GenerateKey("ES256") })
	if err != nil {
		tb.Fatal(err)
	}
	keys, err := jose.NewKeySet(testKey)
	if err != nil {
		tb.Fatal(err)
	}
	h := &harness{t: tb, events: &recorder{}, store: st, clock: &clock{t: time.Unix(1_900_000_000, 0)}, keys: keys}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.p.ServeHTTP(w, r) }))
	tb.Cleanup(h.srv.Close)
	h.issuer = h.srv.URL
	cfg := provider.Config{Issuer: h.issuer, Store: st, Clients: testClients(tb), Accounts: testAccounts(tb), Signer: keys, Events: h.events, Clock: h.clock.now,
		Resources: []provider.Resource{{Identifier: apiResource, Scopes: []string{"read"}, AccessTokenFormat: provider.TokenFormatJWT}}}
	for _, m := range mods {
		m(&cfg)
	}
	if h.p, err = provider.New(cfg); err != nil {
		tb.Fatal(err)
	}
	return h
}

// browser is a user agent with a cookie jar that does not follow redirects,
// so each step of the flow can be asserted (internal/formflow).
type browser struct {
	h *harness
	c *http.Client
}

func (h *harness) browser() *browser {
	return &browser{h: h, c: formflow.New(nil).Client}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(req *http.Request) response {
	b.h.t.Helper()
	r, err := formflow.Do(b.c, req)
	if err != nil {
		b.h.t.Fatal(err)
	}
	return response{r.Status, r.Header, r.Body}
}

func (b *browser) get(u string) response {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) postForm(u string, v url.Values) response {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (h *harness) abs(location string) string {
	if strings.HasPrefix(location, "/") {
		return h.issuer + location
	}
	return location
}

// page reads the first form of an interaction page.
func page(tb testing.TB, r response) (action, csrf string) {
	tb.Helper()
	f, err := formflow.FirstForm(r.body)
	if err != nil {
		tb.Fatalf("%v (status %d): %s", err, r.status, r.body)
	}
	return f.Action, f.CSRFToken()
}

// pkce returns a verifier and its S256 challenge.
func pkce(seed string) (verifier, challenge string) {
	verifier = strings.Repeat("v", 43-len(seed)) + seed
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorizeURL builds an authorization request with sensible defaults that
// each case overrides.
func (h *harness) authorizeURL(over map[string]string) string {
	v := url.Values{"client_id": {"web"}, "redirect_uri": {webRedirect}, "response_type": {"code"},
		"scope": {"openid email"}, "state": {"st-123"}, "nonce": {"n-456"}}
	for k, val := range over {
		if val == "" {
			v.Del(k)
		} else {
			v.Set(k, val)
		}
	}
	return h.issuer + "/authorize?" + v.Encode()
}

// redirectParams parses an authorization response at the client.
func redirectParams(tb testing.TB, r response, redirect string) url.Values {
	tb.Helper()
	if r.status != http.StatusSeeOther && r.status != http.StatusFound {
		tb.Fatalf("want a redirect to the client, got %d: %s", r.status, r.body)
	}
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, redirect) {
		tb.Fatalf("redirect to %q, want %q", loc, redirect)
	}
	u, err := url.Parse(loc)
	if err != nil {
		tb.Fatal(err)
	}
	return u.Query()
}

// login runs the authorization request through login (and consent when the
// page asks for it) and returns the authorization response parameters.
func (b *browser) login(authURL, password string) url.Values {
	tb := b.h.t
	tb.Helper()
	r, err := (&formflow.Browser{Client: b.c}).Authorize(authURL, b.h.issuer+"/interaction/", 4, func(_ formflow.Response, form formflow.Form) (url.Values, error) {
		switch {
		case strings.HasSuffix(form.Action, "/login"):
			return url.Values{"login": {"alice"}, "password": {password}}, nil
		case strings.HasSuffix(form.Action, "/consent"):
			return url.Values{"decision": {"allow"}}, nil
		}
		return nil, fmt.Errorf("unexpected form action %q", form.Action)
	})
	if err != nil {
		tb.Fatal(err)
	}
	u, err := url.Parse(r.Header.Get("Location"))
	if err != nil || r.Status != http.StatusSeeOther {
		tb.Fatalf("flow did not end in a redirect: %d %s", r.Status, r.Body)
	}
	return u.Query()
}

// token posts to the token endpoint with optional Basic credentials.
func (h *harness) token(v url.Values, basicID, basicSecret string) response {
	req, _ := http.NewRequest(http.MethodPost, h.issuer+"/token", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	return h.browser().do(req)
}

func jsonBody(tb testing.TB, r response) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		tb.Fatalf("body is not JSON (status %d): %q", r.status, r.body)
	}
	return m
}

// codeFor logs alice in for the web client with PKCE and returns code and verifier.
func (h *harness) codeFor(b *browser, over map[string]string) (code, verifier string) {
	h.t.Helper()
	verifier, challenge := pkce("a")
	m := map[string]string{"code_challenge": challenge, "code_challenge_method": "S256"}
	for k, v := range over {
		m[k] = v
	}
	q := b.login(h.authorizeURL(m), alicePassword)
	if q.Get("code") == "" {
		h.t.Fatalf("no code in authorization response: %v", q)
	}
	return q.Get("code"), verifier
}

func decodeSegment(t *testing.T, seg string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// withParam copies v with k set to val, or removed when val is empty.
func withParam(v url.Values, k, val string) url.Values {
	c := url.Values{}
	for kk, vv := range v {
		c[kk] = vv
	}
	if val == "" {
		c.Del(k)
	} else {
		c.Set(k, val)
	}
	return c
}
