package caddymodule

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func boolPtr(b bool) *bool { return &b }

func durationPtr(d time.Duration) *caddy.Duration {
	cd := caddy.Duration(d)
	return &cd
}

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  Handler
	}{
		{
			name:  "issuer only",
			input: "oidc_provider {\n issuer https://auth.example.com\n}",
			want:  Handler{Issuer: "https://auth.example.com"},
		},
		{
			name:  "branding, colour quoted",
			input: "oidc_provider {\n issuer https://a.example\n branding {\n  name \"Example Login\"\n  logo_url /logo.svg\n  primary_color \"#0b5fff\"\n }\n}",
			want:  Handler{Issuer: "https://a.example", Branding: &BrandingConfig{Name: "Example Login", LogoURL: "/logo.svg", PrimaryColor: "#0b5fff"}},
		},
		{
			name:  "branding, colour without #",
			input: "oidc_provider {\n issuer https://a.example\n branding {\n  primary_color 0B5FFF\n }\n}",
			want:  Handler{Issuer: "https://a.example", Branding: &BrandingConfig{PrimaryColor: "#0B5FFF"}},
		},
		{
			name: "placeholders are kept for provisioning",
			input: `oidc_provider {
				issuer {env.OIDC_ISSUER}
				client app {
					secret {env.APP_SECRET}
					redirect_uri https://app.example/cb
				}
			}`,
			want: Handler{
				Issuer: "{env.OIDC_ISSUER}",
				Clients: []ClientConfig{{
					ClientID: "app", ClientSecret: "{env.APP_SECRET}",
					RedirectURIs: []string{"https://app.example/cb"},
				}},
			},
		},
		{
			name: "everything",
			input: `oidc_provider {
				issuer http://localhost:8080/auth
				storage ./data/oidc
				signing_key ES256 /keys/es.pem
				signing_key RS256
				lifetimes {
					authorization_code 30s
					access_token 2h
					id_token 1h
					session 14d
					interaction 10m
					grant 30d
				}
				client demo-app {
					name "Demo App"
					secret {env.DEMO_CLIENT_SECRET}
					redirect_uri https://app.example/callback https://app.example/cb2
					redirect_uri https://app.example/cb3
					post_logout_redirect_uri https://app.example/
					grant_types authorization_code refresh_token
					auth_method client_secret_post
					skip_consent
				}
				client demo-spa {
					public
					redirect_uri http://localhost:5557/callback
				}
				user demo {
					password_hash $2a$10$abcdefghijklmnopqrstuu
					subject 248289761001
					claim name "Demo User"
					claim email demo@example.com
					claim email_verified true
					claim admin false
				}
				user other
				users_file /etc/oidc/users.json
				cookie {
					name_prefix myidp
					secure off
					domain example.com
				}
				templates /srv/templates
				log_exporter console
			}`,
			want: Handler{
				Issuer:     "http://localhost:8080/auth",
				StorageRaw: json.RawMessage(`{"backend":"badger","dir":"./data/oidc"}`),
				SigningKeys: []SigningKeyConfig{
					{Algorithm: "ES256", File: "/keys/es.pem"},
					{Algorithm: "RS256"},
				},
				Lifetimes: &LifetimesConfig{
					AuthorizationCode: caddy.Duration(30 * time.Second),
					AccessToken:       caddy.Duration(2 * time.Hour),
					IDToken:           caddy.Duration(time.Hour),
					Session:           caddy.Duration(14 * 24 * time.Hour),
					Interaction:       caddy.Duration(10 * time.Minute),
					Grant:             caddy.Duration(30 * 24 * time.Hour),
				},
				Clients: []ClientConfig{
					{
						ClientID:                "demo-app",
						ClientName:              "Demo App",
						ClientSecret:            "{env.DEMO_CLIENT_SECRET}",
						RedirectURIs:            []string{"https://app.example/callback", "https://app.example/cb2", "https://app.example/cb3"},
						PostLogoutRedirectURIs:  []string{"https://app.example/"},
						GrantTypes:              []string{"authorization_code", "refresh_token"},
						TokenEndpointAuthMethod: "client_secret_post",
						SkipConsent:             true,
					},
					{
						ClientID:     "demo-spa",
						Public:       true,
						RedirectURIs: []string{"http://localhost:5557/callback"},
					},
				},
				Users: []UserConfig{
					{
						Login:        "demo",
						Subject:      "248289761001",
						PasswordHash: "$2a$10$abcdefghijklmnopqrstuu",
						Claims: map[string]any{
							"name": "Demo User", "email": "demo@example.com",
							"email_verified": true, "admin": false,
						},
					},
					{Login: "other"},
				},
				UsersFile:    "/etc/oidc/users.json",
				Cookies:      &CookieConfig{NamePrefix: "myidp", Secure: boolPtr(false), Domain: "example.com"},
				TemplatesDir: "/srv/templates",
				LogExporter:  "console",
			},
		},
		{
			name: "tokens, JWT client authentication, resources, registration, PAR, throttle",
			input: `oidc_provider {
				issuer https://auth.example.com
				lifetimes {
					refresh_token 14d
					refresh_token_absolute 30d
					refresh_token_reuse_grace 2s
					pushed_authorization_request 90s
				}
				client machine {
					secret {env.MACHINE_SECRET}
					grant_types client_credentials
					auth_method client_secret_jwt
					access_token_format jwt
					allowed_scopes read write
					allowed_scopes admin
				}
				client rp {
					auth_method private_key_jwt
					jwks_file {env.KEYS_DIR}/rp.jwks.json
					redirect_uri https://rp.example/cb
					grant_types authorization_code refresh_token
					access_token_format opaque
					always_issue_refresh_token
					disable_refresh_token_rotation
					require_par
					backchannel_logout_uri https://rp.example/backchannel
				}
				client remote-keys {
					jwks_uri https://rp.example/jwks.json
					redirect_uri https://rp.example/cb
					backchannel_logout_uri http://127.0.0.1:9000/logout
				}
				resource https://api.example.com/ {
					scopes read write
					scopes admin
					access_token_format jwt
				}
				resource urn:example:billing
				registration {
					policy initial_access_token
					initial_access_token {env.REG_TOKEN}
					initial_access_token another-token-of-enough-length
					rotate_registration_access_token
					allowed_scopes read write
					allowed_scopes billing
				}
				require_par
				secret_key_file /etc/oidc/secret.key
				login_throttle {
					free_attempts 3
					window 10m
					base_delay 2s
					max_delay 5m
				}
				max_body_size 128KiB
			}`,
			want: Handler{
				Issuer: "https://auth.example.com",
				Lifetimes: &LifetimesConfig{
					RefreshToken:               caddy.Duration(14 * 24 * time.Hour),
					RefreshTokenAbsolute:       caddy.Duration(30 * 24 * time.Hour),
					RefreshTokenReuseGrace:     durationPtr(2 * time.Second),
					PushedAuthorizationRequest: caddy.Duration(90 * time.Second),
				},
				Clients: []ClientConfig{
					{
						ClientID: "machine", ClientSecret: "{env.MACHINE_SECRET}",
						GrantTypes:              []string{"client_credentials"},
						TokenEndpointAuthMethod: "client_secret_jwt",
						AccessTokenFormat:       "jwt",
						AllowedScopes:           []string{"read", "write", "admin"},
					},
					{
						ClientID:                           "rp",
						TokenEndpointAuthMethod:            "private_key_jwt",
						JWKSFile:                           "{env.KEYS_DIR}/rp.jwks.json",
						RedirectURIs:                       []string{"https://rp.example/cb"},
						GrantTypes:                         []string{"authorization_code", "refresh_token"},
						AccessTokenFormat:                  "opaque",
						AlwaysIssueRefreshToken:            true,
						DisableRefreshTokenRotation:        true,
						RequirePushedAuthorizationRequests: true,
						BackchannelLogoutURI:               "https://rp.example/backchannel",
					},
					{
						ClientID:             "remote-keys",
						JWKSURI:              "https://rp.example/jwks.json",
						RedirectURIs:         []string{"https://rp.example/cb"},
						BackchannelLogoutURI: "http://127.0.0.1:9000/logout",
					},
				},
				Resources: []ResourceConfig{
					{Identifier: "https://api.example.com/", Scopes: []string{"read", "write", "admin"}, AccessTokenFormat: "jwt"},
					{Identifier: "urn:example:billing"},
				},
				Registration: &RegistrationConfig{
					Policy:                        "initial_access_token",
					InitialAccessTokens:           []string{"{env.REG_TOKEN}", "another-token-of-enough-length"},
					RotateRegistrationAccessToken: true,
					AllowedScopes:                 []string{"read", "write", "billing"},
				},
				RequirePushedAuthorizationRequests: true,
				SecretKeyFile:                      "/etc/oidc/secret.key",
				LoginThrottle: &LoginThrottleConfig{
					FreeAttempts: 3,
					Window:       caddy.Duration(10 * time.Minute),
					BaseDelay:    caddy.Duration(2 * time.Second),
					MaxDelay:     caddy.Duration(5 * time.Minute),
				},
				MaxBodySize: 128 << 10,
			},
		},
		{
			name:  "no refresh token reuse grace",
			input: "oidc_provider {\n issuer https://a.example\n lifetimes {\n  refresh_token_reuse_grace 0\n }\n}",
			want:  Handler{Issuer: "https://a.example", Lifetimes: &LifetimesConfig{RefreshTokenReuseGrace: durationPtr(0)}},
		},
		{
			name:  "no refresh token reuse grace, with unit",
			input: "oidc_provider {\n issuer https://a.example\n lifetimes {\n  refresh_token_reuse_grace 0s\n }\n}",
			want:  Handler{Issuer: "https://a.example", Lifetimes: &LifetimesConfig{RefreshTokenReuseGrace: durationPtr(0)}},
		},
		{
			name:  "open registration, decimal body size",
			input: "oidc_provider {\n issuer https://a.example\n registration {\n  policy open\n }\n max_body_size 1MB\n}",
			want:  Handler{Issuer: "https://a.example", Registration: &RegistrationConfig{Policy: "open"}, MaxBodySize: 1000000},
		},
		{
			name: "cookie secure on",
			input: `oidc_provider {
				issuer https://a.example
				cookie {
					secure on
				}
			}`,
			want: Handler{Issuer: "https://a.example", Cookies: &CookieConfig{Secure: boolPtr(true)}},
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
		})
	}
}

