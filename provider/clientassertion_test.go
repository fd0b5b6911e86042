package provider_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/oidcaddy/oidcaddy/internal/jose"
	"github.com/oidcaddy/oidcaddy/provider"
)

const hmacSecret = "client-secret-jwt-key-0123456789abcdef"

// clientKey is a private_key_jwt client's key pair, made in the test with
// jwx, as a relying party would.
type clientKey struct {
	priv jwk.Key
	jwks []byte
}

func newClientKey(t testing.TB) *clientKey {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := jwk.Import(raw)
	priv.Set(jwk.KeyIDKey, "client-key-1")
	priv.Set(jwk.AlgorithmKey, jwa.ES256())
	pub, _ := priv.PublicKey()
	set := jwk.NewSet()
	set.AddKey(pub)
	doc, _ := json.Marshal(set)
	return &clientKey{priv: priv, jwks: doc}
}

type assertion struct {
	iss, sub, jti string
	aud           []string
	exp           time.Time
}

func (k *clientKey) sign(t testing.TB, a assertion) string {
	b := jwt.NewBuilder().Issuer(a.iss).Subject(a.sub).Audience(a.aud).Expiration(a.exp)
	if a.jti != "" {
		b = b.JwtID(a.jti)
	}
	tok, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), k.priv))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

func signHMAC(t testing.TB, a assertion, secret string) string {
	tok, _ := jwt.NewBuilder().Issuer(a.iss).Subject(a.sub).Audience(a.aud).Expiration(a.exp).JwtID(a.jti).Build()
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.HS256(), []byte(secret)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

func jwtClients(t testing.TB, key *clientKey, jwksURI string) func(*provider.Config) {
	return func(c *provider.Config) {
		cs := testClients(t)
		cs["pkjwt"] = &provider.Client{ID: "pkjwt", TokenEndpointAuthMethod: provider.AuthMethodPrivateKeyJWT, JWKS: key.jwks,
			GrantTypes: []string{provider.GrantTypeClientCredentials}, AllowedScopes: []string{"read"}}
		sj := &provider.Client{ID: "secretjwt", TokenEndpointAuthMethod: provider.AuthMethodClientSecretJWT,
			GrantTypes: []string{provider.GrantTypeClientCredentials}, AllowedScopes: []string{"read"}}
		sj.SetSecret(hmacSecret)
		cs["secretjwt"] = sj
		if jwksURI != "" {
			cs["pkjwt-uri"] = &provider.Client{ID: "pkjwt-uri", TokenEndpointAuthMethod: provider.AuthMethodPrivateKeyJWT, JWKSURI: jwksURI,
				GrantTypes: []string{provider.GrantTypeClientCredentials}}
		}
		c.Clients = cs
		c.Assertions = &jose.Assertions{}
	}
}

func (h *harness) assertionRequest(path, assertion string, extra url.Values) response {
	v := url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
	for k, vv := range extra {
		v[k] = vv
	}
	req, _ := http.NewRequest(http.MethodPost, h.issuer+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return h.browser().do(req)
}

func TestPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	key := newClientKey(t)
	h := newHarness(t, jwtClients(t, key, ""))
	cc := url.Values{"grant_type": {"client_credentials"}}
	good := func(jti string) assertion {
		return assertion{iss: "pkjwt", sub: "pkjwt", aud: []string{h.issuer + "/token"}, jti: jti, exp: h.clock.now().Add(5 * time.Minute)}
	}
	a := key.sign(t, good("jti-1"))
	if r := h.assertionRequest("/token", a, cc); r.status != 200 {
		t.Fatalf("private_key_jwt: %d %s", r.status, r.body)
	}
	if h.events.count(provider.EventReplayDetectionSaved) != 1 {
		t.Errorf("replay_detection.saved = %d", h.events.count(provider.EventReplayDetectionSaved))
	}
	// The same assertion again: a replay.
	if r := h.assertionRequest("/token", a, cc); r.status != 401 || !strings.Contains(r.body, "already been used") {
		t.Fatalf("replayed assertion: %d %s", r.status, r.body)
	}
	// The issuer as audience is accepted too (RFC 7523 §3).
	issAud := good("jti-2")
	issAud.aud = []string{h.issuer}
	if r := h.assertionRequest("/token", key.sign(t, issAud), cc); r.status != 200 {
		t.Fatalf("issuer audience: %d %s", r.status, r.body)
	}
	other := newClientKey(t)
	cases := []struct {
		name  string
		tok   func() string
		extra url.Values
		code  string
	}{
		{"signed by another key", func() string { return other.sign(t, good("x1")) }, nil, "invalid_client"},
		{"wrong audience", func() string { a := good("x2"); a.aud = []string{"https://other.example/token"}; return key.sign(t, a) }, nil, "invalid_client"},
		{"expired", func() string { a := good("x3"); a.exp = h.clock.now().Add(-time.Second); return key.sign(t, a) }, nil, "invalid_client"},
		{"exp too far ahead", func() string { a := good("x4"); a.exp = h.clock.now().Add(2 * time.Hour); return key.sign(t, a) }, nil, "invalid_client"},
		{"no jti", func() string { return key.sign(t, good("")) }, nil, "invalid_client"},
		{"iss differs from sub", func() string { a := good("x5"); a.iss = "web"; return key.sign(t, a) }, nil, "invalid_client"},
		{"unknown client", func() string { a := good("x6"); a.iss, a.sub = "nobody", "nobody"; return key.sign(t, a) }, nil, "invalid_client"},
		{"client_id mismatch", func() string { return key.sign(t, good("x7")) }, url.Values{"client_id": {"web"}}, "invalid_client"},
		{"wrong assertion type", func() string { return key.sign(t, good("x8")) }, url.Values{"client_assertion_type": {"urn:other"}}, "invalid_client"},
		{"assertion and secret", func() string { return key.sign(t, good("x9")) }, url.Values{"client_secret": {"x"}}, "invalid_request"},
		{"garbage", func() string { return "not.a.jwt" }, nil, "invalid_client"},
		{"HS256 with the public key (alg confusion)", func() string { return signHMAC(t, good("x10"), string(key.jwks)) }, nil, "invalid_client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			extra := url.Values{"grant_type": {"client_credentials"}}
			for k, v := range tc.extra {
				extra[k] = v
			}
			r := h.assertionRequest("/token", tc.tok(), extra)
			if body := jsonBody(t, r); body["error"] != tc.code || r.status == 200 {
				t.Fatalf("got %d %v, want %s", r.status, body, tc.code)
			}
		})
	}
	// A JWT client at the other endpoints: introspection, revocation, PAR.
	tok := jsonBody(t, h.assertionRequest("/token", key.sign(t, good("jti-3")), cc))["access_token"].(string)
	introAud := good("jti-4")
	introAud.aud = []string{h.issuer + "/token/introspection"}
	if r := h.assertionRequest("/token/introspection", key.sign(t, introAud), url.Values{"token": {tok}}); jsonBody(t, r)["active"] != true {
		t.Fatalf("introspection with private_key_jwt: %d %s", r.status, r.body)
	}
	if r := h.assertionRequest("/token/revocation", key.sign(t, good("jti-5")), url.Values{"token": {tok}}); r.status != 200 {
		t.Fatalf("revocation with private_key_jwt: %d %s", r.status, r.body)
	}
}

