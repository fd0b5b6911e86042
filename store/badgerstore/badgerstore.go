// Package badgerstore implements [provider.Store] on an embedded Badger v4
// database.
//
// Durability: Badger runs with SyncWrites off, so an ordinary commit reaches
// the operating system but not the disk. Operations the provider must never
// lose (a durable Put, Consume, Delete, DeleteByGrant) call DB.Sync after
// committing, and concurrent callers share one fsync (group commit);
// everything else rides on the next sync, the next memtable flush or Close. A
// crash can lose such a write but never corrupt the database. One gap is
// Badger's: DB.Sync syncs only the current memtable's log, so if the memtable
// rotates between a commit and its sync, that write becomes durable only when
// the old memtable is flushed, milliseconds later. Only an operating-system
// crash in that window loses it; a process crash never does.
//
// Limits: keys (kind plus ID, UID or grant ID) up to ~65,000 bytes; an encoded
// record up to ~32 MiB on disk and 1 MiB in memory. Larger ones are refused.
//
// Concurrency: Badger's transactions are optimistic; a read-modify-write that
// loses a race fails with badger.ErrConflict. Writers of one record therefore
// take an in-process lock striped by ID first (Badger's directory lock already
// guarantees a single process), so concurrent Consume or Update calls on a hot
// record queue instead of retrying in a storm; conflicts that remain, with
// DeleteByGrant or on shared index keys, are retried a bounded number of times.
package badgerstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/oidcaddy/oidcaddy/provider"
)

// Options configures Open.
type Options struct {
	Dir        string        // required unless InMemory
	InMemory   bool          // for tests
	Logger     badger.Logger // nil: Badger's own logging is silenced
	GCInterval time.Duration // value-log GC ticker; 0 = default 10m; <0 disables

	// ProbeInterval is the period of the health probe (see health.go);
	// 0 = DefaultProbeInterval, <0 disables it. Not for InMemory.
	ProbeInterval time.Duration
	// OnHealthChange, when set, is called on every change of Healthy, with
	// the cause when the store turns unhealthy. It runs under the store's
	// health lock: it must be quick and must not call the store.
	OnHealthChange func(healthy bool, cause error)
}

// DefaultGCInterval is the value-log GC period when Options.GCInterval is 0.
const DefaultGCInterval = 10 * time.Minute

const (
	// maxAttempts bounds the retries of a transaction that keeps losing to
	// concurrent writers. With the stripe locks a conflict needs a concurrent
	// DeleteByGrant or index writer, so a handful of retries is plenty; the
	// bound turns a livelock into an error.
	maxAttempts = 16

	// grantBatchSize is how many records DeleteByGrant removes per
	// transaction, well inside Badger's transaction limits for the memtable
	// size below; ErrTxnTooBig halves it anyway.
	grantBatchSize = 256

	// valueThreshold keeps ordinary records (far below it) inside the LSM
	// tree, so a read is one lookup; rare large payloads go to the value log,
	// which the GC goroutine compacts.
	valueThreshold = 64 << 10

	// inMemoryValueMax: in-memory Badger keeps every value in the LSM tree
	// and refuses values above the value threshold, which we raise to the
	// largest it accepts.
	inMemoryValueMax = 1 << 20

	// valueLogFileSize caps a value on disk as well.
	valueLogFileSize = 32 << 20

	// maxKeySize is Badger's key limit.
	maxKeySize = 65000

	numStripes = 64
)

