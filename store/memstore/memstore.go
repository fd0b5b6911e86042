// Package memstore implements [provider.Store] in memory, for fast unit tests
// and as a reference implementation of the Store contract: it passes the
// conformance suite in [github.com/oidcaddy/oidcaddy/store/storetest] with the
// plainest code that can, so a question about what a backend must do can be
// answered by reading it.
//
// It is not for production: nothing survives a restart, so a consumed code or a
// revocation would come back as unknown (and registered clients, sessions and
// grants would be lost). The durable flag is therefore meaningless here and
// ignored.
//
// Concurrency: one mutex guards everything. Every operation, including the
// read-modify-write of Update and Consume, runs entirely under it, so there are
// no conflicts to retry: Update's fn runs exactly once per call.
//
// Expiry: a record is absent from its ExpiresAt on, checked against the wall
// clock at full precision on every read. Expired records are removed when an
// operation touches them and by a sweep that runs after enough writes that its
// cost, spread over those writes, is constant.
package memstore

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// recordKey is a record's primary key. A struct key cannot collide the way a
// concatenated string could ("a"+"b:c" vs "a:b"+"c").
type recordKey struct {
	kind provider.Kind
	id   string
}

type uidKey struct {
	kind provider.Kind
	uid  string
}

type ownerKey struct {
	kind  provider.Kind
	owner string
}

// minSweepInterval is the number of writes after which a sweep may run even
// when the store is small.
const minSweepInterval = 1024

// Store is an in-memory [provider.Store]. The zero value is not usable; call
// New.
type Store struct {
	mu      sync.Mutex
	records map[recordKey]*provider.Record
	// uids maps a UID to the ID of the record that holds it. A record's UID
	// entry is removed only while it still points at that record: another
	// record may have taken the UID since (as in badgerstore).
	uids map[uidKey]string
	// grants lists each grant's records, for DeleteByGrant.
	grants map[string]map[recordKey]struct{}
	// owners lists the IDs of each owner's records of a kind, for ListByOwner.
	owners map[ownerKey]map[string]struct{}
	// writes counts writes since the last sweep of expired records.
	writes int
}

// New returns an empty store.
func New() *Store {
	return &Store{
		records: make(map[recordKey]*provider.Record),
		uids:    make(map[uidKey]string),
		grants:  make(map[string]map[recordKey]struct{}),
		owners:  make(map[ownerKey]map[string]struct{}),
	}
}

var errZeroConsumeTime = errors.New("memstore: consume: zero time")

func live(r *provider.Record, now time.Time) bool {
	return r.ExpiresAt.IsZero() || now.Before(r.ExpiresAt)
}

// clone returns a copy of r that shares no memory with it, so neither the
// caller nor the store can change the other's record.
func clone(r *provider.Record) provider.Record {
	c := *r
	if r.Payload != nil {
		c.Payload = append([]byte(nil), r.Payload...)
	}
	return c
}

// liveLocked returns the live record under k, removing it if it has expired.
func (s *Store) liveLocked(k recordKey, now time.Time) (*provider.Record, bool) {
	r, ok := s.records[k]
	if !ok {
		return nil, false
	}
	if !live(r, now) {
		s.removeLocked(r)
		return nil, false
	}
	return r, true
}

// removeLocked removes r and its index entries.
func (s *Store) removeLocked(r *provider.Record) {
	k := recordKey{r.Kind, r.ID}
	delete(s.records, k)
	if r.UID != "" {
		uk := uidKey{r.Kind, r.UID}
		if s.uids[uk] == r.ID {
			delete(s.uids, uk)
		}
	}
	if r.GrantID != "" {
		if members := s.grants[r.GrantID]; members != nil {
			delete(members, k)
			if len(members) == 0 {
				delete(s.grants, r.GrantID)
			}
		}
	}
	if r.Owner != "" {
		ok := ownerKey{r.Kind, r.Owner}
		if ids := s.owners[ok]; ids != nil {
			delete(ids, r.ID)
			if len(ids) == 0 {
				delete(s.owners, ok)
			}
		}
	}
}

// writeLocked stores a copy of rec in place of whatever is under its key
// (live or expired). A record that has already expired is not stored, so
// writing one deletes the previous record.
func (s *Store) writeLocked(rec *provider.Record, now time.Time) {
	k := recordKey{rec.Kind, rec.ID}
	if old, ok := s.records[k]; ok {
		s.removeLocked(old)
	}
	if !live(rec, now) {
		return
	}
	stored := clone(rec)
	s.records[k] = &stored
	if stored.UID != "" {
		s.uids[uidKey{stored.Kind, stored.UID}] = stored.ID
	}
	if stored.GrantID != "" {
		members := s.grants[stored.GrantID]
		if members == nil {
			members = make(map[recordKey]struct{})
			s.grants[stored.GrantID] = members
		}
		members[k] = struct{}{}
	}
	if stored.Owner != "" {
		ok := ownerKey{stored.Kind, stored.Owner}
		ids := s.owners[ok]
		if ids == nil {
			ids = make(map[string]struct{})
			s.owners[ok] = ids
		}
		ids[stored.ID] = struct{}{}
	}
	s.writes++
	if s.writes >= max(minSweepInterval, len(s.records)) {
		s.sweepLocked(now)
	}
}

