package caddymodule

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// FuzzUnmarshalCaddyfile feeds arbitrary block bodies to the parser: it must
// never panic, and whatever it accepts must survive the JSON round trip that
// `caddy adapt` and `caddy run` put it through.
func FuzzUnmarshalCaddyfile(f *testing.F) {
	for _, seed := range []string{
		"issuer https://a.example",
		"issuer https://a.example\nstorage /tmp/x\nsigning_key ES256 /k.pem\nsigning_key RS256",
		"issuer https://a.example\nlifetimes {\n session 14d\n access_token 1h\n}",
		"issuer https://a.example\nclient app {\n name \"App\"\n secret {env.S}\n redirect_uri https://a/cb https://a/cb2\n public\n skip_consent\n auth_method none\n grant_types authorization_code refresh_token\n}",
		"issuer https://a.example\nuser demo {\n password_hash $2a$10$x\n subject s\n claim email_verified true\n claim name \"A B\"\n}",
		"issuer https://a.example\ncookie {\n secure on\n name_prefix p\n domain example.com\n}\ntemplates /t\nlog_exporter otlp\nusers_file /u.json",
		"issuer https://a.example\nlifetimes {\n refresh_token 14d\n refresh_token_absolute 30d\n refresh_token_reuse_grace 0\n pushed_authorization_request 60s\n}",
		"issuer https://a.example\nclient m {\n auth_method private_key_jwt\n jwks_file /k.json\n access_token_format jwt\n allowed_scopes a b\n always_issue_refresh_token\n disable_refresh_token_rotation\n require_par\n backchannel_logout_uri https://rp/bc\n}\nclient n {\n jwks_uri https://rp/jwks\n}",
		"issuer https://a.example\nresource https://api.example/ {\n scopes a b\n access_token_format opaque\n}\nresource urn:x",
		"issuer https://a.example\nregistration {\n policy initial_access_token\n initial_access_token {env.T}\n rotate_registration_access_token\n}\nrequire_par\nsecret_key_file /s.key",
		"issuer https://a.example\nlogin_throttle {\n free_attempts 3\n window 10m\n base_delay 1s\n max_delay 1m\n}\nmax_body_size 64KiB",
		"client {\n}\n}",
		"lifetimes {\n session\n}",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		tokens, err := caddyfile.Tokenize([]byte("oidc_provider {\n"+body+"\n}\n"), "Fuzzfile")
		if err != nil {
			return
		}
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewDispenser(tokens)); err != nil {
			return
		}
		data, err := json.Marshal(&h)
		if err != nil {
			t.Fatalf("accepted config does not marshal: %v", err)
		}
		var back Handler
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("accepted config does not unmarshal: %v\n%s", err, data)
		}
		if !reflect.DeepEqual(h, back) {
			t.Fatalf("JSON round trip changed the config:\n%+v\n%+v\n%s", h, back, data)
		}
	})
}
