package badgerstore

import (
	"context"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// hangLimit bounds how long a test waits for an operation that would hang
// forever on a leaked stripe lock, so the test fails instead of hanging.
const hangLimit = 10 * time.Second

// finishes runs op and reports whether it returned within hangLimit.
func finishes(t *testing.T, op func() error) bool {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- op() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("operation after the panic: %v", err)
		}
		return true
	case <-time.After(hangLimit):
		return false
	}
}

// panics runs op and reports whether it panicked.
func panics(op func()) (panicked bool) {
	defer func() { panicked = recover() != nil }()
	op()
	return false
}

// A panic raised while a record's stripe lock is held (from an Update
// callback, or from inside Badger when the disk turns read-only) must release
// the lock: otherwise every later write to an ID on that stripe hangs forever.
func TestPanicInUpdateCallbackReleasesStripe(t *testing.T) {
	s := openT(t, Options{InMemory: true})
	ctx := context.Background()
	rec := provider.Record{Kind: provider.KindSession, ID: "s1", Payload: []byte("x")}
	if err := s.Put(ctx, rec, false); err != nil {
		t.Fatal(err)
	}
	if !panics(func() {
		s.Update(ctx, rec.Kind, rec.ID, func(*provider.Record) error { panic("callback failed") })
	}) {
		t.Fatal("the callback's panic did not reach the caller")
	}
	if !finishes(t, func() error { return s.Put(ctx, rec, false) }) {
		t.Fatal("Put on the same record hangs: the panic leaked the stripe lock")
	}
}

// Every write path that takes a stripe lock releases it when a panic is raised
// inside Badger's transaction, simulated by a hook under the lock.
func TestPanicUnderStripeLockReleasesIt(t *testing.T) {
	ctx := context.Background()
	at := time.Now()
	rec := provider.Record{Kind: provider.KindAuthorizationCode, ID: "c1", Payload: []byte("x"), ExpiresAt: at.Add(time.Hour)}
	ops := map[string]func(s *Store) error{
		"put": func(s *Store) error { return s.Put(ctx, rec, true) },
		"create": func(s *Store) error {
			return s.Create(ctx, provider.Record{Kind: rec.Kind, ID: "c1", Payload: []byte("y")}, false)
		},
		"update": func(s *Store) error {
			_, err := s.Update(ctx, rec.Kind, rec.ID, func(*provider.Record) error { return nil })
			return err
		},
		"consume": func(s *Store) error { _, err := s.Consume(ctx, rec.Kind, rec.ID, at); return err },
		"delete":  func(s *Store) error { return s.Delete(ctx, rec.Kind, rec.ID) },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			s := openT(t, Options{Dir: t.TempDir()})
			if name != "create" {
				if err := s.Put(ctx, rec, false); err != nil {
					t.Fatal(err)
				}
			}
			s.testHookLocked = func() { panic("injected") }
			if !panics(func() { op(s) }) {
				t.Fatal("the injected panic did not reach the caller")
			}
			s.testHookLocked = nil
			if !finishes(t, func() error { return op(s) }) {
				t.Fatalf("%s on the same record hangs: the panic leaked the stripe lock", name)
			}
		})
	}
}
