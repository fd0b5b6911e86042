package caddymodule

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func boolPtr(b bool) *bool { return &b }

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
				Issuer:  "http://localhost:8080/auth",
				Storage: &StorageConfig{Dir: "./data/oidc"},
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
	tests := []struct {
		name  string
		input string
		// every string must appear in the error
		want []string
	}{
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
			input: "oidc_provider {\n issuer https://a.example\n lifetimes {\n  refresh_token 1h\n }\n}",
			want:  []string{"Testfile:4", `unrecognized lifetimes subdirective "refresh_token"`},
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
			input: "oidc_provider {\n issuer https://a.example\n client app {\n  auth_method private_key_jwt\n }\n}",
			want:  []string{"Testfile:4", "auth_method must be one of"},
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
	}
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

// A literal secret must never show up in a parse error, even when the line
// holding it is wrong.
func TestUnmarshalCaddyfileKeepsSecretOutOfErrors(t *testing.T) {
	const secret = "s3cr3t-literal-value"
	var h Handler
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(
		"oidc_provider {\n issuer https://a.example\n client app {\n  secret " + secret + " extra\n }\n}"))
	if err == nil {
		t.Fatal("expected an error")
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error leaks the secret: %v", err)
	}
}