// Store is a provider.Store on Badger. Its methods are safe for concurrent
// use.
type Store struct {
	db     *badger.DB
	dir    string        // "" when in memory
	logger badger.Logger // nil when silenced

	health    health
	space     *spaceGuard            // nil when in memory or statfs is missing
	probeFile func(dir string) error // writeProbeFile; tests inject faults
	dbSync    func() error           // db.Sync; tests inject faults
	stopProbe chan struct{}
	probeDone chan struct{} // closed when the probe goroutine has returned

	writes      atomic.Uint64 // writes attempted, for releaseWhenIdle
	releaseDone chan struct{} // closed when releaseWhenIdle has returned

	seed    maphash.Seed
	stripes [numStripes]stripe

	grantBatch int // grantBatchSize; tests raise it to provoke ErrTxnTooBig
	maxValue   int // largest encoded record Badger accepts in this mode

	gcPasses atomic.Uint64 // ticker passes of the GC goroutine, for tests

	// testHookLocked, when set by a test, runs under every stripe lock
	// before the transaction, e.g. to inject a panic there.
	testHookLocked func()

	// Group commit for durable operations, see sync.
	commits atomic.Uint64 // commits that want a sync, counted after commit
	syncMu  sync.Mutex
	synced  uint64        // commits covered by the last successful sync; under syncMu
	dbSyncs atomic.Uint64 // DB.Sync calls, for tests and benchmarks

	stopGC    chan struct{}
	gcDone    chan struct{} // closed when the GC goroutine has returned
	closeOnce sync.Once
	closeErr  error
}

// stripe pads its mutex to a cache line so neighbouring stripes used from
// different cores do not contend on the same line.
type stripe struct {
	sync.Mutex
	_ [64 - 8]byte
}

var _ provider.Store = (*Store)(nil)

// Open opens (creating if needed) the store in opts.Dir, or an in-memory one.
func Open(opts Options) (*Store, error) {
	var bo badger.Options
	switch {
	case opts.InMemory && opts.Dir != "":
		return nil, errors.New("badgerstore: Dir must be empty with InMemory")
	case opts.InMemory:
		bo = badger.DefaultOptions("").WithInMemory(true)
	case opts.Dir == "":
		return nil, errors.New("badgerstore: Dir is required")
	default:
		if err := prepareDir(opts.Dir); err != nil {
			return nil, err
		}
		bo = badger.DefaultOptions(opts.Dir)
	}
	bo = bo.
		// Badger's defaults take ~86 MiB of heap at open; these ~11 MiB, enough
		// for an OIDC provider's small records.
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithBlockCacheSize(8 << 20). // must stay >0: compression is on
		WithIndexCacheSize(4 << 20).
		WithValueLogFileSize(valueLogFileSize).
		WithNumCompactors(2).
		WithValueThreshold(valueThreshold).
		// Durable operations sync explicitly; syncing every write would cap
		// the machine at a few thousand writes per second.
		WithSyncWrites(false).
		// Badger's expvar metrics are process-global and unused here; the
		// provider exports its own.
		WithMetricsEnabled(false).
		// Badger checks for nil before every log call.
		WithLogger(opts.Logger)
	maxValue := valueLogFileSize - 1<<10
	if opts.InMemory {
		bo = bo.WithValueThreshold(inMemoryValueMax)
		maxValue = inMemoryValueMax
	}
	if !opts.InMemory && haveStatfs {
		if err := checkSpaceToOpen(opts.Dir, freeSpaceMargin(bo)); err != nil {
			return nil, err
		}
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("badgerstore: open: %w", err)
	}
	if err := checkFormat(db); err != nil {
		db.Close()
		return nil, err
	}
	if !opts.InMemory {
		if err := makePrivate(opts.Dir); err != nil {
			db.Close()
			return nil, err
		}
	}
	s := &Store{
		db:         db,
		dir:        opts.Dir,
		logger:     opts.Logger,
		probeFile:  writeProbeFile,
		dbSync:     db.Sync,
		seed:       maphash.MakeSeed(),
		grantBatch: grantBatchSize,
		maxValue:   maxValue,
	}
	s.health.init(opts.OnHealthChange)
	if !opts.InMemory && haveStatfs {
		s.space = &spaceGuard{dir: opts.Dir, margin: freeSpaceMargin(bo), statfs: statfs, onLow: s.health.setLowSpace}
		s.space.refresh()
	}
	if probe := opts.ProbeInterval; !opts.InMemory && probe >= 0 {
		if probe == 0 {
			probe = DefaultProbeInterval
		}
		s.stopProbe = make(chan struct{})
		s.probeDone = make(chan struct{})
		s.releaseDone = make(chan struct{})
		go s.runProbe(probe)
		go s.releaseWhenIdle()
	}

	interval := opts.GCInterval
	if interval == 0 {
		interval = DefaultGCInterval
	}
	// In-memory Badger has no value log to collect.
	if interval > 0 && !opts.InMemory {
		s.stopGC = make(chan struct{})
		s.gcDone = make(chan struct{})
		go s.runGC(interval)
	}
	return s, nil
}

