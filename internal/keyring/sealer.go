package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// MinSecretLen is the shortest key-encryption secret accepted, in bytes:
// `openssl rand -base64 32` (44 characters) or `openssl rand -hex 16` (32)
// are long enough.
const MinSecretLen = 32

// minDistinctBytes catches secrets that are long but plainly not random
// ("aaaa…", "changeme" repeated): a hex string of 32 random characters
// holds about 14 distinct characters, base64 more.
const minDistinctBytes = 8

// hkdfSalt separates the keys derived here from any other use of the same
// secret; "v1" leaves room for a different derivation later.
const hkdfSalt = "oidcaddy keyring v1"

// Sealer encrypts key material for the store with AES-256-GCM under a key
// derived from the operator's key-encryption secret (HKDF-SHA256, RFC 5869).
// Every sealed value is bound by associated data to the record and key it
// belongs to, so a value copied to another place does not open.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer derives the sealing key from secret. It refuses a secret that is
// too short or visibly not random; its errors never quote the secret.
func NewSealer(secret []byte) (*Sealer, error) {
	switch {
	case len(secret) == 0:
		return nil, errors.New("the key-encryption secret is empty (is its environment variable set?)")
	case len(secret) < MinSecretLen:
		return nil, fmt.Errorf("the key-encryption secret has %d bytes, at least %d are required; generate one with `openssl rand -base64 48`", len(secret), MinSecretLen)
	}
	distinct := map[byte]bool{}
	for _, b := range secret {
		distinct[b] = true
	}
	if len(distinct) < minDistinctBytes {
		return nil, fmt.Errorf("the key-encryption secret uses only %d distinct characters and cannot be random; generate one with `openssl rand -base64 48`", len(distinct))
	}
	key, err := hkdf.Key(sha256.New, secret, []byte(hkdfSalt), "aes-256-gcm key sealing stored key material", 32)
	if err != nil {
		return nil, fmt.Errorf("deriving the sealing key: %w", err)
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// ErrWrongSecret: sealed material did not open. Either the key-encryption
// secret differs from the one it was sealed with, or the stored value was
// altered or moved.
var ErrWrongSecret = errors.New("stored key material does not open with the configured key-encryption secret " +
	"(every instance must use the secret the keys were created with)")

// Seal returns nonce || ciphertext of plain, bound to aad.
func (s *Sealer) Seal(plain, aad []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plain, aad)
}

// Open reverses Seal; it fails with ErrWrongSecret.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrWrongSecret
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, ErrWrongSecret
	}
	return plain, nil
}
