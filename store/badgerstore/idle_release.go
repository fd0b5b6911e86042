package badgerstore

import (
	"runtime/debug"
	"time"
)

// Returning memory after a burst. A burst of writes grows the Go heap with
// Badger's memtable arenas, table builders and compaction buffers; once it
// is collected the runtime returns the pages to the system only gradually,
// and with no allocation going on no collection even starts, so the
// process would keep its high-water mark indefinitely. When the store has
// seen no write for idleReleaseAfter after a busy period (its flushes and
// compactions have settled by then), it runs a collection and returns free
// memory at once, and advises the kernel to reclaim the pages of Badger's
// memory-mapped files (pageOutMappedFiles). This costs one full collection
// and one read of /proc/self/maps per quiet spell.

const (
	idleReleaseTick  = 10 * time.Second
	idleReleaseAfter = 30 * time.Second
	// idleReleaseMinWrites is how many writes count as a burst worth a
	// collection: an occasional login should not trigger one.
	idleReleaseMinWrites = 10_000
)

// releaseWhenIdle watches the write count until Close; it runs wherever
// the probe does (on disk, not in memory).
func (s *Store) releaseWhenIdle() {
	defer close(s.releaseDone)
	t := time.NewTicker(idleReleaseTick)
	defer t.Stop()
	var (
		lastCount   uint64
		lastWrite   = time.Now()
		sinceRelief uint64 // writes since the last release
	)
	for {
		select {
		case <-s.stopProbe:
			return
		case now := <-t.C:
			n := s.writes.Load()
			if n != lastCount {
				sinceRelief += n - lastCount
				lastCount, lastWrite = n, now
				continue
			}
			if sinceRelief >= idleReleaseMinWrites && now.Sub(lastWrite) >= idleReleaseAfter {
				debug.FreeOSMemory()
				// The mapped tables and value log that compaction touched:
				// a hint, so a failure (an old kernel) changes nothing.
				_, _ = pageOutMappedFiles(s.dir)
				sinceRelief = 0
			}
		}
	}
}
