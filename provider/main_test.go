package provider_test

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/oidcaddy/oidcaddy/internal/pgtest"
	"github.com/oidcaddy/oidcaddy/provider"
)

// TestMain checks, after a full run, that the tests made the provider emit
// every event of the catalogue: the names are a public contract, and an
// event no path emits is a dashboard panel that never moves.
//
// The package's tests run in parallel (t.Parallel in each, except those that
// change process-wide state such as cryptotest.SetGlobalRandom), each on its
// own provider and store. TestMain lets more of them run at once than
// -test.parallel's default of GOMAXPROCS, unless -parallel is given: several
// wait on the wall clock rather than the CPU (net/http's 500 ms lingering
// close after an oversized body, body-read deadlines, a relying party that
// is slow to answer), and with two cores the rest would queue behind them.
func TestMain(m *testing.M) {
	flag.Parse()
	parallelGiven := false
	flag.Visit(func(f *flag.Flag) { parallelGiven = parallelGiven || f.Name == "test.parallel" })
	if !parallelGiven {
		if err := flag.Set("test.parallel", strconv.Itoa(max(8, 4*runtime.GOMAXPROCS(0)))); err != nil {
			fmt.Fprintln(os.Stderr, "setting -test.parallel:", err)
			os.Exit(2)
		}
	}
	// pgtest.Main runs the tests and then removes the PostgreSQL cluster
	// that benchmarks on OIDC_BENCH_STORE=postgres start (harness_test.go).
	code := pgtest.Main(m)
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
