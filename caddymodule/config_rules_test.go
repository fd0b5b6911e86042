package caddymodule

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/oidcaddy/oidcaddy/internal/jose"
	"github.com/oidcaddy/oidcaddy/provider"
)

// webClient is a valid configured client of the provider, for cases that
// break one field of it.
func webClient(modify func(c *provider.Client)) *provider.Client {
	c := &provider.Client{ID: "app", RedirectURIs: []string{"https://app.example/cb"},
		TokenEndpointAuthMethod: provider.AuthMethodClientSecretBasic, AuthMethodDefaulted: true}
	c.SetSecret("app-secret")
	if modify != nil {
		modify(c)
	}
	return c
}

// The rules are the provider's alone: a bad setting written in a Caddyfile
// fails with exactly the message provider.Config.Validate gives for the same
// setting, under the same path, at the setting's line. A check written again
// in the parser would fail first, with its own words, and break this.
func TestCaddyfileReportsTheProvidersRules(t *testing.T) {
	es256, err := jose.GenerateKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	es256Keys, err := jose.NewKeySet(es256)
	if err != nil {
		t.Fatal(err)
	}
	const client = " client app {\n  secret app-secret\n  redirect_uri https://app.example/cb\n" // lines 3-5
	for _, tc := range []struct {
		name     string
		body     string // after "oidc_provider {\n issuer https://a.example\n"
		provider provider.Config
		path     string
		line     string
	}{
		{"client token format", client + "  access_token_format paseto\n }",
			provider.Config{ConfiguredClients: []*provider.Client{webClient(func(c *provider.Client) { c.AccessTokenFormat = "paseto" })}},
			"clients[0].access_token_format", "Testfile:6"},
		{"second redirect URI", client + "  redirect_uri https://app.example/ok javascript:alert(1)\n }",
			provider.Config{ConfiguredClients: []*provider.Client{webClient(func(c *provider.Client) {
				c.RedirectURIs = append(c.RedirectURIs, "https://app.example/ok", "javascript:alert(1)")
			})}},
			"clients[0].redirect_uris[2]", "Testfile:6"},
		{"jwks_uri over http", client + "  auth_method private_key_jwt\n  jwks_uri http://app.example/jwks\n }",
			provider.Config{ConfiguredClients: []*provider.Client{webClient(func(c *provider.Client) {
				c.TokenEndpointAuthMethod, c.AuthMethodDefaulted, c.JWKSURI = provider.AuthMethodPrivateKeyJWT, false, "http://app.example/jwks"
			})}},
			"clients[0].jwks_uri", "Testfile:7"},
		{"back-channel logout URI", client + "  backchannel_logout_uri ftp://app.example/logout\n }",
			provider.Config{ConfiguredClients: []*provider.Client{webClient(func(c *provider.Client) { c.BackchannelLogoutURI = "ftp://app.example/logout" })}},
			"clients[0].backchannel_logout_uri", "Testfile:6"},
		{"unknown auth method", client + "  auth_method tls_client_auth\n }",
			provider.Config{ConfiguredClients: []*provider.Client{webClient(func(c *provider.Client) {
				c.TokenEndpointAuthMethod, c.AuthMethodDefaulted = "tls_client_auth", false
			})}},
			"clients[0].token_endpoint_auth_method", "Testfile:6"},
		{"short client_secret_jwt secret", client + "  auth_method client_secret_jwt\n }",
			provider.Config{ConfiguredClients: []*provider.Client{webClient(func(c *provider.Client) {
				c.TokenEndpointAuthMethod, c.AuthMethodDefaulted = provider.AuthMethodClientSecretJWT, false
			})}},
			"clients[0].client_secret", "Testfile:4"},
		{"ID token alg without a key", " signing_key ES256\n" + client + "  id_token_signed_response_alg RS256\n }",
			provider.Config{Signer: es256Keys, ConfiguredClients: []*provider.Client{webClient(func(c *provider.Client) { c.IDTokenSignedResponseAlg = "RS256" })}},
			"clients[0].id_token_signed_response_alg", "Testfile:7"},
		{"client defined twice", client + " }\n" + client + " }",
			provider.Config{ConfiguredClients: []*provider.Client{webClient(nil), webClient(nil)}},
			"clients[1].client_id", "Testfile:7"},
		{"resource defined twice", " resource urn:example:api\n resource urn:example:api\n",
			provider.Config{Resources: []provider.Resource{{Identifier: "urn:example:api"}, {Identifier: "urn:example:api"}}},
			"resources[1].identifier", "Testfile:4"},
		{"resource token format", " resource urn:example:api {\n  access_token_format JWT\n }",
			provider.Config{Resources: []provider.Resource{{Identifier: "urn:example:api", AccessTokenFormat: "JWT"}}},
			"resources[0].access_token_format", "Testfile:4"},
		{"registration policy", " registration {\n  policy anyone\n }",
			provider.Config{Registration: provider.RegistrationConfig{Policy: "anyone"}},
			"registration.policy", "Testfile:4"},
		{"private hosts allowing everything", " registration {\n  policy open\n  allow_private_hosts app 0.0.0.0/0\n }",
			provider.Config{Registration: provider.RegistrationConfig{Policy: "open", AllowPrivateHosts: []string{"app", "0.0.0.0/0"}}},
			"registration.allow_private_hosts[1]", "Testfile:5"},
		{"short initial access token", " registration {\n  policy initial_access_token\n  initial_access_token 0123456789abcdef\n  initial_access_token short\n }",
			provider.Config{Registration: provider.RegistrationConfig{Policy: "initial_access_token", InitialAccessTokens: []string{"0123456789abcdef", "short"}}},
			"registration.initial_access_tokens[1]", "Testfile:6"},
		{"throttle delays", " login_throttle {\n  max_delay 1s\n  base_delay 1m\n }",
			provider.Config{Throttle: provider.LoginThrottle{BaseDelay: time.Minute, MaxDelay: time.Second}},
			"login_throttle.base_delay", "Testfile:5"},
		{"branding colour", " branding {\n  primary_color red\n }",
			provider.Config{Branding: provider.Branding{PrimaryColor: "#red"}},
			"branding.primary_color", "Testfile:4"},
		{"tiny body size", " max_body_size 64\n",
			provider.Config{MaxBodyBytes: 64},
			"max_body_size", "Testfile:3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.provider
			cfg.Issuer = "https://a.example"
			var verrs provider.ValidationErrors
			if err := cfg.Validate(); !errors.As(err, &verrs) || len(verrs) != 1 || verrs[0].Path != tc.path {
				t.Fatalf("provider: %v, want one problem at %s", err, tc.path)
			}
			want := verrs[0].Message + " (" + tc.path + "), at " + tc.line

			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("oidc_provider {\n issuer https://a.example\n" + tc.body + "\n}"))
			if err == nil || err.Error() != want {
				t.Fatalf("Caddyfile error:\n  %v\nwant exactly:\n  %s", err, want)
			}
		})
	}
}

