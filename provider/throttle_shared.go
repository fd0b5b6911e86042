package provider

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"
)

// SharedStore is implemented by a Store that several processes use at once
// (store/postgres: N Caddy instances serving one issuer). The provider then
// keeps in the store what it otherwise keeps in each process's memory: the
// login throttle's counters, so failures on one instance count on all.
type SharedStore interface {
	Store
	// SharedAcrossProcesses reports whether other processes read and write
	// the same records.
	SharedAcrossProcesses() bool
}

func storeIsShared(s Store) bool {
	ss, ok := s.(SharedStore)
	return ok && ss.SharedAcrossProcesses()
}

// reservationLifetime bounds how long a login's reservation counts against
// its keys if the instance that made it dies before settling it: a password
// check takes at most passwordCheckWait to start and well under the rest.
const reservationLifetime = passwordCheckWait + 30*time.Second

// sharedThrottle keeps loginThrottle's entries in the Store, one record per
// key, changed only by Store.Update (atomic across processes), so the
// reservation of loginThrottle works across instances: of concurrent guesses
// on several instances no more than the allowance are checked.
type sharedThrottle struct {
	store Store
	cfg   LoginThrottle
}

// storedThrottle is a throttle entry as stored. Pending holds the
// reservations in flight by the instant each lapses (Unix nanoseconds), so a
// reservation whose instance died stops counting by itself.
type storedThrottle struct {
	Failures int       `json:"f,omitempty"`
	First    time.Time `json:"s,omitzero"`
	Until    time.Time `json:"u,omitzero"`
	Pending  []int64   `json:"p,omitempty"`
}

// errThrottled aborts an Update whose key does not admit the attempt.
var errThrottled = errors.New("throttled")

// throttleRecordID keys a throttle record by a hash: a login name is
// personal data and has no business in the database in clear.
func throttleRecordID(key string) string { return secretID(key) }

// update applies fn to the entry of key in one Store.Update, creating the
// record when there is none. fn may run more than once (Update retries on
// conflicts) and must change nothing but its arguments.
func (s *sharedThrottle) update(ctx context.Context, key string, now time.Time, fn func(*throttleEntry, *storedThrottle) error) error {
	id := throttleRecordID(key)
	apply := func(rec *Record) error {
		var st storedThrottle
		if len(rec.Payload) > 0 {
			if err := json.Unmarshal(rec.Payload, &st); err != nil {
				return err
			}
		}
		st.Pending = slices.DeleteFunc(st.Pending, func(lapse int64) bool { return lapse <= now.UnixNano() })
		e := throttleEntry{failures: st.Failures, pending: len(st.Pending), first: st.First, until: st.Until}
		if err := fn(&e, &st); err != nil {
			return err
		}
		st.Failures, st.First, st.Until = e.failures, e.first, e.until
		b, err := json.Marshal(&st)
		if err != nil {
			return err
		}
		rec.Payload, rec.ExpiresAt = b, st.expiry(now, s.cfg.Window)
		return nil
	}
	for {
		_, err := s.store.Update(ctx, KindLoginThrottle, id, apply)
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		rec := Record{Kind: KindLoginThrottle, ID: id}
		if err := apply(&rec); err != nil {
			return err
		}
		if !rec.ExpiresAt.After(now) {
			return nil // nothing to keep
		}
		// Another instance may create it first; then update theirs.
		if err := s.store.Create(ctx, rec, false); !errors.Is(err, ErrAlreadyExists) {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// expiry is when the record holds nothing any more: the end of its lock, of
// its failure window, or of its last reservation. An entry with none of them
// expires now, which removes it.
func (st *storedThrottle) expiry(now time.Time, window time.Duration) time.Time {
	end := now
	if st.Until.After(end) {
		end = st.Until
	}
	if st.Failures > 0 && st.First.Add(window).After(end) {
		end = st.First.Add(window)
	}
	for _, lapse := range st.Pending {
		if t := time.Unix(0, lapse); t.After(end) {
			end = t
		}
	}
	return end
}

// removePending takes back one reservation made with lapse.
func (st *storedThrottle) removePending(lapse int64) {
	if i := slices.Index(st.Pending, lapse); i >= 0 {
		st.Pending = slices.Delete(st.Pending, i, i+1)
	}
}

// reserve is loginThrottle.reserveLogin on the store: each key in turn
// counts the attempt as pending if it admits it; when one does not, the
// keys already reserved are given back. It returns the reservation's lapse
// instant, which settle needs to find it again.
func (s *sharedThrottle) reserve(ctx context.Context, keys []string, now time.Time) (lapse int64, wait time.Duration, err error) {
	lapse = now.Add(reservationLifetime).UnixNano()
	for i, k := range keys {
		err := s.update(ctx, k, now, func(e *throttleEntry, st *storedThrottle) error {
			if wait = e.admits(now, s.cfg); wait > 0 {
				return errThrottled
			}
			st.Pending = append(st.Pending, lapse)
			return nil
		})
		if err != nil {
			s.release(keys[:i], lapse, now)
			if errors.Is(err, errThrottled) {
				return 0, wait, nil
			}
			return 0, 0, err
		}
	}
	return lapse, 0, nil
}

// release gives back reservations without counting them. It runs after the
// request's own work (or its failure), so it gets a context of its own: a
// reservation left behind would hold a place until it lapses.
func (s *sharedThrottle) release(keys []string, lapse int64, now time.Time) {
	s.settle(keys, "", lapse, attemptReleased, now)
}

// settle ends a reservation on every key: a failure is counted on each, a
// success clears accountKey's failures. Errors are dropped: the reservation
// then lapses by itself, and the request has its answer already.
func (s *sharedThrottle) settle(keys []string, accountKey string, lapse int64, outcome attemptOutcome, now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, k := range keys {
		_ = s.update(ctx, k, now, func(e *throttleEntry, st *storedThrottle) error {
			st.removePending(lapse)
			switch {
			case outcome == attemptFailed:
				e.fail(now, s.cfg)
			case outcome == attemptSucceeded && k == accountKey:
				e.failures, e.until = 0, time.Time{}
			}
			return nil
		})
	}
}

// wait is how long key is locked for, from its stored entry.
func (s *sharedThrottle) wait(ctx context.Context, key string, now time.Time) (time.Duration, error) {
	rec, err := s.store.Get(ctx, KindLoginThrottle, throttleRecordID(key))
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var st storedThrottle
	if err := json.Unmarshal(rec.Payload, &st); err != nil {
		return 0, err
	}
	if st.Until.After(now) {
		return st.Until.Sub(now), nil
	}
	return 0, nil
}

// fail counts a failure on key.
func (s *sharedThrottle) fail(ctx context.Context, key string, now time.Time) error {
	return s.update(ctx, key, now, func(e *throttleEntry, _ *storedThrottle) error {
		e.fail(now, s.cfg)
		return nil
	})
}