// sweepLocked removes every expired record, so records nobody reads again do
// not accumulate.
func (s *Store) sweepLocked(now time.Time) {
	s.writes = 0
	for _, r := range s.records {
		if !live(r, now) {
			s.removeLocked(r)
		}
	}
}

// Put implements provider.Store.
func (s *Store) Put(ctx context.Context, rec provider.Record, durable bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeLocked(&rec, time.Now())
	return nil
}

// Create implements provider.Store: Put, but only where no live record is.
func (s *Store) Create(ctx context.Context, rec provider.Record, durable bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if _, ok := s.liveLocked(recordKey{rec.Kind, rec.ID}, now); ok {
		return provider.ErrAlreadyExists
	}
	s.writeLocked(&rec, now)
	return nil
}

// Get implements provider.Store.
func (s *Store) Get(ctx context.Context, kind provider.Kind, id string) (provider.Record, error) {
	if err := ctx.Err(); err != nil {
		return provider.Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.liveLocked(recordKey{kind, id}, time.Now())
	if !ok {
		return provider.Record{}, provider.ErrNotFound
	}
	return clone(r), nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.uids[uidKey{kind, uid}]
	if !ok {
		return provider.Record{}, provider.ErrNotFound
	}
	r, ok := s.liveLocked(recordKey{kind, id}, time.Now())
	if !ok || r.UID != uid {
		return provider.Record{}, provider.ErrNotFound
	}
	return clone(r), nil
}

// Update implements provider.Store. fn runs once, under the store's lock; it
// must not call the store. Setting ExpiresAt to the past deletes the record.
func (s *Store) Update(ctx context.Context, kind provider.Kind, id string, fn func(*provider.Record) error) (provider.Record, error) {
	if err := ctx.Err(); err != nil {
		return provider.Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	old, ok := s.liveLocked(recordKey{kind, id}, now)
	if !ok {
		return provider.Record{}, provider.ErrNotFound
	}
	// fn works on a copy: an error from it must leave the record untouched.
	rec := clone(old)
	if err := fn(&rec); err != nil {
		return provider.Record{}, err
	}
	if rec.Kind != kind || rec.ID != id {
		return provider.Record{}, errors.New("memstore: update: fn changed the record's kind or id")
	}
	s.writeLocked(&rec, now)
	return clone(&rec), nil
}

// Consume implements provider.Store.
func (s *Store) Consume(ctx context.Context, kind provider.Kind, id string, at time.Time) (provider.Record, error) {
	if err := ctx.Err(); err != nil {
		return provider.Record{}, err
	}
	if at.IsZero() {
		// A zero ConsumedAt means "not consumed": the record would stay
		// consumable forever.
		return provider.Record{}, errZeroConsumeTime
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.liveLocked(recordKey{kind, id}, time.Now())
	if !ok {
		return provider.Record{}, provider.ErrNotFound
	}
	if !r.ConsumedAt.IsZero() {
		return clone(r), provider.ErrAlreadyConsumed
	}
	r.ConsumedAt = at
	return clone(r), nil
}

// Delete implements provider.Store.
func (s *Store) Delete(ctx context.Context, kind provider.Kind, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.liveLocked(recordKey{kind, id}, time.Now())
	if !ok {
		return provider.ErrNotFound
	}
	s.removeLocked(r)
	return nil
}

// DeleteByGrant implements provider.Store. Unlike badgerstore's it is atomic:
// it removes the whole grant under one lock.
func (s *Store) DeleteByGrant(ctx context.Context, grantID string) ([]provider.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if grantID == "" {
		// Records without a grant have no index entry.
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	var removed []provider.Record
	for k := range s.grants[grantID] {
		r := s.records[k]
		s.removeLocked(r)
		if live(r, now) {
			removed = append(removed, clone(r))
		}
	}
	return removed, nil
}

// ListByOwner implements provider.Store. It sorts the owner's IDs on every
// call, which is fine for tests and the reference it is meant to be.
func (s *Store) ListByOwner(ctx context.Context, kind provider.Kind, owner, after string, limit int) ([]provider.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if owner == "" || limit <= 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.owners[ownerKey{kind, owner}]))
	for id := range s.owners[ownerKey{kind, owner}] {
		if id > after {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	now := time.Now()
	var out []provider.Record
	for _, id := range ids {
		if len(out) == limit {
			break
		}
		if r, ok := s.liveLocked(recordKey{kind, id}, now); ok {
			out = append(out, clone(r))
		}
	}
	return out, nil
}