// A PAR authenticated by private_key_jwt, with the PAR endpoint as audience.
func TestPARWithPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	key := newClientKey(t)
	h := newHarness(t, jwtClients(t, key, ""), func(c *provider.Config) {
		cs := c.Clients.(provider.StaticClients)
		cs["pkjwt"].GrantTypes = []string{provider.GrantTypeAuthorizationCode}
		cs["pkjwt"].RedirectURIs = []string{webRedirect}
	})
	a := key.sign(t, assertion{iss: "pkjwt", sub: "pkjwt", aud: []string{h.issuer + "/par"}, jti: "par-1", exp: h.clock.now().Add(time.Minute)})
	_, challenge := pkce("k")
	r := h.assertionRequest("/par", a, url.Values{"redirect_uri": {webRedirect}, "response_type": {"code"}, "scope": {"openid"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}})
	if r.status != 201 || jsonBody(t, r)["request_uri"] == nil {
		t.Fatalf("PAR with private_key_jwt: %d %s", r.status, r.body)
	}
}

// Concurrent uses of one assertion: exactly one is accepted.
func TestAssertionReplayUnderConcurrency(t *testing.T) {
	t.Parallel()
	key := newClientKey(t)
	h := newBadgerHarness(t, jwtClients(t, key, ""))
	a := key.sign(t, assertion{iss: "pkjwt", sub: "pkjwt", aud: []string{h.issuer + "/token"}, jti: "contested", exp: h.clock.now().Add(time.Minute)})
	const n = 10
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			statuses[i] = h.assertionRequest("/token", a, url.Values{"grant_type": {"client_credentials"}}).status
		})
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		if s == 200 {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent uses of one assertion accepted: %v", ok, n, statuses)
	}
}

