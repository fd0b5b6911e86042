package postgres_test

import (
	"testing"

	"github.com/oidcaddy/oidcaddy/internal/pgtest"
	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/store/postgres"
	"github.com/oidcaddy/oidcaddy/store/storetest"
)

// BenchmarkStore runs the backends' shared benchmarks (storetest.Benchmark)
// on the throwaway cluster on loopback, fsync on, so Postgres and Badger
// compare as ratios in one run (docs/performance.md).
func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) provider.Store {
		return open(b, pgtest.Database(b), postgres.Options{MaxConns: 16})
	}, nil)
}
