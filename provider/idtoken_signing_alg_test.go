package provider_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/oidcaddy/oidcaddy/internal/jose"
	"github.com/oidcaddy/oidcaddy/provider"
)

var (
	rsKeyOnce sync.Once
	rsKey     *jose.Key
)

// twoAlgKeys is a key set with an active RS256 key and an ES256 key, as
// `signing_key RS256` then `signing_key ES256` configure it.
func twoAlgKeys(tb testing.TB) *jose.KeySet {
	tb.Helper()
	var err error
	rsKeyOnce.Do(func() { rsKey, err = jose.GenerateKey("RS256") })
	if err != nil {
		tb.Fatal(err)
	}
	es, err := jose.GenerateKey("ES256")
	if err != nil {
		tb.Fatal(err)
	}
	ks, err := jose.NewKeySet(rsKey, es)
	if err != nil {
		tb.Fatal(err)
	}
	return ks
}

// withKeySet replaces the harness's signer.
func withKeySet(ks *jose.KeySet) func(*provider.Config) {
	return func(c *provider.Config) { c.Signer = ks }
}

// idTokenHeader returns the protected header of a compact JWS.
func idTokenHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	var hdr map[string]any
	if err := json.Unmarshal([]byte(decodeSegment(t, strings.Split(token, ".")[0])), &hdr); err != nil {
		t.Fatal(err)
	}
	return hdr
}

// kidOf returns the kid the JWKS publishes for alg.
func kidOf(t *testing.T, ks *jose.KeySet, alg string) string {
	t.Helper()
	var doc struct {
		Keys []struct{ Kid, Alg string } `json:"keys"`
	}
	if err := json.Unmarshal(ks.PublicJWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range doc.Keys {
		if k.Alg == alg {
			return k.Kid
		}
	}
	t.Fatalf("no %s key published", alg)
	return ""
}

// codeExchange logs alice in for a client and redeems the code.
func (h *harness) codeExchange(t *testing.T, clientID, secret, redirect, scope string) map[string]any {
	t.Helper()
	verifier, challenge := pkce("s")
	q := h.browser().login(h.authorizeURL(map[string]string{"client_id": clientID, "redirect_uri": redirect, "scope": scope,
		"code_challenge": challenge, "code_challenge_method": "S256"}), alicePassword)
	r := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {redirect}, "code_verifier": {verifier}}, clientID, secret)
	if r.status != 200 {
		t.Fatalf("code exchange for %s: %d %s", clientID, r.status, r.body)
	}
	return jsonBody(t, r)
}

// With RS256 and ES256 keys configured, discovery offers both, a client may
// register id_token_signed_response_alg ES256, and its ID tokens (from the
// code exchange and from refresh) are signed by the ES256 key, while a
// client that names no alg keeps getting RS256 (OIDC Registration §2).
func TestIDTokenSignedWithTheClientsAlg(t *testing.T) {
	t.Parallel()
	ks := twoAlgKeys(t)
	h := newHarness(t, openRegistration, withKeySet(ks))
	doc := jsonBody(t, h.browser().get(h.issuer+"/.well-known/openid-configuration"))
	var algs []string
	for _, a := range doc["id_token_signing_alg_values_supported"].([]any) {
		algs = append(algs, a.(string))
	}
	if !slices.Equal(algs, []string{"RS256", "ES256"}) {
		t.Errorf("id_token_signing_alg_values_supported = %v, want [RS256 ES256]", algs)
	}

	r := h.register(`{"redirect_uris":["https://app.example/cb"],"grant_types":["authorization_code","refresh_token"],"id_token_signed_response_alg":"ES256"}`, "")
	if r.status != 201 {
		t.Fatalf("register with id_token_signed_response_alg ES256: %d %s", r.status, r.body)
	}
	info := jsonBody(t, r)
	if info["id_token_signed_response_alg"] != "ES256" {
		t.Errorf("client information: id_token_signed_response_alg = %v", info["id_token_signed_response_alg"])
	}
	id, secret := info["client_id"].(string), info["client_secret"].(string)
	tok := h.codeExchange(t, id, secret, "https://app.example/cb", "openid offline_access")
	checkIDToken := func(what, idt, accessToken, alg string) {
		t.Helper()
		hdr := idTokenHeader(t, idt)
		if hdr["alg"] != alg || hdr["kid"] != kidOf(t, ks, alg) {
			t.Errorf("%s: header %v, want alg %s and the %s key's kid", what, hdr, alg, alg)
		}
		claims, err := ks.VerifyJWT(idt, "JWT")
		if err != nil {
			t.Fatalf("%s: does not verify with the published keys: %v", what, err)
		}
		sum := sha256.Sum256([]byte(accessToken)) // RS256 and ES256 both hash with SHA-256
		if want := base64.RawURLEncoding.EncodeToString(sum[:16]); claims["at_hash"] != want {
			t.Errorf("%s: at_hash %v, want %s", what, claims["at_hash"], want)
		}
	}
	checkIDToken("code exchange", tok["id_token"].(string), tok["access_token"].(string), "ES256")
	r = h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, id, secret)
	if r.status != 200 {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	ref := jsonBody(t, r)
	checkIDToken("refresh", ref["id_token"].(string), ref["access_token"].(string), "ES256")

	// A client that names no alg: the active key's, RS256.
	web := h.codeExchange(t, "web", webSecret, webRedirect, "openid")
	checkIDToken("default client", web["id_token"].(string), web["access_token"].(string), "RS256")

	// An explicit RS256 is fine too; an alg without a key is not.
	if r := h.register(`{"redirect_uris":["https://app.example/cb"],"id_token_signed_response_alg":"RS256"}`, ""); r.status != 201 {
		t.Errorf("register with RS256: %d %s", r.status, r.body)
	}
	for _, alg := range []string{"PS256", "none", "HS256", "EdDSA"} {
		r := h.register(`{"redirect_uris":["https://app.example/cb"],"id_token_signed_response_alg":"`+alg+`"}`, "")
		if body := jsonBody(t, r); r.status != 400 || body["error"] != "invalid_client_metadata" || !strings.Contains(body["error_description"].(string), "RS256, ES256") {
			t.Errorf("register with %s: %d %s, want 400 invalid_client_metadata naming RS256, ES256", alg, r.status, r.body)
		}
	}
}

