package postgres_test

import (
	"context"
	"net"
	"os"
	"sync"
	"testing"

	"github.com/oidcaddy/oidcaddy/internal/pgtest"
	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/store/postgres"
	"github.com/oidcaddy/oidcaddy/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// open returns a store on dsn, closed when the test ends.
func open(t testing.TB, dsn string, opts postgres.Options) *postgres.Store {
	t.Helper()
	opts.DSN = dsn
	s, err := postgres.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) provider.Store {
		return open(t, pgtest.Database(t), postgres.Options{})
	})
}

// The same behind PgBouncer-style simple protocol.
func TestConformanceSimpleProtocol(t *testing.T) {
	storetest.Run(t, func(t *testing.T) provider.Store {
		return open(t, pgtest.Database(t), postgres.Options{SimpleProtocol: true})
	})
}

// "Restarting" a Postgres store is closing its pool and opening a new one
// on the same database.
func TestPersistence(t *testing.T) {
	var mu sync.Mutex
	dsns := map[string]string{}
	storetest.RunPersistence(t, func(t *testing.T, dir string) provider.Store {
		mu.Lock()
		dsn, ok := dsns[dir]
		if !ok {
			dsn = pgtest.Database(t)
			dsns[dir] = dsn
		}
		mu.Unlock()
		return open(t, dsn, postgres.Options{})
	})
}

// Two pools on one database stand for two Caddy instances.
func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (provider.Store, provider.Store) {
		dsn := pgtest.Database(t)
		return open(t, dsn, postgres.Options{}), open(t, dsn, postgres.Options{SimpleProtocol: true})
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