func TestUnmarshalCaddyfileErrors(t *testing.T) {
	tests := []caddyfileErrorCase{
		{
			name:  "positional argument",
			input: "oidc_provider https://auth.example.com",
			want:  []string{"Testfile:1", "no arguments", "issuer"},
		},
		{
			name:  "missing issuer",
			input: "oidc_provider {\n storage /tmp/x\n}",
			want:  []string{"Testfile:3", "issuer is required"},
		},
		{
			name:  "unknown subdirective",
			input: "oidc_provider {\n issuer https://a.example\n isuer https://a.example\n}",
			want:  []string{"Testfile:3", `unrecognized oidc_provider subdirective "isuer"`},
		},
		{
			name:  "issuer without value",
			input: "oidc_provider {\n issuer\n}",
			want:  []string{"Testfile:2", "wrong argument count"},
		},
		{
			name:  "issuer with two values",
			input: "oidc_provider {\n issuer https://a.example https://b.example\n}",
			want:  []string{"Testfile:2", "wrong argument count"},
		},
		{
			name:  "issuer twice",
			input: "oidc_provider {\n issuer https://a.example\n issuer https://b.example\n}",
			want:  []string{"Testfile:3", "issuer already specified"},
		},
		{
			name:  "storage without dir",
			input: "oidc_provider {\n issuer https://a.example\n storage\n}",
			want:  []string{"Testfile:3", "wrong argument count"},
		},
		{
			name:  "signing key with bad algorithm",
			input: "oidc_provider {\n issuer https://a.example\n signing_key HS256\n}",
			want:  []string{"Testfile:3", `unsupported algorithm "HS256"`},
		},
		{
			name:  "signing key without algorithm",
			input: "oidc_provider {\n issuer https://a.example\n signing_key\n}",
			want:  []string{"Testfile:3", "usage: signing_key"},
		},
		{
			name:  "bad duration",
			input: "oidc_provider {\n issuer https://a.example\n lifetimes {\n  access_token 1hour\n }\n}",
			want:  []string{"Testfile:4", "lifetimes access_token: invalid duration"},
		},
		{
			name:  "zero duration",
			input: "oidc_provider {\n issuer https://a.example\n lifetimes {\n  session 0s\n }\n}",
			want:  []string{"Testfile:4", "must be positive"},
		},
		{
			name:  "unknown lifetime",
			input: "oidc_provider {\n issuer https://a.example\n lifetimes {\n  refresh 1h\n }\n}",
			want:  []string{"Testfile:4", `unrecognized lifetimes subdirective "refresh"`, "refresh_token_reuse_grace"},
		},
		{
			name:  "zero refresh token lifetime",
			input: "oidc_provider {\n issuer https://a.example\n lifetimes {\n  refresh_token 0\n }\n}",
			want:  []string{"Testfile:4", "lifetimes refresh_token: must be positive"},
		},
		{
			name:  "negative reuse grace",
			input: "oidc_provider {\n issuer https://a.example\n lifetimes {\n  refresh_token_reuse_grace -1s\n }\n}",
			want:  []string{"Testfile:4", "refresh_token_reuse_grace: must not be negative"},
		},
		{
			name:  "bad PAR lifetime",
			input: "oidc_provider {\n issuer https://a.example\n lifetimes {\n  pushed_authorization_request soon\n }\n}",
			want:  []string{"Testfile:4", "lifetimes pushed_authorization_request: invalid duration"},
		},
		{
			name:  "registration rate without window",
			input: "oidc_provider {\n issuer https://a.example\n registration {\n  rate 10\n }\n}",
			want:  []string{"Testfile:4", "usage: rate <registrations> <per duration>"},
		},
		{
			name:  "registration zero max_clients",
			input: "oidc_provider {\n issuer https://a.example\n registration {\n  max_clients 0\n }\n}",
			want:  []string{"Testfile:4", "max_clients must be a positive whole number"},
		},
		{
			name:  "registration bad unused_client_ttl",
			input: "oidc_provider {\n issuer https://a.example\n registration {\n  unused_client_ttl never\n }\n}",
			want:  []string{"Testfile:4", "unused_client_ttl: invalid duration"},
		},
		{
			name:  "zero pending limit",
			input: "oidc_provider {\n issuer https://a.example\n pending_limits {\n  per_address 0\n }\n}",
			want:  []string{"Testfile:4", "pending_limits per_address must be a positive whole number"},
		},
		{
			name:  "unknown pending limit",
			input: "oidc_provider {\n issuer https://a.example\n pending_limits {\n  rate 5\n }\n}",
			want:  []string{"Testfile:4", `unrecognized pending_limits subdirective "rate"`},
		},
		{
			name:  "zero body read timeout",
			input: "oidc_provider {\n issuer https://a.example\n body_read_timeout 0s\n}",
			want:  []string{"Testfile:3", "body_read_timeout: must be positive"},
		},
		{
			name:  "introspect_any_token with an argument",
			input: "oidc_provider {\n issuer https://a.example\n client app {\n  introspect_any_token yes\n }\n}",
			want:  []string{"Testfile:4"},
		},
		{
			name:  "client without id",
			input: "oidc_provider {\n issuer https://a.example\n client {\n  public\n }\n}",
			want:  []string{"Testfile:3", "usage: client <client_id>"},
		},
		{
			name:  "client unknown subdirective",
			input: "oidc_provider {\n issuer https://a.example\n client app {\n  redirect_uris https://app/cb\n }\n}",
			want:  []string{"Testfile:4", `unrecognized client subdirective "redirect_uris"`},
		},
		{
			name:  "client redirect_uri without value",
			input: "oidc_provider {\n issuer https://a.example\n client app {\n  redirect_uri\n }\n}",
			want:  []string{"Testfile:4", "wrong argument count"},
		},
		{
			name:  "client bad auth method",
			input: "oidc_provider {\n issuer https://a.example\n client app {\n  auth_method tls_client_auth\n }\n}",
			want:  []string{"Testfile:4", "auth_method must be one of", "private_key_jwt", `"tls_client_auth"`},
		},
		{
			name:  "client bad access token format",
			input: "oidc_provider {\n issuer https://a.example\n client app {\n  access_token_format paseto\n }\n}",
			want:  []string{"Testfile:4", `client "app": access_token_format must be opaque or jwt`, `"paseto"`, "(clients[0].access_token_format)"},
		},
		{
			name:  "client allowed_scopes without value",
			input: "oidc_provider {\n issuer https://a.example\n client app {\n  allowed_scopes\n }\n}",
			want:  []string{"Testfile:4", "wrong argument count"},
		},
		{
			name:  "client flag with argument",
			input: "oidc_provider {\n issuer https://a.example\n client app {\n  always_issue_refresh_token yes\n }\n}",
			want:  []string{"Testfile:4", "wrong argument count"},
		},
		{
			name:  "client jwks_uri over http",
			input: "oidc_provider {\n issuer https://a.example\n client app {\n  jwks_uri http://rp.example/jwks\n }\n}",
			want:  []string{"Testfile:4", "jwks_uri must be an absolute https URL"},
		},
		{
			name:  "client jwks_uri relative",
			input: "oidc_provider {\n issuer https://a.example\n client app {\n  jwks_uri /jwks.json\n }\n}",
			want:  []string{"Testfile:4", "jwks_uri must be an absolute https URL"},
		},
		{
			name:  "client jwks_file and jwks_uri",
			input: "oidc_provider {\n issuer https://a.example\n client app {\n  jwks_file /k.json\n  jwks_uri https://rp.example/jwks\n }\n}",
			want:  []string{"Testfile:5", "jwks_file and jwks_uri are mutually exclusive"},
		},
		{
			name:  "client jwks_file without path",
			input: "oidc_provider {\n issuer https://a.example\n client app {\n  jwks_file\n }\n}",
			want:  []string{"Testfile:4", "wrong argument count"},
		},
		{
			name:  "client backchannel logout over http to a remote host",
			input: "oidc_provider {\n issuer https://a.example\n client app {\n  backchannel_logout_uri http://rp.example/logout\n }\n}",
			want:  []string{"Testfile:4", "backchannel_logout_uri must be an absolute https URL"},
		},
		{
			name:  "client backchannel logout with fragment",
			input: "oidc_provider {\n issuer https://a.example\n client app {\n  backchannel_logout_uri https://rp.example/logout#x\n }\n}",
			want:  []string{"Testfile:4", "without fragment"},
		},
		{
			name:  "resource without identifier",
			input: "oidc_provider {\n issuer https://a.example\n resource {\n  scopes read\n }\n}",
			want:  []string{"Testfile:3", "usage: resource <identifier uri>"},
		},
		{
			name:  "resource identifier not absolute",
			input: "oidc_provider {\n issuer https://a.example\n resource api.example.com\n}",
			want:  []string{"Testfile:3", "identifier must be an absolute URI"},
		},
		{
			name:  "resource identifier with fragment",
			input: "oidc_provider {\n issuer https://a.example\n resource https://api.example.com/#v1\n}",
			want:  []string{"Testfile:3", "without fragment"},
		},
		{
			name:  "resource twice",
			input: "oidc_provider {\n issuer https://a.example\n resource https://api.example.com/\n resource https://api.example.com/ {\n  scopes read\n }\n}",
			want:  []string{"Testfile:4", `resource "https://api.example.com/" defined twice`, "(resources[1].identifier)"},
		},
		{
			name:  "resource unknown subdirective",
			input: "oidc_provider {\n issuer https://a.example\n resource https://api.example.com/ {\n  scope read\n }\n}",
			want:  []string{"Testfile:4", `unrecognized resource subdirective "scope"`},
		},
		{
			name:  "resource bad access token format",
			input: "oidc_provider {\n issuer https://a.example\n resource https://api.example.com/ {\n  access_token_format JWT\n }\n}",
			want:  []string{"Testfile:4", "access_token_format must be opaque or jwt"},
		},
		{
			name:  "registration bad policy",
			input: "oidc_provider {\n issuer https://a.example\n registration {\n  policy anyone\n }\n}",
			want:  []string{"Testfile:4", "registration: policy must be one of closed, open, initial_access_token", `"anyone"`, "(registration.policy)"},
		},
		{
			name:  "registration unknown subdirective",
			input: "oidc_provider {\n issuer https://a.example\n registration {\n  initial_access_tokens x\n }\n}",
			want:  []string{"Testfile:4", `unrecognized registration subdirective "initial_access_tokens"`},
		},
		{
			name:  "registration token without policy",
			input: "oidc_provider {\n issuer https://a.example\n registration {\n  policy open\n  initial_access_token {env.T}\n }\n}",
			want:  []string{"Testfile:5", "initial_access_tokens are only used with policy initial_access_token", "(registration.initial_access_tokens)"},
		},
		{
			name:  "registration allowed_scopes without scopes",
			input: "oidc_provider {\n issuer https://a.example\n registration {\n  policy open\n  allowed_scopes\n }\n}",
			want:  []string{"Testfile:5", "wrong argument count"},
		},
		{
			name:  "registration twice",
			input: "oidc_provider {\n issuer https://a.example\n registration {\n  policy open\n }\n registration {\n  policy closed\n }\n}",
			want:  []string{"Testfile:6", "registration already specified"},
		},
		{
			name:  "require_par with argument",
			input: "oidc_provider {\n issuer https://a.example\n require_par on\n}",
			want:  []string{"Testfile:3", "wrong argument count"},
		},
		{
			name:  "login_throttle unknown subdirective",
			input: "oidc_provider {\n issuer https://a.example\n login_throttle {\n  attempts 3\n }\n}",
			want:  []string{"Testfile:4", `unrecognized login_throttle subdirective "attempts"`},
		},
		{
			name:  "login_throttle bad count",
			input: "oidc_provider {\n issuer https://a.example\n login_throttle {\n  free_attempts 0\n }\n}",
			want:  []string{"Testfile:4", "free_attempts must be a positive whole number"},
		},
		{
			name:  "login_throttle bad password-check bound",
			input: "oidc_provider {\n issuer https://a.example\n login_throttle {\n  max_concurrent_password_checks -1\n }\n}",
			want:  []string{"Testfile:4", "max_concurrent_password_checks must be a positive whole number"},
		},
		{
			name:  "login_throttle bad duration",
			input: "oidc_provider {\n issuer https://a.example\n login_throttle {\n  window forever\n }\n}",
			want:  []string{"Testfile:4", "login_throttle window: invalid duration"},
		},
		{
			name:  "login_throttle base above max",
			input: "oidc_provider {\n issuer https://a.example\n login_throttle {\n  base_delay 1m\n  max_delay 10s\n }\n}",
			want:  []string{"Testfile:4", "base_delay must not exceed max_delay", "(login_throttle.base_delay)"},
		},
		{
			name:  "max_body_size without unit",
			input: "oidc_provider {\n issuer https://a.example\n max_body_size 64\n}",
			want:  []string{"Testfile:3", "less than 1KiB; give a unit"},
		},
		{
			name:  "max_body_size not a size",
			input: "oidc_provider {\n issuer https://a.example\n max_body_size lots\n}",
			want:  []string{"Testfile:3", `max_body_size: invalid size "lots"`},
		},
		{
			name:  "secret_key_file twice",
			input: "oidc_provider {\n issuer https://a.example\n secret_key_file /a\n secret_key_file /b\n}",
			want:  []string{"Testfile:4", "secret_key_file already specified"},
		},
		{
			name:  "client public with argument",
			input: "oidc_provider {\n issuer https://a.example\n client app {\n  public yes\n }\n}",
			want:  []string{"Testfile:4", "wrong argument count"},
		},
		{
			name:  "user claim without value",
			input: "oidc_provider {\n issuer https://a.example\n user demo {\n  claim name\n }\n}",
			want:  []string{"Testfile:4", "usage: claim <name> <value>"},
		},
		{
			name:  "user unknown subdirective",
			input: "oidc_provider {\n issuer https://a.example\n user demo {\n  password secret\n }\n}",
			want:  []string{"Testfile:4", `unrecognized user subdirective "password"`},
		},
		{
			name:  "bad bool",
			input: "oidc_provider {\n issuer https://a.example\n cookie {\n  secure yes\n }\n}",
			want:  []string{"Testfile:4", "cookie secure must be on or off"},
		},
		{
			name:  "unknown cookie subdirective",
			input: "oidc_provider {\n issuer https://a.example\n cookie {\n  samesite lax\n }\n}",
			want:  []string{"Testfile:4", `unrecognized cookie subdirective "samesite"`},
		},
		{
			name:  "bad log exporter",
			input: "oidc_provider {\n issuer https://a.example\n log_exporter jaeger\n}",
			want:  []string{"Testfile:3", "log_exporter must be otlp, console or none"},
		},
		{
			name:  "branding colour unquoted is a comment",
			input: "oidc_provider {\n issuer https://a.example\n branding {\n  primary_color #0b5fff\n }\n}",
			want:  []string{"Testfile:4", "quote it"},
		},
		{
			name:  "branding colour not hex",
			input: "oidc_provider {\n issuer https://a.example\n branding {\n  primary_color \"red;}\"\n }\n}",
			want:  []string{"Testfile:4", "#rgb or #rrggbb"},
		},
		{
			name:  "branding logo not https",
			input: "oidc_provider {\n issuer https://a.example\n branding {\n  logo_url http://cdn.example/l.svg\n }\n}",
			want:  []string{"Testfile:4", "logo_url"},
		},
		{
			name:  "branding twice",
			input: "oidc_provider {\n issuer https://a.example\n branding {\n }\n branding {\n }\n}",
			want:  []string{"Testfile:5", "branding already specified"},
		},
		{
			name:  "branding unknown",
			input: "oidc_provider {\n issuer https://a.example\n branding {\n  colour red\n }\n}",
			want:  []string{"Testfile:4", `unrecognized branding subdirective "colour"`},
		},
		{
			name:  "span_events takes no argument",
			input: "oidc_provider {\n issuer https://a.example\n span_events on\n}",
			want:  []string{"Testfile:3", "wrong argument count"},
		},
	}
	runCaddyfileErrorCases(t, tests)
}

// A literal secret must never show up in a parse error, even when the line
// holding it is wrong.
func TestUnmarshalCaddyfileKeepsSecretOutOfErrors(t *testing.T) {
	const secret = "s3cr3t-literal-value"
	for name, input := range map[string]string{
		"client secret":                 "client app {\n  secret " + secret + " extra\n }",
		"initial access token":          "registration {\n  policy initial_access_token\n  initial_access_token " + secret + " extra\n }",
		"initial access token, policy":  "registration {\n  initial_access_token " + secret + "\n  policy open\n }",
		"initial access token, trailer": "registration {\n  policy initial_access_token\n  initial_access_token x " + secret + "\n }",
	} {
		t.Run(name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("oidc_provider {\n issuer https://a.example\n " + input + "\n}"))
			if err == nil {
				t.Fatal("expected an error")
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
}

// caddyfileErrorCase is a Caddyfile that must not parse: every string of
// want must appear in the error (the file:line, the subdirective, the rule).
type caddyfileErrorCase struct {
	name  string
	input string
	want  []string
}

func runCaddyfileErrorCases(t *testing.T, tests []caddyfileErrorCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if err == nil {
				t.Fatalf("expected an error, got config %+v", h)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
