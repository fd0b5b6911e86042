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

// The races below run on one store handle (Run) or spread over two handles on
// one database, as two processes would be (RunShared): caller i uses
// handles[i%len(handles)], and every handle must see the same outcome.

func testConsumeConcurrent(t *testing.T, s provider.Store) { raceConsume(t, "contested", s) }
func testCreateConcurrent(t *testing.T, s provider.Store)  { raceCreate(t, "contested-jti", s) }
func testUpdateConcurrent(t *testing.T, s provider.Store)  { raceUpdate(t, "counter", 20, s) }

// raceConsume: of concurrent Consumes of one record exactly one succeeds;
// the others get ErrAlreadyConsumed with the winner's record.
func raceConsume(t *testing.T, id string, handles ...provider.Store) {
	const callers = 32
	ctx := context.Background()
	rec := plain(kindA, id, "code")
	put(t, handles[0], rec)
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
		s := handles[i%len(handles)]
		wg.Go(func() {
			at := base.Add(time.Duration(i+1) * time.Millisecond)
			<-start
			got, err := s.Consume(ctx, kindA, id, at)
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
				t.Errorf("more than one Consume succeeded")
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
	checkRecord(t, "winner's record", winner.rec, want)
	for _, r := range results {
		if errors.Is(r.err, provider.ErrAlreadyConsumed) {
			checkRecord(t, "loser's record", r.rec, want)
		}
	}
	for _, s := range handles {
		checkGet(t, s, want)
	}
}

// raceCreate: of concurrent Creates of one key (durable and not) exactly one
// succeeds, and its record is the one stored.
func raceCreate(t *testing.T, id string, handles ...provider.Store) {
	const callers = 32
	ctx := context.Background()
	errs := make([]error, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		s := handles[i%len(handles)]
		wg.Go(func() {
			<-start
			errs[i] = s.Create(ctx, plain(kindA, id, strconv.Itoa(i)), i%4 < 2)
		})
	}
	close(start)
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if won >= 0 {
				t.Errorf("Creates %d and %d both succeeded", won, i)
			}
			won = i
		case !errors.Is(err, provider.ErrAlreadyExists):
			t.Errorf("Create: %v, want success or ErrAlreadyExists", err)
		}
	}
	if won < 0 {
		t.Fatal("no Create succeeded")
	}
	for _, s := range handles {
		if got := get(t, s, kindA, id); string(got.Payload) != strconv.Itoa(won) {
			t.Errorf("stored payload %q, want the winner's %d", got.Payload, won)
		}
	}
}

// raceUpdate: concurrent increments of one counter lose none, and each
// Update returns a count no other Update returned.
func raceUpdate(t *testing.T, id string, goroutines int, handles ...provider.Store) {
	const perGoroutine = 10
	ctx := context.Background()
	put(t, handles[0], plain(kindA, id, "0"))

	results := make(chan int, goroutines*perGoroutine)
	errs := make(chan error, goroutines*perGoroutine)
	var wg sync.WaitGroup
	for i := range goroutines {
		s := handles[i%len(handles)]
		wg.Go(func() {
			for range perGoroutine {
				got, err := s.Update(ctx, kindA, id, func(r *provider.Record) error {
					n, err := strconv.Atoi(string(r.Payload))
					if err != nil {
						return err
					}
					r.Payload = strconv.AppendInt(r.Payload[:0], int64(n+1), 10)
					return nil
				})
				if err != nil {
					errs <- err
					continue
				}
				n, err := strconv.Atoi(string(got.Payload))
				if err != nil {
					errs <- err
					continue
				}
				results <- n
			}
		})
	}
	wg.Wait()
	close(results)
	close(errs)
	for err := range errs {
		t.Errorf("Update: %v", err)
	}
	seen := make(map[int]bool)
	for n := range results {
		if seen[n] {
			t.Errorf("two Updates returned counter %d", n)
		}
		seen[n] = true
	}
	for n := 1; n <= goroutines*perGoroutine; n++ {
		if !seen[n] {
			t.Errorf("no Update returned counter %d", n)
		}
	}
	want := strconv.Itoa(goroutines * perGoroutine)
	for _, s := range handles {
		if got := get(t, s, kindA, id); string(got.Payload) != want {
			t.Errorf("final counter %q, want %s: updates were lost", got.Payload, want)
		}
	}
}