// checkFormat stamps a new database with the layout version and refuses one
// written in a layout this code does not know.
func checkFormat(db *badger.DB) error {
	return db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(formatKey)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return txn.Set(formatKey, []byte{formatVersion})
		}
		if err != nil {
			return fmt.Errorf("badgerstore: read format: %w", err)
		}
		return item.Value(func(v []byte) error {
			if len(v) != 1 || v[0] != formatVersion {
				return fmt.Errorf("badgerstore: unsupported on-disk format %x (want %d)", v, formatVersion)
			}
			return nil
		})
	})
}

// Close stops the GC goroutine and closes the database. Later calls return
// the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.stopProbe != nil {
			close(s.stopProbe)
			<-s.probeDone
			<-s.releaseDone
		}
		if s.stopGC != nil {
			close(s.stopGC)
			// Wait: closing Badger under a running value-log GC is unsafe.
			<-s.gcDone
		}
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("badgerstore: close: %w", err)
		}
		// Close flushes the memtable into new table files.
		if s.dir != "" {
			if err := makePrivate(s.dir); err != nil && s.closeErr == nil {
				s.closeErr = err
			}
		}
	})
	return s.closeErr
}

func (s *Store) runGC(interval time.Duration) {
	defer close(s.gcDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stopGC:
			return
		case <-t.C:
		}
		s.gcPasses.Add(1)
		// Table and value-log files written since the last pass.
		if err := makePrivate(s.dir); err != nil && s.logger != nil {
			s.logger.Warningf("%v", err)
		}
		// Badger rewrites at most one file per call; keep going while it
		// finds garbage, but let Close interrupt between files.
		for {
			err := s.db.RunValueLogGC(0.5)
			if err != nil {
				if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) && s.logger != nil {
					s.logger.Warningf("badgerstore: value-log GC: %v", err)
				}
				break
			}
			select {
			case <-s.stopGC:
				return
			default:
			}
		}
	}
}

// updateLocked is update under id's stripe lock. The lock is released by
// defer: a panic inside (an Update callback's, or Badger's own when the disk
// turns read-only) must not leave the stripe locked, or every later writer of
// an ID on it would hang, and with them a graceful shutdown.
func (s *Store) updateLocked(id string, fn func(txn *badger.Txn) error) error {
	st := &s.stripes[maphash.String(s.seed, id)%numStripes]
	st.Lock()
	defer st.Unlock()
	if s.testHookLocked != nil {
		s.testHookLocked()
	}
	return s.update(fn)
}

func live(r *provider.Record, now time.Time) bool {
	return r.ExpiresAt.IsZero() || now.Before(r.ExpiresAt)
}

// getRecord reads and decodes the record under (kind, id), live or expired.
// It returns provider.ErrNotFound, unwrapped, when Badger has none. Like every
// internal helper it leaves adding context to the exported method, which
// names the operation and kind, never an ID or payload.
func getRecord(txn *badger.Txn, kind provider.Kind, id string) (provider.Record, error) {
	item, err := txn.Get(recordKey(kind, id))
	if err != nil {
		if errors.Is(err, badger.ErrKeyNotFound) {
			return provider.Record{}, provider.ErrNotFound
		}
		return provider.Record{}, err
	}
	rec := provider.Record{Kind: kind, ID: id}
	if err := item.Value(func(v []byte) error { return decodeRecord(v, &rec) }); err != nil {
		return provider.Record{}, err
	}
	return rec, nil
}

