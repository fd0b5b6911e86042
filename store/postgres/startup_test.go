package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/oidcaddy/oidcaddy/internal/pgtest"
	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/store/postgres"
)

// Instances started at the same moment on an empty database all come up,
// and the schema is created exactly once: the migration runs under an
// advisory lock and the later ones find it done.
func TestConcurrentStartsMigrateOnce(t *testing.T) {
	const instances = 6
	dsn := pgtest.Database(t)
	stores := make([]*postgres.Store, instances)
	errs := make([]error, instances)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range instances {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = postgres.Open(context.Background(), postgres.Options{DSN: dsn})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: Open: %v", i, err)
			continue
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	if t.Failed() {
		t.FailNow()
	}
	var applied, distinct int
	if err := stores[0].Pool().QueryRow(context.Background(),
		"SELECT count(*), count(DISTINCT version) FROM oidc_provider_schema").Scan(&applied, &distinct); err != nil {
		t.Fatal(err)
	}
	if applied == 0 || applied != distinct {
		t.Errorf("schema table has %d rows for %d versions; want each migration recorded once", applied, distinct)
	}
	// And the schema works for all of them.
	for i, s := range stores {
		if _, err := s.Get(context.Background(), "k", "absent"); err == nil {
			t.Errorf("instance %d found a record in an empty database", i)
		}
	}
}

// A database serves one issuer: opening it for another fails and says why,
// since one table holding two issuers' records would let each accept the
// other's tokens.
func TestDatabaseBoundToOneIssuer(t *testing.T) {
	dsn := pgtest.Database(t)
	ctx := context.Background()
	a, err := postgres.Open(ctx, postgres.Options{DSN: dsn, Issuer: "https://a.example"})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	again, err := postgres.Open(ctx, postgres.Options{DSN: dsn, Issuer: "https://a.example"})
	if err != nil {
		t.Fatalf("reopening for the same issuer: %v", err)
	}
	again.Close()
	other, err := postgres.Open(ctx, postgres.Options{DSN: dsn, Issuer: "https://b.example"})
	if err == nil {
		other.Close()
		t.Fatal("a database of issuer a opened for issuer b")
	}
	if !errors.Is(err, postgres.ErrOtherIssuer) || !strings.Contains(err.Error(), "https://a.example") {
		t.Errorf("error %v, want ErrOtherIssuer naming the bound issuer", err)
	}
}

// Two issuers can share one database in separate schemas, chosen with
// search_path in the DSN, as the README suggests.
func TestSchemasPerIssuerViaSearchPath(t *testing.T) {
	dsn := pgtest.Database(t)
	ctx := context.Background()
	setup := open(t, dsn, postgres.Options{ReapInterval: -1})
	if _, err := setup.Pool().Exec(ctx, "CREATE SCHEMA issuer_a; CREATE SCHEMA issuer_b"); err != nil {
		t.Fatal(err)
	}
	a := open(t, dsn+"&search_path=issuer_a", postgres.Options{Issuer: "https://a.example"})
	b := open(t, dsn+"&search_path=issuer_b", postgres.Options{Issuer: "https://b.example"})
	if err := a.Put(ctx, provider.Record{Kind: "k", ID: "only-in-a", Payload: []byte("x")}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "k", "only-in-a"); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("issuer b sees issuer a's record: %v", err)
	}
	if _, err := a.Get(ctx, "k", "only-in-a"); err != nil {
		t.Errorf("issuer a: %v", err)
	}
}
