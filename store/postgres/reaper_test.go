package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/internal/pgtest"
	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/store/postgres"
)

func rows(t *testing.T, s *postgres.Store) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(context.Background(), "SELECT count(*) FROM oidc_provider_records").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The reaper deletes expired rows, in batches, and nothing else; rows
// inside the grace period stay.
func TestReapDeletesExpiredRowsInBatches(t *testing.T) {
	s := open(t, pgtest.Database(t), postgres.Options{ReapInterval: -1})
	ctx := context.Background()
	now := time.Now()
	put := func(id string, exp time.Time) {
		t.Helper()
		if err := s.Put(ctx, provider.Record{Kind: "k", ID: id, Payload: []byte("x"), ExpiresAt: exp}, false); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 25 {
		put(fmt.Sprintf("old-%d", i), now.Add(-time.Hour))
	}
	put("recent", now.Add(-time.Second))
	put("live", now.Add(time.Hour))
	put("forever", time.Time{})

	n, err := s.Reap(ctx, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if n != 25 {
		t.Errorf("Reap deleted %d rows, want the 25 expired for an hour", n)
	}
	if got := rows(t, s); got != 3 {
		t.Errorf("%d rows left, want 3 (recent, live, forever)", got)
	}
	if n, err = s.Reap(ctx, 10, 0); err != nil || n != 1 {
		t.Errorf("Reap without grace = %d, %v; want the 1 recently expired row", n, err)
	}
	for _, id := range []string{"live", "forever"} {
		if _, err := s.Get(ctx, "k", id); err != nil {
			t.Errorf("Get(%s) after reaping: %v", id, err)
		}
	}
}

// One instance reaps at a time: while another holds the reaper's lock,
// Reap leaves the round to it.
func TestReapLeavesTheRoundToTheInstanceHoldingTheLock(t *testing.T) {
	dsn := pgtest.Database(t)
	a := open(t, dsn, postgres.Options{ReapInterval: -1})
	ctx := context.Background()
	if err := a.Put(ctx, provider.Record{Kind: "k", ID: "old", Payload: []byte("x"), ExpiresAt: time.Now().Add(-time.Hour)}, true); err != nil {
		t.Fatal(err)
	}
	tx, err := a.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var got bool
	if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", postgres.ReapLockKey).Scan(&got); err != nil || !got {
		t.Fatalf("taking the reaper lock: %v %v", got, err)
	}
	b := open(t, dsn, postgres.Options{ReapInterval: -1})
	if n, err := b.Reap(ctx, 10, 0); err != nil || n != 0 {
		t.Errorf("Reap while another instance holds the lock = %d, %v; want 0, nil", n, err)
	}
	tx.Rollback(ctx)
	if n, err := b.Reap(ctx, 10, 0); err != nil || n != 1 {
		t.Errorf("Reap after the lock was released = %d, %v; want 1, nil", n, err)
	}
}

// The background reaper runs by itself.
func TestReaperRunsInTheBackground(t *testing.T) {
	s := open(t, pgtest.Database(t), postgres.Options{ReapInterval: 20 * time.Millisecond, ReapGrace: -1})
	ctx := context.Background()
	if err := s.Put(ctx, provider.Record{Kind: "k", ID: "old", Payload: []byte("x"), ExpiresAt: time.Now().Add(-time.Hour)}, true); err != nil {
		t.Fatal(err)
	}
	// Bounded wait for an event, not a timing assertion.
	deadline := time.Now().Add(30 * time.Second)
	for rows(t, s) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the background reaper did not delete an expired row within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