// getLive is getRecord that also treats an expired record as absent.
func getLive(txn *badger.Txn, kind provider.Kind, id string, now time.Time) (provider.Record, error) {
	rec, err := getRecord(txn, kind, id)
	if err == nil && !live(&rec, now) {
		return provider.Record{}, provider.ErrNotFound
	}
	return rec, err
}

// update runs fn in a read-write transaction, retrying it from scratch when
// the commit loses to a concurrent transaction.
//
// An error of Badger's own (the commit, not fn) is a storage failure: it
// comes back matching provider.ErrUnavailable and, unless the database is
// merely closing, makes the store unhealthy.
func (s *Store) update(fn func(txn *badger.Txn) error) error {
	for range maxAttempts {
		var fnErr error
		err := s.db.Update(func(txn *badger.Txn) error {
			fnErr = fn(txn)
			return fnErr
		})
		switch {
		case err == nil || err == fnErr:
			return err
		case !errors.Is(err, badger.ErrConflict):
			return s.writeFailed(err)
		}
	}
	return fmt.Errorf("%d attempts conflicted: %w", maxAttempts, badger.ErrConflict)
}

// sync makes the caller's already committed write durable. Concurrent callers
// share fsyncs (group commit): whoever holds syncMu syncs on behalf of every
// commit counted before it started, so the others find their commit covered
// and return without touching the disk. An fsync costs ~200 µs; this lets
// concurrent durable requests pay it once per group instead of once each.
func (s *Store) sync(op string, kind provider.Kind) error {
	mine := s.commits.Add(1)
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.synced >= mine {
		return nil
	}
	// Every commit counted up to now finished before its count, so the sync
	// below, which starts after this load, covers them all.
	upTo := s.commits.Load()
	s.dbSyncs.Add(1)
	if err := s.dbSync(); err != nil {
		return opError(op, kind, s.writeFailed(fmt.Errorf("sync: %w", err)))
	}
	s.synced = upTo
	return nil
}

// opError adds context to an internal error. The sentinels pass through
// untouched: callers compare them on every request, and wrapping would cost
// an allocation on the common "not found" path.
func opError(op string, kind provider.Kind, err error) error {
	if err == provider.ErrNotFound || err == provider.ErrAlreadyConsumed {
		return err
	}
	if errors.Is(err, badger.ErrDBClosed) {
		// A reload or shutdown closed the database under a request.
		err = unavailable(err)
	}
	if kind == "" {
		return fmt.Errorf("badgerstore: %s: %w", op, err)
	}
	return fmt.Errorf("badgerstore: %s %s: %w", op, kind, err)
}

var errTooLarge = errors.New("too large")

