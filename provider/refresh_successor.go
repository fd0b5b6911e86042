package provider

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
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
// revoking anything.
type successorSealer struct {
	period time.Duration
	mu     sync.Mutex
	keys   map[int64]cipher.AEAD // by period index; at most two
}

var errSuccessorGone = errors.New("the sealed successor no longer opens")

func newSuccessorSealer(grace time.Duration) *successorSealer {
	return &successorSealer{period: max(grace, time.Second), keys: map[int64]cipher.AEAD{}}
}

// key returns the key of period idx, making it if create is set. Keys of
// periods before the one preceding now are dropped first, so they neither
// open anything nor linger in memory.
func (s *successorSealer) key(idx int64, create bool, now time.Time) cipher.AEAD {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.index(now)
	for i := range s.keys {
		if i < cur-1 {
			delete(s.keys, i)
		}
	}
	k := s.keys[idx]
	if k == nil && create {
		raw := make([]byte, 32)
		rand.Read(raw)
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil
		}
		if k, err = cipher.NewGCM(block); err != nil {
			return nil
		}
		s.keys[idx] = k
	}
	return k
}

func (s *successorSealer) index(now time.Time) int64 { return now.UnixNano() / int64(s.period) }

// seal encrypts successor for the consumed token consumedID.
func (s *successorSealer) seal(successor, consumedID string, now time.Time) []byte {
	idx := s.index(now)
	k := s.key(idx, true, now)
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
func (s *successorSealer) open(sealed []byte, consumedID string, now time.Time) (string, error) {
	if len(sealed) < 8 {
		return "", errSuccessorGone
	}
	k := s.key(int64(binary.BigEndian.Uint64(sealed)), false, now)
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
