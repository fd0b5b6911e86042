package provider

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strconv"
	"sync"
	"time"
)

// successorSealer keeps a rotated refresh token's successor readable for the
// reuse grace, so that a duplicate of the refresh (RFC 9700 §4.14.2: "the
// client racing itself") can be answered with the same successor instead of
// an error. The successor is sealed with AES-256-GCM into the consumed
// token's record, bound to that record's id.
//
// The keys live in memory only and are replaced every period (at least the
// grace): a sealed value opens under the key of its own period or the one
// before, so it can be read for at least one grace after sealing and by
// nobody once both keys are gone. Tokens stay stored only as hashes in every
// sense that matters: a copy of the database, even with the secret key file,
// yields no usable refresh token. The price: after a restart (or on another
// instance) a duplicate within the grace is refused as before, without
// revoking anything. On a store shared by several instances the keys are
// shared instead (sharedSuccessorKey): sealed under Config.SecretKey in the
// store and gone from it two periods after their own, so a database copy
// opens nothing without the secret key, and nothing old even with it.
type successorSealer struct {
	period time.Duration
	mu     sync.Mutex
	keys   map[int64]cipher.AEAD // by period index; at most two
	// shared, when set, gets a period's key from the store all instances
	// share, so a duplicate refresh that lands on another instance is
	// answered with the same successor (issue 10 part 3).
	shared func(ctx context.Context, idx int64, period time.Duration, create bool) ([]byte, error)
}

var errSuccessorGone = errors.New("the sealed successor no longer opens")

func newSuccessorSealer(grace time.Duration) *successorSealer {
	return &successorSealer{period: max(grace, time.Second), keys: map[int64]cipher.AEAD{}}
}

// key returns the key of period idx, making it if create is set. Keys of
// periods before the one preceding now are dropped first, so they neither
// open anything nor linger in memory. With a shared source the key of a
// period is the one every instance uses (sharedKey); a store error then
// means no key, which costs a duplicate its successor, not its answer.
func (s *successorSealer) key(ctx context.Context, idx int64, create bool, now time.Time) cipher.AEAD {
	cur := s.index(now)
	k := s.cached(idx, cur)
	if k != nil || idx < cur-1 || idx > cur+1 || (!create && s.shared == nil) {
		return k
	}
	var raw []byte
	if s.shared != nil {
		var err error
		if raw, err = s.shared(ctx, idx, s.period, create); err != nil {
			return nil
		}
	} else {
		raw = make([]byte, 32)
		rand.Read(raw)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil
	}
	if k, err = cipher.NewGCM(block); err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if have := s.keys[idx]; have != nil {
		return have // made meanwhile by another request of this instance
	}
	s.keys[idx] = k
	return k
}

// cached returns the in-memory key of period idx, dropping those of periods
// before cur-1.
func (s *successorSealer) cached(idx, cur int64) cipher.AEAD {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.keys {
		if i < cur-1 {
			delete(s.keys, i)
		}
	}
	return s.keys[idx]
}

func (s *successorSealer) index(now time.Time) int64 { return now.UnixNano() / int64(s.period) }

// seal encrypts successor for the consumed token consumedID.
func (s *successorSealer) seal(ctx context.Context, successor, consumedID string, now time.Time) []byte {
	idx := s.index(now)
	k := s.key(ctx, idx, true, now)
	if k == nil {
		return nil
	}
	out := binary.BigEndian.AppendUint64(nil, uint64(idx))
	nonce := make([]byte, k.NonceSize())
	rand.Read(nonce)
	out = append(out, nonce...)
	return k.Seal(out, nonce, []byte(successor), []byte(consumedID))
}

// open returns the successor sealed for consumedID, or errSuccessorGone.
func (s *successorSealer) open(ctx context.Context, sealed []byte, consumedID string, now time.Time) (string, error) {
	if len(sealed) < 8 {
		return "", errSuccessorGone
	}
	k := s.key(ctx, int64(binary.BigEndian.Uint64(sealed)), false, now)
	if k == nil || len(sealed) < 8+k.NonceSize() {
		return "", errSuccessorGone
	}
	nonce, ct := sealed[8:8+k.NonceSize()], sealed[8+k.NonceSize():]
	plain, err := k.Open(nil, nonce, ct, []byte(consumedID))
	if err != nil {
		return "", errSuccessorGone
	}
	return string(plain), nil
}

// sharedSuccessorKey is the successorSealer's shared source: the key of
// period idx, made once by whichever instance asks first (Store.Create) and
// read by the others, sealed under Config.SecretKey with its record id as
// associated data. It expires from the store when it can open nothing any
// more (two periods after its own start).
func (p *Provider) sharedSuccessorKey(ctx context.Context, idx int64, period time.Duration, create bool) ([]byte, error) {
	id := "refresh_successor/" + strconv.FormatInt(int64(period), 10) + "/" + strconv.FormatInt(idx, 10)
	for {
		rec, err := p.cfg.Store.Get(ctx, KindProviderSecret, id)
		if err == nil {
			return p.unseal(rec.Payload, id)
		}
		if !errors.Is(err, ErrNotFound) || !create {
			return nil, err
		}
		raw := make([]byte, 32)
		rand.Read(raw)
		sealed, err := p.seal(raw, id)
		if err != nil {
			return nil, err
		}
		exp := time.Unix(0, (idx+2)*int64(period))
		err = p.cfg.Store.Create(ctx, Record{Kind: KindProviderSecret, ID: id, Payload: sealed, ExpiresAt: exp}, true)
		if err == nil {
			return raw, nil
		}
		if !errors.Is(err, ErrAlreadyExists) {
			return nil, err
		}
		// Another instance made it first: read theirs.
	}
}