// writeRecord stores rec, replacing old (the record previously under the same
// key, expired or not; nil for none), and keeps the indexes in step. A rec
// that has already expired is removed instead of written.
func (s *Store) writeRecord(txn *badger.Txn, rec, old *provider.Record, now time.Time) error {
	if !live(rec, now) {
		if old == nil {
			return nil
		}
		return deleteRecord(txn, old)
	}
	key, val := recordKey(rec.Kind, rec.ID), encodeRecord(rec)
	if err := s.checkSize(key, val, rec); err != nil {
		return err
	}
	if old != nil {
		if old.UID != "" && old.UID != rec.UID {
			if err := deleteUIDIfOwned(txn, rec.Kind, old.UID, rec.ID); err != nil {
				return err
			}
		}
		if old.GrantID != "" && old.GrantID != rec.GrantID {
			if err := txn.Delete(grantKey(old.GrantID, rec.Kind, rec.ID)); err != nil {
				return err
			}
		}
		if old.Owner != "" && old.Owner != rec.Owner {
			if err := txn.Delete(ownerKey(rec.Kind, old.Owner, rec.ID)); err != nil {
				return err
			}
		}
	}
	// Index entries share the record's Badger TTL so they disappear with it
	// and need no sweeper; they are rewritten even when unchanged because
	// the expiry may have changed.
	exp := badgerExpiry(rec.ExpiresAt)
	if err := txn.SetEntry(&badger.Entry{Key: key, Value: val, ExpiresAt: exp}); err != nil {
		return err
	}
	if rec.UID != "" {
		if err := txn.SetEntry(&badger.Entry{Key: uidKey(rec.Kind, rec.UID), Value: []byte(rec.ID), ExpiresAt: exp}); err != nil {
			return err
		}
	}
	if rec.GrantID != "" {
		if err := txn.SetEntry(&badger.Entry{Key: grantKey(rec.GrantID, rec.Kind, rec.ID), ExpiresAt: exp}); err != nil {
			return err
		}
	}
	if rec.Owner != "" {
		if err := txn.SetEntry(&badger.Entry{Key: ownerKey(rec.Kind, rec.Owner, rec.ID), ExpiresAt: exp}); err != nil {
			return err
		}
	}
	return nil
}

// checkSize refuses what Badger would refuse, before Badger can: its own
// size errors quote up to a kilobyte of the key or value, and the value is
// the provider's payload, which must never reach a log.
func (s *Store) checkSize(key, val []byte, rec *provider.Record) error {
	const indexOverhead = 2 * binary.MaxVarintLen32 // space byte and length prefixes, rounded up
	switch {
	case len(val) > s.maxValue:
		return fmt.Errorf("%w: encoded record of %d bytes, limit %d", errTooLarge, len(val), s.maxValue)
	case len(key) > maxKeySize,
		1+indexOverhead+len(rec.Kind)+len(rec.UID) > maxKeySize,
		1+indexOverhead+len(rec.GrantID)+len(rec.Kind)+len(rec.ID) > maxKeySize,
		1+indexOverhead+len(rec.Kind)+len(rec.Owner)+len(rec.ID) > maxKeySize:
		return fmt.Errorf("%w: kind, id, uid, grant id or owner makes a key longer than %d bytes", errTooLarge, maxKeySize)
	}
	return nil
}

// deleteRecord removes rec and its index entries.
func deleteRecord(txn *badger.Txn, rec *provider.Record) error {
	if err := txn.Delete(recordKey(rec.Kind, rec.ID)); err != nil {
		return err
	}
	if rec.UID != "" {
		if err := deleteUIDIfOwned(txn, rec.Kind, rec.UID, rec.ID); err != nil {
			return err
		}
	}
	if rec.GrantID != "" {
		if err := txn.Delete(grantKey(rec.GrantID, rec.Kind, rec.ID)); err != nil {
			return err
		}
	}
	if rec.Owner != "" {
		return txn.Delete(ownerKey(rec.Kind, rec.Owner, rec.ID))
	}
	return nil
}

// deleteUIDIfOwned deletes the UID index entry only while it still points at
// id: if another record has since taken the UID, the entry is that record's.
// Reading the entry also makes a concurrent takeover a transaction conflict.
func deleteUIDIfOwned(txn *badger.Txn, kind provider.Kind, uid, id string) error {
	key := uidKey(kind, uid)
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	owned := false
	if err := item.Value(func(v []byte) error { owned = string(v) == id; return nil }); err != nil {
		return err
	}
	if !owned {
		return nil
	}
	return txn.Delete(key)
}

// Put implements provider.Store.
func (s *Store) Put(ctx context.Context, rec provider.Record, durable bool) error {
	return s.write(ctx, "put", rec, durable, false)
}

// Create implements provider.Store: Put, but only where no live record is.
func (s *Store) Create(ctx context.Context, rec provider.Record, durable bool) error {
	return s.write(ctx, "create", rec, durable, true)
}

