// Package archtest enforces the layering of the module: the protocol engine
// in provider/ stays plain Go and net/http, so it can be tested without Caddy
// and embedded elsewhere, and so that Caddy, telemetry and storage choices
// remain replaceable glue around it.
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// forbidden are import path prefixes provider/ must not depend on, directly
// or transitively.
var forbidden = []string{
	"github.com/caddyserver/",
	"go.opentelemetry.io/",
	"github.com/prometheus/",
	"github.com/dgraph-io/",
	"github.com/jackc/", // pgx: the Postgres store's driver
}

func violations(t *testing.T, pattern string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pattern).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pattern, err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatalf("go list -deps %s returned nothing", pattern)
	}
	var bad []string
	for _, dep := range deps {
		for _, prefix := range forbidden {
			if strings.HasPrefix(dep, prefix) {
				bad = append(bad, dep)
			}
		}
	}
	return bad
}

func TestProviderHasNoInfrastructureDependencies(t *testing.T) {
	for _, dep := range violations(t, "github.com/oidcaddy/oidcaddy/provider/...") {
		t.Errorf("provider depends on %s; keep Caddy, OpenTelemetry, Prometheus, Badger and pgx out of the protocol engine and reach them through provider's interfaces", dep)
	}
}

// The glue package necessarily imports Caddy; if the check found nothing
// there, it would be checking nothing.
func TestCheckDetectsDependencies(t *testing.T) {
	if len(violations(t, "github.com/oidcaddy/oidcaddy/caddymodule")) == 0 {
		t.Fatal("the dependency check found no Caddy import in caddymodule; it is broken")
	}
}

// Storage backends and telemetry are used by the Caddy glue, never the other
// way round: they must not import caddymodule (nor anything of Caddy, for
// the stores), so they stay usable and testable without a Caddy config.
func TestStoresAndTelemetryDoNotImportTheGlue(t *testing.T) {
	for pattern, banned := range map[string][]string{
		"github.com/oidcaddy/oidcaddy/store/...":     {"github.com/oidcaddy/oidcaddy/caddymodule", "github.com/caddyserver/"},
		"github.com/oidcaddy/oidcaddy/telemetry/...": {"github.com/oidcaddy/oidcaddy/caddymodule"},
		// The browser of the provider's and the telemetry's tests.
		"github.com/oidcaddy/oidcaddy/internal/formflow": {"github.com/oidcaddy/oidcaddy/caddymodule", "github.com/caddyserver/"},
	} {
		out, err := exec.Command("go", "list", "-deps", pattern).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pattern, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, prefix := range banned {
				if strings.HasPrefix(dep, prefix) {
					t.Errorf("%s depends on %s", pattern, dep)
				}
			}
		}
	}
}
