package provider_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/internal/jose"
	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/store/memstore"
)

// pathsOf returns the field paths of a Validate error, failing unless it is
// a provider.ValidationErrors.
func pathsOf(t *testing.T, err error) []string {
	t.Helper()
	var verrs provider.ValidationErrors
	if !errors.As(err, &verrs) {
		t.Fatalf("error %v (%T) is not a provider.ValidationErrors", err, err)
	}
	paths := make([]string, len(verrs))
	for i, e := range verrs {
		paths[i] = e.Path
		if !strings.HasPrefix(e.Error(), e.Path+": ") {
			t.Errorf("error %q does not start with its path %q", e.Error(), e.Path)
		}
	}
	return paths
}

func secretClient(id, secret string) *provider.Client {
	c := &provider.Client{ID: id, RedirectURIs: []string{"https://rp.example/cb"}, TokenEndpointAuthMethod: provider.AuthMethodClientSecretBasic}
	c.SetSecret(secret)
	return c
}

// One call reports every problem of a configuration, each under the path
// of the JSON configuration's field at fault.
func TestConfigValidateReportsEveryProblemWithItsPath(t *testing.T) {
	spa := &provider.Client{ID: "spa", TokenEndpointAuthMethod: provider.AuthMethodNone,
		RedirectURIs: []string{"https://spa.example/cb", "javascript:alert(1)"}, GrantTypes: []string{provider.GrantTypeClientCredentials}}
	spa.SetSecret("should-not-be-here")
	jwtClient := &provider.Client{ID: "jwt", TokenEndpointAuthMethod: provider.AuthMethodClientSecretJWT, GrantTypes: []string{provider.GrantTypeClientCredentials}}
	jwtClient.SetSecret("short")
	cfg := provider.Config{
		Issuer:    "https://auth.example/?tenant=1",
		Lifetimes: provider.Lifetimes{AccessToken: -time.Hour, DeviceCode: -1, RefreshTokenReuseGrace: -1},
		Throttle:  provider.LoginThrottle{BaseDelay: time.Minute, MaxDelay: time.Second},
		Registration: provider.RegistrationConfig{Policy: "anyone", InitialAccessTokens: []string{"0123456789abcdef", "short-token"},
			AllowedScopes: []string{"read", "read write"}, RateLimit: -1, AllowPrivateHosts: []string{"app", "0.0.0.0/0"}},
		Resources: []provider.Resource{{Identifier: "https://api.example/"}, {Identifier: "https://api.example/", AccessTokenFormat: "paseto"}, {Identifier: "/relative"}},
		ConfiguredClients: []*provider.Client{
			secretClient("web", "web-secret"),
			{ID: "rp", TokenEndpointAuthMethod: "tls_client_auth", AccessTokenFormat: "JWT", RedirectURIs: []string{"https://rp.example/cb#frag"},
				JWKSURI: "http://rp.example/jwks", BackchannelLogoutURI: "ftp://rp.example/logout", IDTokenSignedResponseAlg: "HS256"},
			spa,
			secretClient("web", "other-secret"),
			jwtClient,
		},
		MaxBodyBytes:    64,
		BodyReadTimeout: -time.Second,
		Branding:        provider.Branding{PrimaryColor: "red", LogoURL: "http://cdn.example/logo.svg"},
	}
	want := []string{
		"issuer",
		"lifetimes.access_token",
		"lifetimes.device_code",
		"login_throttle.base_delay",
		"body_read_timeout",
		"max_body_size",
		"branding.logo_url",
		"branding.primary_color",
		"registration.policy",
		"registration.initial_access_tokens",
		"registration.initial_access_tokens[1]",
		"registration.allowed_scopes[1]",
		"registration.allow_private_hosts[1]",
		"registration.rate_limit",
		"resources[1].identifier",
		"resources[1].access_token_format",
		"resources[2].identifier",
		"clients[1].token_endpoint_auth_method",
		"clients[1].access_token_format",
		"clients[1].redirect_uris[0]",
		"clients[1].jwks_uri",
		"clients[1].backchannel_logout_uri",
		"clients[1].id_token_signed_response_alg",
		"clients[2].client_secret",
		"clients[2].grant_types",
		"clients[2].redirect_uris[1]",
		"clients[3].client_id",
		"clients[4].client_secret",
	}
	err := cfg.Validate()
	got := pathsOf(t, err)
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("no problem reported at %s", w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			t.Errorf("unexpected problem at %s", g)
		}
	}
	// Secrets and initial access tokens are named by position, never quoted.
	for _, secret := range []string{"should-not-be-here", "short-token", "web-secret", "other-secret"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks %q: %v", secret, err)
		}
	}
	if !strings.Contains(err.Error(), `clients[3].client_id: client "web" defined twice`) {
		t.Errorf("duplicate client not named: %v", err)
	}
}

