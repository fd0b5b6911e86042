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
