package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oidcaddy/oidcaddy/internal/pgtest"
	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/store/postgres"
)

// every runs each Store operation once and returns their errors by name.
func every(s provider.Store) map[string]error {
	ctx := context.Background()
	errs := map[string]error{}
	errs["Put"] = s.Put(ctx, provider.Record{Kind: "k", ID: "new", Payload: []byte("x")}, true)
	errs["Put non-durable"] = s.Put(ctx, provider.Record{Kind: "k", ID: "new2", Payload: []byte("x")}, false)
	errs["Create"] = s.Create(ctx, provider.Record{Kind: "k", ID: "jti", Payload: []byte("x")}, true)
	_, errs["Get"] = s.Get(ctx, "k", "live")
	_, errs["GetByUID"] = s.GetByUID(ctx, "k", "uid-live")
	_, errs["Update"] = s.Update(ctx, "k", "live", func(r *provider.Record) error { return nil })
	_, errs["Consume"] = s.Consume(ctx, "k", "code", time.Now())
	errs["Delete"] = s.Delete(ctx, "k", "doomed")
	_, errs["DeleteByGrant"] = s.DeleteByGrant(ctx, "g")
	return errs
}

// A database that is down gives provider.ErrUnavailable (the provider's
// 503 temporarily_unavailable) from every operation, quickly and without the
// password in the text; once it is back the same store serves again by
// itself, without a new pool.
func TestDatabaseDownIsUnavailableAndRecovers(t *testing.T) {
	c := pgtest.NewCluster(t)
	dsn := c.NewDatabase(t)
	var mu sync.Mutex
	var changes []bool
	s := open(t, dsn, postgres.Options{OpTimeout: 3 * time.Second, OnHealthChange: func(healthy bool, cause error) {
		mu.Lock()
		defer mu.Unlock()
		changes = append(changes, healthy)
		if !healthy && !errors.Is(cause, provider.ErrUnavailable) {
			t.Errorf("unhealthy with cause %v, want an ErrUnavailable", cause)
		}
	}})
	ctx := context.Background()
	seed := func() {
		t.Helper()
		for _, r := range []provider.Record{
			{Kind: "k", ID: "live", UID: "uid-live", Payload: []byte("x")},
			{Kind: "k", ID: "code", Payload: []byte("x")},
			{Kind: "k", ID: "doomed", GrantID: "g", Payload: []byte("x")},
		} {
			if err := s.Put(ctx, r, true); err != nil {
				t.Fatalf("Put: %v", err)
			}
		}
	}
	seed()

	c.Stop()
	for op, err := range every(s) {
		if !errors.Is(err, provider.ErrUnavailable) {
			t.Errorf("%s with the database down: %v, want ErrUnavailable", op, err)
		}
		if err != nil && strings.Contains(err.Error(), c.Password()) {
			t.Errorf("%s: the error text contains the password: %v", op, err)
		}
	}

	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	seed()
	for op, err := range every(s) {
		if err != nil {
			t.Errorf("%s after the database came back: %v", op, err)
		}
	}
	// Health changed exactly twice: down once, up once.
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 2 || changes[0] || !changes[1] {
		t.Errorf("health changes %v, want [false true]", changes)
	}
}

// A database that stops answering (here: a row lock held elsewhere) makes
// the operation fail with ErrUnavailable after the per-operation deadline
// instead of hanging the request.
func TestSlowDatabaseHitsTheDeadline(t *testing.T) {
	dsn := pgtest.Database(t)
	s := open(t, dsn, postgres.Options{OpTimeout: 300 * time.Millisecond})
	ctx := context.Background()
	if err := s.Put(ctx, provider.Record{Kind: "k", ID: "held", Payload: []byte("x")}, true); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT 1 FROM oidc_provider_records FOR UPDATE"); err != nil {
		t.Fatal(err)
	}

	_, err = s.Update(ctx, "k", "held", func(*provider.Record) error { return nil })
	if !errors.Is(err, provider.ErrUnavailable) {
		t.Errorf("Update of a row locked elsewhere: %v, want ErrUnavailable", err)
	}
	_, err = s.Consume(ctx, "k", "held", time.Now())
	if !errors.Is(err, provider.ErrUnavailable) {
		t.Errorf("Consume of a row locked elsewhere: %v, want ErrUnavailable", err)
	}
	// Reads do not wait for row locks.
	if _, err := s.Get(ctx, "k", "held"); err != nil {
		t.Errorf("Get: %v", err)
	}
	tx.Rollback(ctx)
	if _, err := s.Consume(ctx, "k", "held", time.Now()); err != nil {
		t.Errorf("Consume after the lock was released: %v", err)
	}
}

// A database that refuses writes (a read-only standby after a failover,
// default_transaction_read_only) is unavailable for writes; reads go on.
func TestReadOnlyDatabaseRefusesWritesAsUnavailable(t *testing.T) {
	c := pgtest.Shared(t)
	dsn := c.NewDatabase(t)
	s := open(t, dsn, postgres.Options{})
	ctx := context.Background()
	if err := s.Put(ctx, provider.Record{Kind: "k", ID: "live", Payload: []byte("x")}, true); err != nil {
		t.Fatal(err)
	}
	name := dsn[strings.LastIndex(dsn, "/")+1 : strings.Index(dsn, "?")]
	c.Exec(t, "ALTER DATABASE "+name+" SET default_transaction_read_only = on")
	c.Exec(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '"+name+"'")

	err := s.Put(ctx, provider.Record{Kind: "k", ID: "new", Payload: []byte("x")}, true)
	if !errors.Is(err, provider.ErrUnavailable) {
		t.Errorf("Put on a read-only database: %v, want ErrUnavailable", err)
	}
	if _, err := s.Get(ctx, "k", "live"); err != nil {
		t.Errorf("Get on a read-only database: %v", err)
	}
}
