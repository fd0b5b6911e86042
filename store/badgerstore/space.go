package badgerstore

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// The free-space guard. Badger writes through memory-mapped files that are
// created sparse (memtable logs at twice the memtable size, value-log files
// at twice their size) and fills SSTables through mappings too; when the
// filesystem has no block left for a page the process dies with SIGBUS, no
// error returned. So the store refuses writes (provider.ErrUnavailable) while
// free space is below a margin that covers everything Badger may still
// write without asking: the memtables it has, their flush, a compaction,
// a value-log file. The check is a statfs, cached and refreshed at most every
// spaceRefreshEvery or after spaceRefreshBytes of writes, and by the health
// probe, which also lets writes through again once space returns.
//
// The guard cannot win a race against another process filling the last
// margin in less than a refresh period; the margin is large for that reason.

const (
	spaceRefreshEvery = 50 * time.Millisecond
	spaceRefreshBytes = 1 << 20
	// spaceSlack covers Badger's small files (MANIFEST, DISCARD, KEYREGISTRY)
	// and the probe's own file.
	spaceSlack = 4 << 20
)

// statfs is statfsFree; tests replace it.
var statfs = statfsFree

// checkSpaceToOpen refuses to open Badger on a filesystem that is read-only
// or below the margin: opening writes into fresh memory-mapped files (a
// memtable log's header, at least), which on a full filesystem kills the
// process with SIGBUS. The error says what to free instead.
func checkSpaceToOpen(dir string, margin uint64) error {
	free, readOnly, err := statfs(dir)
	switch {
	case err != nil:
		return nil // unknown: Badger's own errors will tell
	case readOnly:
		return fmt.Errorf("badgerstore: open %s: the filesystem is mounted read-only", dir)
	case free < margin:
		return fmt.Errorf("badgerstore: open %s: %d MiB free on its filesystem, below the %d MiB Badger may need; free some space", dir, free>>20, margin>>20)
	}
	return nil
}

// freeSpaceMargin is the space Badger may need to finish what it has
// accepted, from the options the store opens it with.
func freeSpaceMargin(bo badger.Options) uint64 {
	memtable := uint64(bo.MemTableSize)
	memtables := uint64(bo.NumMemtables) * memtable
	wal := 2 * memtables // each memtable's log is mapped at twice its size
	flush := memtables   // the L0 tables they are flushed into
	// An L0→L1 compaction writes its output before it deletes its inputs.
	compaction := uint64(bo.NumLevelZeroTables)*memtable + uint64(bo.BaseLevelSize)
	vlog := uint64(bo.ValueLogFileSize) // a large record, or a new file
	return wal + flush + compaction + vlog + spaceSlack
}

// spaceGuard watches the free space of one directory's filesystem.
type spaceGuard struct {
	dir    string
	margin uint64
	statfs func(dir string) (free uint64, readOnly bool, err error)
	onLow  func(err error) // nil err: writable with space above the margin again

	pending     atomic.Int64 // bytes written since the last refresh
	lastRefresh atomic.Int64 // unix nanoseconds of the last refresh

	mu  sync.Mutex // serialises refreshes
	low error      // under mu: the last reason reported, nil when none
}

// written notes n bytes about to be written and refreshes the view when it
// is stale. It costs two atomic operations and a clock read otherwise.
func (g *spaceGuard) written(n int) {
	if g.pending.Add(int64(n)) < spaceRefreshBytes &&
		time.Now().UnixNano()-g.lastRefresh.Load() < int64(spaceRefreshEvery) {
		return
	}
	g.refresh()
}

// refresh reads the free space and reports a change of side of the margin.
func (g *spaceGuard) refresh() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pending.Store(0)
	g.lastRefresh.Store(time.Now().UnixNano())
	free, readOnly, err := g.statfs(g.dir)
	if err != nil {
		// Unknown free space is no reason to stop: the probe and the write
		// path report real write failures.
		return
	}
	var low error
	switch {
	case readOnly:
		// Checked here too, not only by the probe: a write into Badger's
		// mapped log on a read-only filesystem is acknowledged but never
		// reaches the disk, so the sooner writes stop the better.
		low = errors.New("the storage filesystem is mounted read-only")
	case free < g.margin:
		low = fmt.Errorf("free space on the storage filesystem is %d MiB, below the %d MiB margin Badger needs", free>>20, g.margin>>20)
	}
	if (low == nil) == (g.low == nil) && (low == nil || low.Error() == g.low.Error()) {
		return
	}
	g.low = low
	g.onLow(low)
}