// One parse reports every problem, each at its own line.
func TestCaddyfileReportsEveryProblemAtItsLine(t *testing.T) {
	input := `oidc_provider {
	issuer https://a.example
	client app {
		redirect_uri https://app.example/cb#fragment
		access_token_format paseto
	}
	registration {
		policy anyone
	}
	log_exporter jaeger
}`
	var h Handler
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"(clients[0]), at Testfile:3", // neither secret nor keys nor public
		"(clients[0].redirect_uris[0]), at Testfile:4",
		"(clients[0].access_token_format), at Testfile:5",
		"(registration.policy), at Testfile:8",
		"(log_exporter), at Testfile:10",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 5 {
		t.Errorf("%d problems reported, want 5:\n%v", n, err)
	}
}

// Without a Caddyfile (JSON config, or after `caddy adapt`), a problem names
// its JSON path and the Caddyfile directive it would be written with.
func TestProvisionErrorsNameJSONPathAndDirective(t *testing.T) {
	dir := t.TempDir()
	h := testHandler(t, dir)
	h.Clients[0].RedirectURIs = append(h.Clients[0].RedirectURIs, "javascript:alert(1)")
	h.Clients[0].ClientSecret = "{env.OIDCADDY_TEST_UNSET}"
	h.Registration = &RegistrationConfig{Policy: "anyone"}
	h.Lifetimes = &LifetimesConfig{Session: -1}
	err := h.Provision(newTestContext(t))
	defer h.Cleanup()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`clients[0].redirect_uris[1]: client "app": redirect URI "javascript:alert(1)" uses a forbidden scheme (Caddyfile: client app { redirect_uri })`,
		`clients[0].client_secret: client "app": client_secret: `,
		"(Caddyfile: client app { secret })",
		`registration.policy: registration: policy must be one of closed, open, initial_access_token, got "anyone" (Caddyfile: registration { policy })`,
		"lifetimes.session: lifetimes: session must not be negative (Caddyfile: lifetimes { session })",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
	if n := references(dir); n != 0 {
		t.Fatalf("store opened for an invalid configuration (references = %d)", n)
	}
	// Validate, which Caddy runs on a JSON config too, gives the same
	// problems that need no secret.
	if err := h.Validate(); err == nil || !strings.Contains(err.Error(), "registration.policy: ") || !strings.Contains(err.Error(), "clients[0].redirect_uris[1]: ") {
		t.Fatalf("Validate: %v", err)
	}
}