// write stores rec, replacing the record under its key; with onlyIfAbsent a
// live record there makes it fail with ErrAlreadyExists instead.
func (s *Store) write(ctx context.Context, op string, rec provider.Record, durable, onlyIfAbsent bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if rec.Kind == "" || rec.ID == "" {
		return errors.New("badgerstore: " + op + ": empty kind or id")
	}
	if err := s.writable(len(rec.Payload) + len(rec.ID) + len(rec.UID) + len(rec.GrantID)); err != nil {
		return opError(op, rec.Kind, err)
	}
	err := s.updateLocked(rec.ID, func(txn *badger.Txn) error {
		// Read the clock per attempt, after any wait for the stripe lock, so
		// a record that expired meanwhile is not treated as live.
		now := time.Now()
		old, err := getRecord(txn, rec.Kind, rec.ID)
		switch {
		case err == nil && onlyIfAbsent && live(&old, now):
			return provider.ErrAlreadyExists
		case err == nil:
			return s.writeRecord(txn, &rec, &old, now)
		case err == provider.ErrNotFound, errors.Is(err, errCorruptRecord):
			// A corrupt old value is overwritten: its index entries cannot be
			// found, but readers verify index hits against the record, so
			// they are dead weight until their TTL, not wrong answers.
			return s.writeRecord(txn, &rec, nil, now)
		default:
			return err
		}
	})
	if errors.Is(err, provider.ErrAlreadyExists) {
		return provider.ErrAlreadyExists
	}
	if err != nil {
		return opError(op, rec.Kind, err)
	}
	if durable {
		return s.sync(op, rec.Kind)
	}
	return nil
}

// Get implements provider.Store.
func (s *Store) Get(ctx context.Context, kind provider.Kind, id string) (provider.Record, error) {
	if err := ctx.Err(); err != nil {
		return provider.Record{}, err
	}
	now := time.Now()
	var rec provider.Record
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		rec, err = getLive(txn, kind, id, now)
		return err
	})
	if err != nil {
		return provider.Record{}, opError("get", kind, err)
	}
	return rec, nil
}

// GetByUID implements provider.Store.
func (s *Store) GetByUID(ctx context.Context, kind provider.Kind, uid string) (provider.Record, error) {
	if err := ctx.Err(); err != nil {
		return provider.Record{}, err
	}
	if uid == "" {
		// Records without a UID have no index entry.
		return provider.Record{}, provider.ErrNotFound
	}
	now := time.Now()
	var rec provider.Record
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(uidKey(kind, uid))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return provider.ErrNotFound
		}
		if err != nil {
			return err
		}
		var id string
		if err := item.Value(func(v []byte) error { id = string(v); return nil }); err != nil {
			return err
		}
		rec, err = getLive(txn, kind, id, now)
		if err == nil && rec.UID != uid {
			// A stale entry (see Put): the record has another UID by now.
			return provider.ErrNotFound
		}
		return err
	})
	if err != nil {
		return provider.Record{}, opError("get by uid", kind, err)
	}
	return rec, nil
}

