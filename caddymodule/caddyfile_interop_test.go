package caddymodule

import (
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// The client subdirectives id_token_signed_response_alg and
// claims_in_id_token, and registration's allow_private_hosts.
func TestUnmarshalCaddyfileInteropOptions(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  Handler
	}{
		{
			name: "ES256 ID tokens for one client, key configured after the client",
			input: `oidc_provider {
				issuer https://a.example
				client app {
					secret s
					redirect_uri https://app.example/cb
					id_token_signed_response_alg ES256
					claims_in_id_token
				}
				signing_key RS256
				signing_key ES256 /keys/es.pem
			}`,
			want: Handler{
				Issuer: "https://a.example",
				Clients: []ClientConfig{{
					ClientID: "app", ClientSecret: "s", RedirectURIs: []string{"https://app.example/cb"},
					IDTokenSignedResponseAlg: "ES256", ClaimsInIDToken: true,
				}},
				SigningKeys: []SigningKeyConfig{{Algorithm: "RS256"}, {Algorithm: "ES256", File: "/keys/es.pem"}},
			},
		},
		{
			name:  "RS256 needs no signing_key line: it is the default key",
			input: "oidc_provider {\n issuer https://a.example\n client app {\n  secret s\n  redirect_uri https://app.example/cb\n  id_token_signed_response_alg RS256\n }\n}",
			want: Handler{Issuer: "https://a.example", Clients: []ClientConfig{{
				ClientID: "app", ClientSecret: "s", RedirectURIs: []string{"https://app.example/cb"}, IDTokenSignedResponseAlg: "RS256",
			}}},
		},
		{
			name: "allow_private_hosts, repeated",
			input: `oidc_provider {
				issuer https://a.example
				registration {
					policy open
					allow_private_hosts app internal.example
					allow_private_hosts 10.0.0.0/8 fd00::/8 192.168.1.10
				}
			}`,
			want: Handler{Issuer: "https://a.example", Registration: &RegistrationConfig{
				Policy:            "open",
				AllowPrivateHosts: []string{"app", "internal.example", "10.0.0.0/8", "fd00::/8", "192.168.1.10"},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Handler
			if err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input)); err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if err := got.checkStatic(); err != nil {
				t.Errorf("checkStatic: %v", err)
			}
		})
	}
}

func TestUnmarshalCaddyfileInteropOptionErrors(t *testing.T) {
	tests := []caddyfileErrorCase{
		{
			name:  "ID token alg without a key of that alg",
			input: "oidc_provider {\n issuer https://a.example\n signing_key RS256\n client app {\n  secret s\n  redirect_uri https://app.example/cb\n  id_token_signed_response_alg ES256\n }\n}",
			want:  []string{"Testfile:7", `client "app"`, "ES256", "signing_key", "(clients[0].id_token_signed_response_alg)"},
		},
		{
			name:  "ID token alg without any signing_key: only RS256",
			input: "oidc_provider {\n issuer https://a.example\n client app {\n  secret s\n  redirect_uri https://app.example/cb\n  id_token_signed_response_alg EdDSA\n }\n}",
			want:  []string{"Testfile:6", "EdDSA", "signing_key"},
		},
		{
			name:  "unsupported ID token alg",
			input: "oidc_provider {\n issuer https://a.example\n client app {\n  id_token_signed_response_alg none\n }\n}",
			want:  []string{"Testfile:4", "id_token_signed_response_alg", "RS256, PS256, ES256, ES384, EdDSA"},
		},
		{
			name:  "ID token alg without value",
			input: "oidc_provider {\n issuer https://a.example\n client app {\n  id_token_signed_response_alg\n }\n}",
			want:  []string{"Testfile:4", "wrong argument count"},
		},
		{
			name:  "claims_in_id_token with an argument",
			input: "oidc_provider {\n issuer https://a.example\n client app {\n  claims_in_id_token yes\n }\n}",
			want:  []string{"Testfile:4", "wrong argument count"},
		},
		{
			name:  "allow_private_hosts without value",
			input: "oidc_provider {\n issuer https://a.example\n registration {\n  policy open\n  allow_private_hosts\n }\n}",
			want:  []string{"Testfile:5", "wrong argument count"},
		},
		{
			name:  "allow_private_hosts with a URL",
			input: "oidc_provider {\n issuer https://a.example\n registration {\n  policy open\n  allow_private_hosts app http://app:8080\n }\n}",
			want:  []string{"Testfile:5", "allow_private_hosts", "http://app:8080"},
		},
		{
			name:  "allow_private_hosts allowing everything",
			input: "oidc_provider {\n issuer https://a.example\n registration {\n  policy open\n  allow_private_hosts 0.0.0.0/0\n }\n}",
			want:  []string{"Testfile:5", "every address"},
		},
	}
	runCaddyfileErrorCases(t, tests)
}

// The JSON configuration gets the same checks (Validate, Provision).
func TestCheckStaticInteropOptions(t *testing.T) {
	for name, tc := range map[string]struct {
		h    Handler
		want string
	}{
		"alg without key": {Handler{Issuer: "https://a.example", SigningKeys: []SigningKeyConfig{{Algorithm: "ES256"}},
			Clients: []ClientConfig{{ClientID: "app", IDTokenSignedResponseAlg: "RS256"}}}, `client "app": id_token_signed_response_alg RS256`},
		"alg unsupported": {Handler{Issuer: "https://a.example",
			Clients: []ClientConfig{{ClientID: "app", IDTokenSignedResponseAlg: "HS256"}}}, "HS256"},
		"bad allow_private_hosts": {Handler{Issuer: "https://a.example",
			Registration: &RegistrationConfig{Policy: "open", AllowPrivateHosts: []string{"*.internal"}}}, "allow_private_hosts"},
	} {
		if err := tc.h.checkStatic(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, tc.want)
		}
	}
}
