package badgerstore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// transitions records OnHealthChange calls.
type transitions struct {
	mu  sync.Mutex
	got []bool
	why []error
}

func (tr *transitions) record(healthy bool, cause error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.got = append(tr.got, healthy)
	tr.why = append(tr.why, cause)
}

func (tr *transitions) list() []bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]bool(nil), tr.got...)
}

func sameBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var errInjected = errors.New("injected: input/output error")

// openProbed opens an on-disk store whose probe the test runs by hand.
func openProbed(t *testing.T) (*Store, *transitions) {
	tr := &transitions{}
	s := openT(t, Options{ProbeInterval: -1, OnHealthChange: tr.record})
	return s, tr
}

func session(id string) provider.Record {
	return provider.Record{Kind: provider.KindSession, ID: id, Payload: []byte("p")}
}

// A failed sync makes the store refuse every write, durable or not, with
// provider.ErrUnavailable until a probe write succeeds; reads keep working.
// Before, a non-durable Put after a failed sync still succeeded: tokens were
// acknowledged that the disk would never hold.
func TestSyncFailureIsStickyUntilProbeSucceeds(t *testing.T) {
	s, tr := openProbed(t)
	ctx := context.Background()
	if err := s.Put(ctx, session("before"), true); err != nil {
		t.Fatal(err)
	}
	s.dbSync = func() error { return errInjected }
	if err := s.Put(ctx, session("durable"), true); !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("durable Put with a failing sync: %v, want ErrUnavailable", err)
	}
	if err := s.Put(ctx, session("later"), false); !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("non-durable Put after a failed sync: %v, want ErrUnavailable", err)
	}
	if _, err := s.Consume(ctx, provider.KindSession, "before", time.Now()); !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("Consume after a failed sync: %v, want ErrUnavailable", err)
	}
	if _, err := s.Get(ctx, provider.KindSession, "before"); err != nil {
		t.Fatalf("Get while unhealthy: %v", err)
	}
	if ok, cause := s.Healthy(); ok || !errors.Is(cause, errInjected) {
		t.Fatalf("Healthy() = %v, %v", ok, cause)
	}
	s.probe() // still failing: no new transition
	s.dbSync = s.db.Sync
	s.probe()
	if got := tr.list(); !sameBools(got, []bool{false, true}) {
		t.Fatalf("transitions = %v, want [false true]", got)
	}
	if err := s.Put(ctx, session("after"), false); err != nil {
		t.Fatalf("Put after recovery: %v", err)
	}
}

// The probe notices a filesystem that refuses writes (read-only, full) even
// when no durable write comes by.
func TestProbeNoticesUnwritableFilesystem(t *testing.T) {
	s, tr := openProbed(t)
	ctx := context.Background()
	s.probeFile = func(string) error { return errInjected }
	s.probe()
	if err := s.Put(ctx, session("x"), false); !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("Put after a failed probe: %v, want ErrUnavailable", err)
	}
	if err := s.Delete(ctx, provider.KindSession, "x"); !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("Delete after a failed probe: %v, want ErrUnavailable", err)
	}
	s.probeFile = writeProbeFile
	s.probe()
	if err := s.Put(ctx, session("x"), false); err != nil {
		t.Fatalf("Put after recovery: %v", err)
	}
	if got := tr.list(); !sameBools(got, []bool{false, true}) {
		t.Fatalf("transitions = %v, want [false true]", got)
	}
	// The real probe writes a file and leaves none behind.
	if err := writeProbeFile(s.dir); err != nil {
		t.Fatal(err)
	}
}