func TestConfigValidateAcceptsAGoodConfig(t *testing.T) {
	cfg := provider.Config{
		Issuer:            "https://auth.example/tenant",
		Lifetimes:         provider.Lifetimes{AccessToken: time.Hour, RefreshTokenReuseGrace: -1},
		Registration:      provider.RegistrationConfig{Policy: provider.RegistrationInitialAccessToken, InitialAccessTokens: []string{"0123456789abcdef"}},
		Resources:         []provider.Resource{{Identifier: "urn:example:api", AccessTokenFormat: provider.TokenFormatJWT}},
		ConfiguredClients: []*provider.Client{secretClient("web", "web-secret")},
		MaxBodyBytes:      provider.MinMaxBodyBytes,
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

// A negative lifetime is an error, not silently the default; zero is the
// default.
func TestNewRefusesNegativeLifetime(t *testing.T) {
	keys := newSigner(t)
	accounts, err := provider.NewStaticAccounts()
	if err != nil {
		t.Fatal(err)
	}
	base := provider.Config{Issuer: "https://auth.example", Store: memstore.New(), ConfiguredClients: []*provider.Client{secretClient("web", "s")}, Accounts: accounts, Signer: keys}
	for _, l := range []provider.Lifetimes{{Session: -time.Minute}, {AuthorizationCode: -time.Second}, {Grant: -1}} {
		cfg := base
		cfg.Lifetimes = l
		_, err := provider.New(cfg)
		if err == nil || !strings.Contains(err.Error(), "must not be negative") || !strings.HasPrefix(err.Error(), "lifetimes.") {
			t.Errorf("%+v: err = %v, want a lifetimes.* negative error", l, err)
		}
	}
}

// The ID token alg of a configured client must have a signing key; the
// check needs the Signer, so it runs in Validate when one is set.
func TestConfigValidateIDTokenAlgNeedsAKey(t *testing.T) {
	c := secretClient("web", "s")
	c.IDTokenSignedResponseAlg = "RS256"
	cfg := provider.Config{Issuer: "https://auth.example", ConfiguredClients: []*provider.Client{c}}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("without a signer the alg is only checked to be supported: %v", err)
	}
	cfg.Signer = newSigner(t) // ES256 only
	err := cfg.Validate()
	if got := pathsOf(t, err); !slices.Equal(got, []string{"clients[0].id_token_signed_response_alg"}) {
		t.Fatalf("paths %v", got)
	}
	if !strings.Contains(err.Error(), "ES256") || !strings.Contains(err.Error(), "signing_key") {
		t.Fatalf("error %v does not say which keys there are", err)
	}
	// A StaticClients store is checked too; its clients are named by id.
	cfg.ConfiguredClients = nil
	cfg.Clients = provider.StaticClients{"web": c}
	if got := pathsOf(t, cfg.Validate()); !slices.Equal(got, []string{`clients["web"].id_token_signed_response_alg`}) {
		t.Fatalf("paths %v", got)
	}
}

func newSigner(t *testing.T) provider.Signer {
	t.Helper()
	key, err := jose.GenerateKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := jose.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