// Update implements provider.Store. fn may run more than once when the
// transaction conflicts; only the last run's changes are written, so fn should
// change nothing but the record. fn runs under the record's stripe lock and
// must not call the Store: a write that hashes to the same stripe would
// deadlock. Update does not sync: the contract has no durable flag for it, so
// it rides on the next durable operation or flush. Setting ExpiresAt to the
// past deletes the record.
func (s *Store) Update(ctx context.Context, kind provider.Kind, id string, fn func(*provider.Record) error) (provider.Record, error) {
	if err := ctx.Err(); err != nil {
		return provider.Record{}, err
	}
	if err := s.writable(len(id)); err != nil {
		return provider.Record{}, opError("update", kind, err)
	}
	var (
		rec   provider.Record
		fnErr error
	)
	err := s.updateLocked(id, func(txn *badger.Txn) error {
		// Read the clock per attempt, after any wait for the stripe lock, so
		// a record that expired meanwhile is not treated as live.
		now := time.Now()
		old, err := getLive(txn, kind, id, now)
		if err != nil {
			return err
		}
		// fn gets its own copy: old must stay intact to clean up the indexes.
		rec = old
		rec.Payload = append([]byte(nil), old.Payload...)
		if fnErr = fn(&rec); fnErr != nil {
			return fnErr
		}
		if rec.Kind != kind || rec.ID != id {
			return errors.New("fn changed the record's kind or id")
		}
		return s.writeRecord(txn, &rec, &old, now)
	})
	switch {
	case err == nil:
		// Durable per the Store contract: updates consume refresh tokens.
		// Synced outside the stripe lock, like Consume.
		if err := s.sync("update", kind); err != nil {
			return provider.Record{}, err
		}
		return rec, nil
	case fnErr != nil && err == fnErr:
		// The caller's own error, unchanged, so it can match it directly.
		return provider.Record{}, err
	default:
		return provider.Record{}, opError("update", kind, err)
	}
}

// Consume implements provider.Store.
func (s *Store) Consume(ctx context.Context, kind provider.Kind, id string, at time.Time) (provider.Record, error) {
	if err := ctx.Err(); err != nil {
		return provider.Record{}, err
	}
	if at.IsZero() {
		// A zero ConsumedAt means "not consumed": the record would stay
		// consumable forever.
		return provider.Record{}, errors.New("badgerstore: consume: zero time")
	}
	if err := s.writable(len(id)); err != nil {
		return provider.Record{}, opError("consume", kind, err)
	}
	var rec provider.Record
	// A conflict means someone else wrote the record first; the retry re-reads
	// it and reports it consumed if that write was a Consume.
	err := s.updateLocked(id, func(txn *badger.Txn) error {
		// Read the clock per attempt, after any wait for the stripe lock, so
		// a record that expired meanwhile is not treated as live.
		now := time.Now()
		var err error
		rec, err = getLive(txn, kind, id, now)
		if err != nil {
			return err
		}
		if !rec.ConsumedAt.IsZero() {
			return provider.ErrAlreadyConsumed
		}
		rec.ConsumedAt = at
		key, val := recordKey(kind, id), encodeRecord(&rec)
		if err := s.checkSize(key, val, &rec); err != nil {
			return err
		}
		// Only the value changes: the index entries already carry this TTL.
		return txn.SetEntry(&badger.Entry{Key: key, Value: val, ExpiresAt: badgerExpiry(rec.ExpiresAt)})
	})
	switch {
	case err == nil:
		// Sync outside the stripe lock: losers need not wait for our fsync
		// to learn that they lost.
		if err := s.sync("consume", kind); err != nil {
			return provider.Record{}, err
		}
		return rec, nil
	case err == provider.ErrAlreadyConsumed:
		return rec, err
	default:
		return provider.Record{}, opError("consume", kind, err)
	}
}

// Delete implements provider.Store.
func (s *Store) Delete(ctx context.Context, kind provider.Kind, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.writable(len(id)); err != nil {
		return opError("delete", kind, err)
	}
	err := s.updateLocked(id, func(txn *badger.Txn) error {
		// Read the clock per attempt, after any wait for the stripe lock, so
		// a record that expired meanwhile is not treated as live.
		now := time.Now()
		rec, err := getLive(txn, kind, id, now)
		if errors.Is(err, errCorruptRecord) {
			// Deleting is how an operator gets rid of a corrupt record.
			return txn.Delete(recordKey(kind, id))
		}
		if err != nil {
			return err
		}
		return deleteRecord(txn, &rec)
	})
	if err != nil {
		return opError("delete", kind, err)
	}
	return s.sync("delete", kind)
}