func TestClientSecretJWT(t *testing.T) {
	t.Parallel()
	h := newHarness(t, jwtClients(t, newClientKey(t), ""))
	a := assertion{iss: "secretjwt", sub: "secretjwt", aud: []string{h.issuer + "/token"}, jti: "s1", exp: h.clock.now().Add(time.Minute)}
	if r := h.assertionRequest("/token", signHMAC(t, a, hmacSecret), url.Values{"grant_type": {"client_credentials"}}); r.status != 200 {
		t.Fatalf("client_secret_jwt: %d %s", r.status, r.body)
	}
	a.jti = "s2"
	if r := h.assertionRequest("/token", signHMAC(t, a, "wrong-secret-wrong-secret-wrong-secret"), url.Values{"grant_type": {"client_credentials"}}); r.status != 401 {
		t.Fatalf("wrong HMAC key: %d", r.status)
	}
	// The secret itself may not be sent: the client registered for JWTs.
	if r := h.token(url.Values{"grant_type": {"client_credentials"}}, "secretjwt", hmacSecret); r.status != 401 {
		t.Fatalf("client_secret_jwt client using Basic: %d %s", r.status, r.body)
	}
}

func TestPrivateKeyJWTFromJWKSURI(t *testing.T) {
	t.Parallel()
	key := newClientKey(t)
	var fetches int
	var mu sync.Mutex
	jwksSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetches++
		mu.Unlock()
		w.Write(key.jwks)
	}))
	defer jwksSrv.Close()
	h := newHarness(t, jwtClients(t, key, jwksSrv.URL))
	for i := range 3 {
		a := key.sign(t, assertion{iss: "pkjwt-uri", sub: "pkjwt-uri", aud: []string{h.issuer + "/token"}, jti: "u" + itoa(i), exp: h.clock.now().Add(time.Minute)})
		if r := h.assertionRequest("/token", a, url.Values{"grant_type": {"client_credentials"}}); r.status != 200 {
			t.Fatalf("jwks_uri client: %d %s", r.status, r.body)
		}
	}
	if fetches != 1 {
		t.Errorf("jwks_uri fetched %d times for 3 requests, want 1 (cached)", fetches)
	}
}

// A client registered with its own keys authenticates with them; deleting
// it removes its replay records too.
func TestRegisteredPrivateKeyJWTClient(t *testing.T) {
	t.Parallel()
	key := newClientKey(t)
	h := newHarness(t, openRegistration, func(c *provider.Config) { c.Assertions = &jose.Assertions{} })
	r := h.register(`{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks":`+string(key.jwks)+`}`, "")
	if r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	info := jsonBody(t, r)
	id := info["client_id"].(string)
	if info["client_secret"] != nil {
		t.Errorf("a private_key_jwt client got a secret")
	}
	a := key.sign(t, assertion{iss: id, sub: id, aud: []string{h.issuer + "/token"}, jti: "r1", exp: h.clock.now().Add(time.Minute)})
	if r := h.assertionRequest("/token", a, url.Values{"grant_type": {"client_credentials"}}); r.status != 200 {
		t.Fatalf("registered private_key_jwt client: %d %s", r.status, r.body)
	}
	h.events.reset()
	if r := h.configure(http.MethodDelete, info["registration_client_uri"].(string), info["registration_access_token"].(string), ""); r.status != 204 {
		t.Fatalf("delete: %d", r.status)
	}
	if h.events.count(provider.EventReplayDetectionDestroyed) != 1 || h.events.count(provider.EventClientCredentialsDestroyed) != 1 {
		t.Errorf("delete events: %v", h.events.names())
	}
	// A registration with a private key in its jwks is refused.
	priv, _ := json.Marshal(map[string]any{"keys": []any{key.priv}})
	if r := h.register(`{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks":`+string(priv)+`}`, ""); r.status != 400 {
		t.Fatalf("jwks with a private key: %d %s", r.status, r.body)
	}
}

// A registered client cannot make the provider fetch from a private address
// (SSRF): its jwks_uri on loopback is refused at registration (and the
// dialer refuses names resolving to private addresses: outbound tests).
func TestRegisteredClientJWKSURIMustBePublic(t *testing.T) {
	t.Parallel()
	key := newClientKey(t)
	jwksSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(key.jwks) }))
	defer jwksSrv.Close()
	h := newHarness(t, openRegistration, func(c *provider.Config) { c.Assertions = &jose.Assertions{} })
	r := h.register(`{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"`+jwksSrv.URL+`/jwks"}`, "")
	if r.status != 400 || jsonBody(t, r)["error"] != "invalid_client_metadata" {
		t.Fatalf("register with a loopback jwks_uri: %d %s, want 400 invalid_client_metadata", r.status, r.body)
	}
}
