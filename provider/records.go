package provider

import (
	"context"
	"time"
)

// Typed record stores. Every kind of record the provider keeps has one small
// store (records_*.go) on top of Store, the backend contract (storage.go):
// it owns the record's key space, its codec, the expiry check against the
// provider's clock and the record's lifecycle events (*.saved, *.consumed,
// *.destroyed, grant.revoked), so a call site never touches Store or emits
// a lifecycle event itself. The stores are values built on demand
// (p.codes(), p.sessions(), …): they hold nothing but the provider.

// records is what every typed store shares for its Kind: encoding, decoding
// and the provider's expiry on top of the backend's.
type records[T any] struct {
	p    *Provider
	kind Kind
}

// put writes v as the record id (with its optional UID and GrantID index
// entries), expiring at exp (zero: never).
func (s records[T]) put(ctx context.Context, id, uid, grantID string, v T, exp time.Time, durable bool) error {
	return s.putOwned(ctx, id, uid, grantID, "", v, exp, durable)
}

// putOwned is put with an Owner index entry (Store.ListByOwner).
func (s records[T]) putOwned(ctx context.Context, id, uid, grantID, owner string, v T, exp time.Time, durable bool) error {
	b, err := encodePayload(v)
	if err != nil {
		return err
	}
	return s.p.cfg.Store.Put(ctx, Record{Kind: s.kind, ID: id, UID: uid, GrantID: grantID, Owner: owner, Payload: b, ExpiresAt: exp}, durable)
}

// get reads and decodes the live record id; ErrNotFound when it is absent or
// expired by the provider's clock.
func (s records[T]) get(ctx context.Context, id string) (T, Record, error) {
	rec, err := s.p.cfg.Store.Get(ctx, s.kind, id)
	return s.live(rec, err)
}

// getByUID is get by the record's secondary key.
func (s records[T]) getByUID(ctx context.Context, uid string) (T, Record, error) {
	rec, err := s.p.cfg.Store.GetByUID(ctx, s.kind, uid)
	return s.live(rec, err)
}

func (s records[T]) live(rec Record, err error) (T, Record, error) {
	var v T
	if err != nil {
		return v, rec, err
	}
	if s.p.expired(rec) {
		return v, rec, ErrNotFound
	}
	return v, rec, decodeInto(rec.Payload, &v)
}

// update is an atomic read-modify-write of the record id: fn gets the
// decoded value and the record (for its expiry, consumption and grant), and
// what it leaves in v is written back. An error from fn aborts the write.
// Like Store.Update, fn may run more than once; the value of the last run is
// returned, also with fn's error.
func (s records[T]) update(ctx context.Context, id string, fn func(v *T, rec *Record) error) (T, error) {
	var last T
	_, err := s.p.cfg.Store.Update(ctx, s.kind, id, func(rec *Record) error {
		var v T
		if err := decodeInto(rec.Payload, &v); err != nil {
			return err
		}
		err := fn(&v, rec)
		last = v
		if err != nil {
			return err
		}
		b, err := encodePayload(v)
		rec.Payload = b
		return err
	})
	return last, err
}

// consume marks the record consumed now, atomically (exactly one of
// concurrent callers wins); see Store.Consume.
func (s records[T]) consume(ctx context.Context, id string) (Record, error) {
	return s.p.cfg.Store.Consume(ctx, s.kind, id, s.p.now())
}

func (s records[T]) delete(ctx context.Context, id string) error {
	return s.p.cfg.Store.Delete(ctx, s.kind, id)
}

// expired applies the provider's clock on top of the store's own expiry:
// stores may remove records late (Badger's TTL has one-second granularity),
// and the provider's notion of time is the one its tokens are stamped with.
func (p *Provider) expired(rec Record) bool {
	return !rec.ExpiresAt.IsZero() && !p.now().Before(rec.ExpiresAt)
}