// A configured client's alg applies the same way, and a configured client
// naming an alg that has no key is a configuration error.
func TestConfiguredClientIDTokenAlg(t *testing.T) {
	// In parallel: its cost is password hashing or key work, which can
	// overlap the tests that only wait.
	t.Parallel()
	ks := twoAlgKeys(t)
	withESClient := func(alg string) func(*provider.Config) {
		return func(c *provider.Config) {
			cs := testClients(t)
			es := &provider.Client{ID: "web-es", RedirectURIs: []string{webRedirect}, TokenEndpointAuthMethod: provider.AuthMethodClientSecretBasic,
				IDTokenSignedResponseAlg: alg}
			es.SetSecret(webSecret)
			cs["web-es"] = es
			c.Clients = cs
		}
	}
	h := newHarness(t, withKeySet(ks), withESClient("ES256"))
	tok := h.codeExchange(t, "web-es", webSecret, webRedirect, "openid")
	if hdr := idTokenHeader(t, tok["id_token"].(string)); hdr["alg"] != "ES256" || hdr["kid"] != kidOf(t, ks, "ES256") {
		t.Errorf("configured ES256 client: header %v", hdr)
	}
	cfg := provider.Config{}
	withESClient("PS256")(&cfg)
	withKeySet(ks)(&cfg)
	cfg.Issuer, cfg.Store, cfg.Accounts = h.issuer, h.store, testAccounts(t)
	if _, err := provider.New(cfg); err == nil || !strings.Contains(err.Error(), "web-es") || !strings.Contains(err.Error(), "PS256") {
		t.Errorf("New with a client whose ID token alg has no key: %v, want an error naming the client and the alg", err)
	}
}

// With ES256 listed first (the active key, which signs access tokens) and an
// RS256 key beside it, a client that names no alg still gets RS256: that is
// the registration default (OIDC Registration §2), and RPs that never
// register an alg verify only RS256.
func TestIDTokenDefaultsToRS256WhenAKeyHasIt(t *testing.T) {
	t.Parallel()
	var err error
	rsKeyOnce.Do(func() { rsKey, err = jose.GenerateKey("RS256") })
	if err != nil {
		t.Fatal(err)
	}
	es, err := jose.GenerateKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := jose.NewKeySet(es, rsKey)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, withKeySet(ks))
	tok := h.codeExchange(t, "web", webSecret, webRedirect, "openid")
	if hdr := idTokenHeader(t, tok["id_token"].(string)); hdr["alg"] != "RS256" || hdr["kid"] != kidOf(t, ks, "RS256") {
		t.Errorf("client naming no alg with ES256 active: header %v, want RS256 and the RS256 key's kid", hdr)
	}
}
