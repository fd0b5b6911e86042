package badgerstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/oidcaddy/oidcaddy/provider"
)

// Health: after a write fails for a reason outside the caller's control (an
// fsync or commit error, a disk turning read-only, free space below the
// margin) the store refuses writes with provider.ErrUnavailable until a probe
// write succeeds again, instead of acknowledging writes that may never reach
// the disk. Reads keep working throughout. The failure is sticky on purpose:
// with SyncWrites off, a non-durable commit only lands in the memtable and
// its memory-mapped log, so a disk that has stopped taking writes goes
// unnoticed by the writer, and Badger only logs (and retries forever) the
// flush that fails later. A probe every ProbeInterval writes and syncs a
// file next to the database, so such a disk is noticed within an interval
// even when no durable write comes by; after a failure it also commits to
// Badger and syncs its log before writes are let through again.

// DefaultProbeInterval is the health probe period when Options.ProbeInterval
// is 0.
const DefaultProbeInterval = time.Second

// probeFileName is the file the probe writes, syncs and removes.
const probeFileName = "oidc-provider-probe.tmp"

// unavailableError is a storage failure the provider answers with 503
// temporarily_unavailable: it matches provider.ErrUnavailable and keeps the
// cause for the operator's log.
type unavailableError struct{ cause error }

func (e *unavailableError) Error() string   { return "storage unavailable: " + e.cause.Error() }
func (e *unavailableError) Unwrap() []error { return []error{provider.ErrUnavailable, e.cause} }

func unavailable(cause error) error {
	if errors.Is(cause, provider.ErrUnavailable) {
		return cause
	}
	return &unavailableError{cause: cause}
}

// health is the store's write health: it is healthy when no write failure
// is outstanding and free space is above the margin.
type health struct {
	ok atomic.Bool // the fast path's view of failure == nil && lowSpace == nil

	mu       sync.Mutex
	failure  error // the last write failure not yet cleared by a probe
	lowSpace error // why free space is below the margin, nil when it is not
	onChange func(healthy bool, cause error)
}

func (h *health) init(onChange func(bool, error)) {
	h.onChange = onChange
	h.ok.Store(true)
}

// cause is the reason writes are refused, nil when healthy.
func (h *health) cause() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.causeLocked()
}

func (h *health) causeLocked() error {
	if h.failure != nil {
		return h.failure
	}
	return h.lowSpace
}

// set changes one input under the lock and reports a transition once.
func (h *health) set(change func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	was := h.ok.Load()
	change()
	cause := h.causeLocked()
	now := cause == nil
	h.ok.Store(now)
	if now != was && h.onChange != nil {
		h.onChange(now, cause)
	}
}

func (h *health) fail(err error)        { h.set(func() { h.failure = err }) }
func (h *health) recovered()            { h.set(func() { h.failure = nil }) }
func (h *health) setLowSpace(err error) { h.set(func() { h.lowSpace = err }) }

func (h *health) failed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failure != nil
}

func (h *health) lowOnSpace() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lowSpace != nil
}

// Healthy reports whether the store takes writes, and if not, why.
func (s *Store) Healthy() (bool, error) {
	cause := s.health.cause()
	return cause == nil, cause
}

// writable is checked before every write: it refuses it while the store is
// unhealthy, and keeps the free-space guard current.
func (s *Store) writable(size int) error {
	s.writes.Add(1)
	if s.space != nil {
		s.space.written(size)
	}
	if !s.health.ok.Load() {
		if cause := s.health.cause(); cause != nil {
			return unavailable(cause)
		}
	}
	return nil
}

// writeFailed classifies an error of a commit or sync: a closing database
// is unavailable without being a disk fault; anything else from Badger's
// write path makes the store unhealthy until a probe succeeds.
func (s *Store) writeFailed(err error) error {
	if errors.Is(err, badger.ErrDBClosed) || errors.Is(err, badger.ErrBlockedWrites) {
		return unavailable(err)
	}
	s.health.fail(err)
	return unavailable(err)
}

// runProbe runs probe every interval until Close.
func (s *Store) runProbe(interval time.Duration) {
	defer close(s.probeDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stopProbe:
			return
		case <-t.C:
		}
		s.probe()
	}
}

// probe refreshes the free-space guard, then checks that the disk takes a
// write: a file next to the database written and synced. While a failure
// is outstanding it also commits a record to Badger and syncs its log; only
// when all of that succeeds are writes let through again.
func (s *Store) probe() {
	if s.space != nil {
		s.space.refresh()
	}
	if s.health.lowOnSpace() {
		// Writing anything now could fill the disk under Badger's
		// memory-mapped files.
		return
	}
	if err := s.probeWrite(); err != nil {
		if !s.health.failed() && s.logger != nil {
			s.logger.Errorf("badgerstore: storage probe failed, refusing writes until it succeeds: %v", err)
		}
		s.health.fail(err)
		return
	}
	if s.health.failed() {
		s.health.recovered()
	}
}

func (s *Store) probeWrite() error {
	if err := s.probeFile(s.dir); err != nil {
		return err
	}
	if !s.health.failed() {
		// Healthy: the file is proof enough. Syncing Badger here would
		// stall its writers once a second for nothing (see
		// docs/performance.md); durable requests sync it anyway.
		return nil
	}
	err := s.db.Update(func(txn *badger.Txn) error {
		return txn.SetEntry(badger.NewEntry(probeKey, nil).WithTTL(time.Minute))
	})
	if err != nil {
		return fmt.Errorf("probe commit: %w", err)
	}
	if err := s.dbSync(); err != nil {
		return fmt.Errorf("probe sync: %w", err)
	}
	return nil
}

// writeProbeFile writes, syncs and removes a small file in dir: the cheapest
// proof that the filesystem takes writes (a read-only remount or a full
// disk fail here, where Badger's memory-mapped writes would not).
func writeProbeFile(dir string) error {
	name := filepath.Join(dir, probeFileName)
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("probe file: %w", err)
	}
	var block [4096]byte
	_, werr := f.Write(block[:])
	serr := f.Sync()
	cerr := f.Close()
	rerr := os.Remove(name)
	if err := errors.Join(werr, serr, cerr, rerr); err != nil {
		return fmt.Errorf("probe file: %w", err)
	}
	return nil
}
