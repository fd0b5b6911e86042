package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

const jwtBearerAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// clientKey is a private_key_jwt client's key pair, made with jwx the way a
// client application would.
type clientKey struct {
	private jwk.Key
	// jwks is the public JWK Set document the client registers.
	jwks json.RawMessage
}

func newClientKey(t *testing.T, kid string) clientKey {
	t.Helper()
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: jwa.ES256(), jwk.KeyUsageKey: "sig"} {
		if err := priv.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	pub, err := priv.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		t.Fatal(err)
	}
	doc, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return clientKey{private: priv, jwks: doc}
}

// assertion signs a client assertion (RFC 7523 §3): iss = sub = the client,
// aud = the token endpoint, a fresh jti, a short exp.
func (k clientKey) assertion(t *testing.T, clientID, audience string) string {
	t.Helper()
	now := time.Now()
	tok, err := jwt.NewBuilder().Issuer(clientID).Subject(clientID).Audience([]string{audience}).
		JwtID(randomString(t)).IssuedAt(now).Expiration(now.Add(time.Minute)).Build()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), k.private))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// assertionGrant is a client_credentials request authenticated by assertion.
func assertionGrant(assertion string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {jwtBearerAssertionType}, "client_assertion": {assertion}}
}

// TestPrivateKeyJWT authenticates two private_key_jwt clients, one
// configured with a jwks_file and one registered with its jwks, by
// assertions signed with keys made in the test: x/oauth2 gets a
// client_credentials token with a signed assertion, the same assertion
// replayed is refused (jti replay detection), and an assertion signed by a
// key the client never registered is refused.
func TestPrivateKeyJWT(t *testing.T) {
	staticKey := newClientKey(t, "static-key-1")
	jwksFile := filepath.Join(t.TempDir(), "pkjwt-static.jwks.json")
	if err := os.WriteFile(jwksFile, staticKey.jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := newSiteConfig(t)
	cfg.ExtraClients = `
		client pkjwt-static {
			auth_method private_key_jwt
			jwks_file ` + jwksFile + `
			grant_types client_credentials
			allowed_scopes read
		}
		registration {
			policy open
			allowed_scopes read
		}`
	srv := startCaddy(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := discover(ctx, t, srv.cfg.Issuer())
	wantListed(t, m.TokenEndpointAuthMethodsSupported, "token_endpoint_auth_methods_supported", "private_key_jwt")
	wantListed(t, m.IntrospectionEndpointAuthMethodsSupported, "introspection_endpoint_auth_methods_supported", "private_key_jwt")
	before := srv.metrics()

	dynKey := newClientKey(t, "dyn-key-1")
	var jwks any
	if err := json.Unmarshal(dynKey.jwks, &jwks); err != nil {
		t.Fatal(err)
	}
	dyn := registered(t, register(t, m, "", map[string]any{
		"client_name":                "Registered Key Client",
		"grant_types":                []string{"client_credentials"},
		"token_endpoint_auth_method": "private_key_jwt",
		"jwks":                       jwks,
		"scope":                      "read",
	}))
	if dyn.ClientSecret != "" {
		t.Errorf("a private_key_jwt client was issued a secret")
	}

	for _, c := range []struct {
		name, clientID string
		key            clientKey
	}{
		{"jwks_file", "pkjwt-static", staticKey},
		{"registered jwks", dyn.ClientID, dynKey},
	} {
		t.Run(c.name, func(t *testing.T) {
			assertion := c.key.assertion(t, c.clientID, m.TokenEndpoint)
			cc := clientcredentials.Config{ClientID: c.clientID, TokenURL: m.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams,
				EndpointParams: url.Values{"client_assertion_type": {jwtBearerAssertionType}, "client_assertion": {assertion}}}
			tok, err := cc.Token(ctx)
			if err != nil {
				t.Fatalf("client_credentials with a private_key_jwt assertion: %v", err)
			}
			if tok.Extra("scope") != "read" {
				t.Errorf("scope = %v, want read", tok.Extra("scope"))
			}
			wantActive(t, "token of a private_key_jwt client", introspect(t, m, demoApp, tok.AccessToken), true, c.clientID)

			// The same assertion again: a replay.
			if r := postForm(t, m.TokenEndpoint, assertionGrant(assertion), clientCreds{}); r.Status != http.StatusUnauthorized || r.errorCode() != "invalid_client" {
				t.Errorf("replayed assertion: %d %s, want 401 invalid_client", r.Status, r.Body)
			}
			// A key the client never registered.
			stranger := newClientKey(t, c.key.kid(t))
			if r := postForm(t, m.TokenEndpoint, assertionGrant(stranger.assertion(t, c.clientID, m.TokenEndpoint)), clientCreds{}); r.Status != http.StatusUnauthorized || r.errorCode() != "invalid_client" {
				t.Errorf("assertion signed by an unregistered key: %d %s, want 401 invalid_client", r.Status, r.Body)
			}
			// A fresh assertion works again, and authenticates at the
			// introspection endpoint too (aud may be the token endpoint).
			r := postForm(t, m.IntrospectionEndpoint, url.Values{"token": {tok.AccessToken}, "client_assertion_type": {jwtBearerAssertionType},
				"client_assertion": {c.key.assertion(t, c.clientID, m.TokenEndpoint)}}, clientCreds{})
			if r.Status != http.StatusOK {
				t.Fatalf("introspection as a private_key_jwt client: %d %s", r.Status, r.Body)
			}
			wantActive(t, "own token, introspected with an assertion", r.JSON(t), true, c.clientID)
		})
	}

	after := srv.metrics()
	wantIncreased(t, before, after, map[string]float64{
		"replay_detection.saved":      4, // two accepted assertions per client
		"registration_create.success": 1,
		"client_credentials.saved":    2,
		"grant.error":                 4, // per client: the replay and the stranger's key
	})
}

// kid returns the key's kid, so a stranger's key can pose as it.
func (k clientKey) kid(t *testing.T) string {
	t.Helper()
	kid, ok := k.private.KeyID()
	if !ok {
		t.Fatal("client key without kid")
	}
	return kid
}
