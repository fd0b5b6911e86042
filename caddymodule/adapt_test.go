package caddymodule

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current adapter output")

// TestAdaptGolden pins the JSON that `caddy adapt` produces for our
// directive: it is what users see in `caddy adapt` and the admin API, and
// its field names are a public contract.
func TestAdaptGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.caddyfile"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no testdata/*.caddyfile: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".caddyfile")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			adapter := caddyfile.Adapter{ServerType: httpcaddyfile.ServerType{}}
			out, warnings, err := adapter.Adapt(src, map[string]any{"filename": in})
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			for _, w := range warnings {
				t.Errorf("adapter warning: %s", w.String())
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, out, "", "\t"); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')

			golden := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./caddymodule -run TestAdaptGolden -update)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("adapted JSON differs from %s (rerun with -update if intended):\n%s", golden, pretty.String())
			}

			// The adapted JSON must decode into the handler without loss.
			var doc struct {
				Apps struct {
					HTTP struct {
						Servers map[string]struct {
							Routes []struct {
								Handle []json.RawMessage `json:"handle"`
							} `json:"routes"`
						} `json:"servers"`
					} `json:"http"`
				} `json:"apps"`
			}
			if err := json.Unmarshal(out, &doc); err != nil {
				t.Fatal(err)
			}
			found := 0
			for _, srv := range doc.Apps.HTTP.Servers {
				for _, r := range srv.Routes {
					found += countHandlers(t, r.Handle)
				}
			}
			if found != 1 {
				t.Fatalf("found %d oidc_provider handlers in the adapted config, want 1", found)
			}
		})
	}
}

// countHandlers walks handler lists, including subroutes, and strictly
// decodes every oidc_provider handler it meets.
func countHandlers(t *testing.T, handlers []json.RawMessage) int {
	t.Helper()
	n := 0
	for _, raw := range handlers {
		var head struct {
			Handler string `json:"handler"`
			Routes  []struct {
				Handle []json.RawMessage `json:"handle"`
			} `json:"routes"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			t.Fatal(err)
		}
		for _, r := range head.Routes {
			n += countHandlers(t, r.Handle)
		}
		if head.Handler != "oidc_provider" {
			continue
		}
		var withName struct {
			Handler
			Name string `json:"handler"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&withName); err != nil {
			t.Fatalf("oidc_provider JSON does not decode into Handler: %v", err)
		}
		if withName.Issuer == "" || len(withName.Clients) != 6 || len(withName.Users) != 1 || len(withName.Resources) != 1 ||
			withName.Registration == nil || withName.LoginThrottle == nil || withName.Lifetimes.RefreshTokenReuseGrace == nil {
			t.Fatalf("decoded handler lost fields: %+v", withName.Handler)
		}
		n++
	}
	return n
}
