package provider

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// newSecret returns 256 bits of randomness, base64url-encoded: the format of
// every bearer value the provider hands out (codes, tokens, session cookies).
func newSecret() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand panics on a broken system source)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newHandle returns a shorter random identifier for values that are looked up
// but grant nothing by themselves (interaction uids, grant ids, session ids).
func newHandle() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// secretID is the storage key of a bearer secret: its SHA-256. A leaked
// database then yields no usable token, code or cookie.
func secretID(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(h[:])
}