// Below the free-space margin writes are refused before Badger can fill the
// disk through its memory-mapped files, reads go on, and writes resume once
// space is back, noticed by the write path itself.
func TestFreeSpaceGuard(t *testing.T) {
	s, tr := openProbed(t)
	if s.space == nil {
		t.Skip("no statfs on this platform")
	}
	ctx := context.Background()
	if err := s.Put(ctx, session("kept"), true); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	free := s.space.margin - 1
	s.space.statfs = func(string) (uint64, bool, error) { mu.Lock(); defer mu.Unlock(); return free, false, nil }
	s.space.lastRefresh.Store(0) // stale: the next write refreshes
	err := s.Put(ctx, session("x"), false)
	if !errors.Is(err, provider.ErrUnavailable) || !strings.Contains(err.Error(), "margin") {
		t.Fatalf("Put below the margin: %v, want ErrUnavailable naming the margin", err)
	}
	if _, err := s.Update(ctx, provider.KindSession, "kept", func(*provider.Record) error { return nil }); !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("Update below the margin: %v", err)
	}
	if _, err := s.Get(ctx, provider.KindSession, "kept"); err != nil {
		t.Fatalf("Get below the margin: %v", err)
	}
	s.probe() // the probe does not write below the margin, nor recover
	if ok, _ := s.Healthy(); ok {
		t.Fatal("healthy below the margin")
	}
	mu.Lock()
	free = s.space.margin + 1
	mu.Unlock()
	s.space.lastRefresh.Store(0)
	if err := s.Put(ctx, session("x"), false); err != nil {
		t.Fatalf("Put after space returned: %v", err)
	}
	if got := tr.list(); !sameBools(got, []bool{false, true}) {
		t.Fatalf("transitions = %v, want [false true]", got)
	}
}

// The margin follows the options the store opens Badger with and covers at
// least two memtable logs and a value-log file.
func TestFreeSpaceMarginFromOptions(t *testing.T) {
	s := openT(t, Options{ProbeInterval: -1})
	if s.space == nil {
		t.Skip("no statfs on this platform")
	}
	if min := uint64(2*2*8<<20 + valueLogFileSize); s.space.margin < min {
		t.Errorf("margin %d below %d", s.space.margin, min)
	}
}

// A closed database (a reload moved the storage away under a request) is
// unavailable, not an internal error, and does not count as a disk fault.
func TestClosedStoreIsUnavailable(t *testing.T) {
	tr := &transitions{}
	s, err := Open(Options{Dir: t.TempDir(), ProbeInterval: -1, OnHealthChange: tr.record})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Put(ctx, session("x"), false); !errors.Is(err, provider.ErrUnavailable) {
		t.Errorf("Put on a closed store: %v", err)
	}
	if _, err := s.Get(ctx, provider.KindSession, "x"); !errors.Is(err, provider.ErrUnavailable) {
		t.Errorf("Get on a closed store: %v", err)
	}
	if got := tr.list(); len(got) != 0 {
		t.Errorf("transitions = %v, want none", got)
	}
}

// A filesystem remounted read-only (ext4 does so on an error) stops writes at
// the next statfs refresh, before the probe's next round.
func TestReadOnlyFilesystemStopsWrites(t *testing.T) {
	s, tr := openProbed(t)
	if s.space == nil {
		t.Skip("no statfs on this platform")
	}
	ctx := context.Background()
	var mu sync.Mutex
	readOnly := true
	s.space.statfs = func(string) (uint64, bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return s.space.margin * 2, readOnly, nil
	}
	s.space.lastRefresh.Store(0)
	if err := s.Put(ctx, session("x"), false); !errors.Is(err, provider.ErrUnavailable) || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("Put on a read-only filesystem: %v, want ErrUnavailable naming it", err)
	}
	mu.Lock()
	readOnly = false
	mu.Unlock()
	s.space.lastRefresh.Store(0)
	if err := s.Put(ctx, session("x"), false); err != nil {
		t.Fatalf("Put after the filesystem is writable again: %v", err)
	}
	if got := tr.list(); !sameBools(got, []bool{false, true}) {
		t.Fatalf("transitions = %v, want [false true]", got)
	}
}

// Opening on a full or read-only filesystem fails with an explanation
// instead of letting Badger write into a mapping the disk cannot back.
func TestOpenRefusesFullOrReadOnlyFilesystem(t *testing.T) {
	if !haveStatfs {
		t.Skip("no statfs on this platform")
	}
	saved := statfs
	t.Cleanup(func() { statfs = saved })
	for _, tc := range []struct {
		free     uint64
		readOnly bool
		want     string
	}{
		{free: 1 << 20, want: "below"},
		{free: 1 << 40, readOnly: true, want: "read-only"},
	} {
		statfs = func(string) (uint64, bool, error) { return tc.free, tc.readOnly, nil }
		s, err := Open(Options{Dir: t.TempDir(), ProbeInterval: -1, GCInterval: -1})
		if err == nil {
			s.Close()
			t.Fatalf("Open with %d bytes free, read-only %v: succeeded", tc.free, tc.readOnly)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open: %v, want it to say %q", err, tc.want)
		}
	}
}
