package provider_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

// TestMain checks, after a full run, that the tests made the provider emit
// every event of the catalogue: the names are a public contract, and an
// event no path emits is a dashboard panel that never moves.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if code != 0 || flag.Lookup("test.run").Value.String() != "" || flag.Lookup("test.bench").Value.String() != "" || flag.Lookup("test.fuzz").Value.String() != "" {
		os.Exit(code)
	}
	var missing []provider.EventName
	for _, name := range provider.Catalogue {
		if _, ok := seenEvents.Load(name); !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the provider tests never saw these catalogued events: %v\n", missing)
		os.Exit(1)
	}
	os.Exit(code)
}