// DeleteByGrant implements provider.Store. It removes the grant's records in
// batches of separate transactions, so it is not atomic: a record added to the
// grant while it runs may survive. It checks ctx only on entry: once a
// revocation has started, finishing it is safer than stopping half-way.
func (s *Store) DeleteByGrant(ctx context.Context, grantID string) ([]provider.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if grantID == "" {
		// Records without a grant have no index entry.
		return nil, nil
	}
	if err := s.writable(len(grantID)); err != nil {
		return nil, opError("delete by grant", "", err)
	}
	prefix := grantPrefix(grantID)
	var (
		removed   []provider.Record
		committed bool // whether any batch deleted something, so a sync is due
	)
	batch := s.grantBatch
	for {
		keys, err := s.grantKeys(prefix, batch)
		if err != nil {
			return removed, s.finishGrant(committed, opError("delete by grant", "", err))
		}
		if len(keys) == 0 {
			break
		}
		var got []provider.Record
		err = s.update(func(txn *badger.Txn) error {
			got = got[:0]
			now := time.Now()
			for _, key := range keys {
				// The entry goes whatever it points to; deleting every
				// scanned key is also what guarantees the loop ends.
				if err := txn.Delete(key); err != nil {
					return err
				}
				kind, id, ok := parseGrantKey(key, prefix)
				if !ok {
					continue
				}
				rec, err := getRecord(txn, kind, id)
				switch {
				case err == nil && rec.GrantID == grantID:
					if err := deleteRecord(txn, &rec); err != nil {
						return err
					}
					if live(&rec, now) {
						got = append(got, rec)
					}
				case err == nil, err == provider.ErrNotFound, errors.Is(err, errCorruptRecord):
					// A stale entry: the record is gone, unreadable or in
					// another grant by now.
				default:
					return err
				}
			}
			return nil
		})
		if errors.Is(err, badger.ErrTxnTooBig) && batch > 1 {
			// Records with long keys: retry the same entries in smaller
			// transactions.
			batch /= 2
			continue
		}
		if err != nil {
			return removed, s.finishGrant(committed, opError("delete by grant", "", err))
		}
		committed = true
		removed = append(removed, got...)
	}
	return removed, s.finishGrant(committed, nil)
}

// finishGrant syncs whatever DeleteByGrant committed, also when it stops on an
// error after some batches: those revocations must not come back either. A
// grant with nothing to delete, the common case, costs no fsync.
func (s *Store) finishGrant(committed bool, err error) error {
	if !committed {
		return err
	}
	return errors.Join(err, s.sync("delete by grant", ""))
}

// grantKeys returns up to limit grant index keys under prefix. Reading them
// in their own transaction keeps the deleting transaction small.
func (s *Store) grantKeys(prefix []byte, limit int) ([][]byte, error) {
	var keys [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix) && len(keys) < limit; it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		return nil
	})
	return keys, err
}

// ListByOwner implements provider.Store: one prefix scan of the owner index
// from just after the cursor, reading each record in the same read-only
// transaction. Index entries whose record is gone, expired or has another
// owner by now are skipped, not repaired: they share the record's Badger TTL
// and are rewritten or deleted with it.
func (s *Store) ListByOwner(ctx context.Context, kind provider.Kind, owner, after string, limit int) ([]provider.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if owner == "" || limit <= 0 {
		return nil, nil
	}
	prefix := ownerPrefix(kind, owner)
	// The smallest key after the cursor's: the cursor's ID plus a zero byte.
	start := append(ownerKey(kind, owner, after), 0)
	now := time.Now()
	var out []provider.Record
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		if after == "" {
			start = prefix
		}
		for it.Seek(start); it.ValidForPrefix(prefix) && len(out) < limit; it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			id := string(it.Item().Key()[len(prefix):])
			rec, err := getLive(txn, kind, id, now)
			switch {
			case err == nil && rec.Owner == owner:
				out = append(out, rec)
			case err == nil, errors.Is(err, provider.ErrNotFound), errors.Is(err, errCorruptRecord):
				// A stale entry.
			default:
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, opError("list by owner", kind, err)
	}
	return out, nil
}
