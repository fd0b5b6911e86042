package storetest

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// SharedOpenFunc returns two independent store handles (each with its own
// connections, as two processes would have) on one fresh, empty database.
// It should register its own cleanup.
type SharedOpenFunc func(t *testing.T) (a, b provider.Store)

// RunShared checks what several instances of the provider sharing one
// database rely on: what one handle writes the other reads, and the atomic
// operations stay atomic across handles: exactly one Consume and one Create
// win, no Update is lost.
//
// It applies to backends that can open one database twice (Postgres). Badger
// cannot: it locks its directory to one process, so it does not run these.
func RunShared(t *testing.T, open SharedOpenFunc) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b provider.Store)
	}{
		{"WritesVisibleAcross", testSharedVisible},
		{"ConsumeAcross", testSharedConsume},
		{"CreateAcross", testSharedCreate},
		{"UpdateAcross", testSharedUpdate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := open(t)
			tc.fn(t, a, b)
		})
	}
}

func testSharedVisible(t *testing.T, a, b provider.Store) {
	ctx := context.Background()
	rec := full(kindA, "shared")
	put(t, a, rec)
	checkGet(t, b, rec)
	if got, err := b.GetByUID(ctx, kindA, rec.UID); err != nil || diff(got, rec) != "" {
		t.Errorf("GetByUID on the other handle = %q, %v; want the record", got.ID, err)
	}

	// A UID taken over on one handle moves for both.
	thief := plain(kindA, "thief", "x")
	thief.UID = rec.UID
	put(t, b, thief)
	if got, err := a.GetByUID(ctx, kindA, rec.UID); err != nil || got.ID != "thief" {
		t.Errorf("after the other handle took the UID, GetByUID = %q, %v; want \"thief\"", got.ID, err)
	}

	if err := b.Delete(ctx, kindA, "shared"); err != nil {
		t.Fatalf("Delete on the other handle: %v", err)
	}
	checkAbsent(t, a, kindA, "shared", "")

	member := plain(kindB, "member", "m")
	member.GrantID = "shared-grant"
	put(t, a, member)
	removed, err := b.DeleteByGrant(ctx, "shared-grant")
	if err != nil {
		t.Fatalf("DeleteByGrant on the other handle: %v", err)
	}
	checkRemoved(t, "shared-grant", removed, member)
	checkAbsent(t, a, kindB, "member", "")
}

func testSharedConsume(t *testing.T, a, b provider.Store) {
	const callers = 32
	ctx := context.Background()
	rec := plain(kindA, "shared-code", "code")
	put(t, a, rec)
	base := time.Now()
	type result struct {
		at  time.Time
		rec provider.Record
		err error
	}
	results := make([]result, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		s := []provider.Store{a, b}[i%2]
		wg.Go(func() {
			at := base.Add(time.Duration(i+1) * time.Millisecond)
			<-start
			got, err := s.Consume(ctx, kindA, "shared-code", at)
			results[i] = result{at, got, err}
		})
	}
	close(start)
	wg.Wait()
	var winner *result
	for i := range results {
		r := &results[i]
		switch {
		case r.err == nil:
			if winner != nil {
				t.Errorf("more than one Consume succeeded across the two handles")
			}
			winner = r
		case !errors.Is(r.err, provider.ErrAlreadyConsumed):
			t.Errorf("Consume: %v, want success or ErrAlreadyConsumed", r.err)
		}
	}
	if winner == nil {
		t.Fatal("no Consume succeeded")
	}
	want := rec
	want.ConsumedAt = winner.at
	for _, r := range results {
		if errors.Is(r.err, provider.ErrAlreadyConsumed) {
			checkRecord(t, "loser's record", r.rec, want)
		}
	}
	checkGet(t, a, want)
	checkGet(t, b, want)
}

func testSharedCreate(t *testing.T, a, b provider.Store) {
	const callers = 32
	ctx := context.Background()
	errs := make([]error, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		s := []provider.Store{a, b}[i%2]
		wg.Go(func() {
			<-start
			errs[i] = s.Create(ctx, plain(kindA, "shared-jti", strconv.Itoa(i)), i%4 < 2)
		})
	}
	close(start)
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if won >= 0 {
				t.Errorf("Creates %d and %d both succeeded across the two handles", won, i)
			}
			won = i
		case !errors.Is(err, provider.ErrAlreadyExists):
			t.Errorf("Create: %v, want success or ErrAlreadyExists", err)
		}
	}
	if won < 0 {
		t.Fatal("no Create succeeded")
	}
	for _, s := range []provider.Store{a, b} {
		if got := get(t, s, kindA, "shared-jti"); string(got.Payload) != strconv.Itoa(won) {
			t.Errorf("stored payload %q, want the winner's %d", got.Payload, won)
		}
	}
}

func testSharedUpdate(t *testing.T, a, b provider.Store) {
	const goroutines, perGoroutine = 10, 10
	ctx := context.Background()
	put(t, a, plain(kindA, "shared-counter", "0"))
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*perGoroutine)
	for i := range goroutines {
		s := []provider.Store{a, b}[i%2]
		wg.Go(func() {
			for range perGoroutine {
				_, err := s.Update(ctx, kindA, "shared-counter", func(r *provider.Record) error {
					n, err := strconv.Atoi(string(r.Payload))
					if err != nil {
						return err
					}
					r.Payload = []byte(strconv.Itoa(n + 1))
					return nil
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Update: %v", err)
	}
	want := strconv.Itoa(goroutines * perGoroutine)
	for _, s := range []provider.Store{a, b} {
		if got := get(t, s, kindA, "shared-counter"); string(got.Payload) != want {
			t.Errorf("counter %q after %s increments across two handles: updates were lost", got.Payload, want)
		}
	}
}
