package provider

import (
	"cmp"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Stored password hashes: bcrypt ($2a$, $2b$, $2y$) and argon2id in the PHC
// string format ($argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>,
// salt and hash in unpadded standard base64, as `caddy hash-password` and
// most tools write them).
//
// Every parameter that sets the cost of a verification is bounded when the
// users are loaded: the hash is the operator's input, but one absurd hash
// (bcrypt cost 31, argon2id with 4 GiB) would make every sign-in, and every
// sign-in with an unknown login (which is verified against a hash with the
// same parameters), take the server's CPU or memory.
const (
	AlgorithmArgon2id = "argon2id"
	AlgorithmBcrypt   = "bcrypt"

	// Defaults of HashPassword. argon2id with 19 MiB, 2 passes and one
	// lane is OWASP's first recommended argon2id setting (Password Storage
	// Cheat Sheet), RFC 9106 §4's 128-bit salt and 256-bit tag: some tens
	// of milliseconds per check. bcrypt cost 10 is OWASP's minimum for
	// bcrypt and still well under 100 ms on small machines (cost 14, Caddy's
	// default, takes 1-4 s per sign-in there).
	DefaultArgon2idMemoryKiB = 19 * 1024
	DefaultArgon2idTime      = 2
	DefaultArgon2idThreads   = 1
	DefaultBcryptCost        = 10

	argon2idSaltLen = 16
	argon2idKeyLen  = 32

	// Bounds of stored hashes' parameters.
	MaxBcryptCost          = 16         // ~4-10 s per check on small machines
	MaxArgon2idMemoryKiB   = 256 * 1024 // per check; checks run concurrently
	MaxArgon2idTime        = 10
	MaxArgon2idThreads     = 16
	minArgon2idSaltLen     = 8 // PHC string format minimum
	maxArgon2idSaltLen     = 64
	minArgon2idKeyLen      = 16
	maxArgon2idKeyLen      = 64
	argon2idVersionPHC     = "v=19" // argon2.Version, 0x13
	dummyPasswordByteCount = 32
)

// passwordHash is a parsed, validated stored hash.
type passwordHash interface {
	// matches reports whether password is the one hashed, in time that
	// depends only on the hash's parameters.
	matches(password []byte) bool
	// params names the algorithm and every parameter that sets the cost of
	// matches: two hashes with the same params cost the same to check.
	params() string
	// dummy returns a hash of a random secret with the same params, which
	// no password matches in practice.
	dummy() (passwordHash, error)
}

// parsePasswordHash parses and validates a stored hash. Its errors never
// hold the hash.
func parsePasswordHash(s string) (passwordHash, error) {
	switch {
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s)
	case strings.HasPrefix(s, "$argon2"):
		return nil, errors.New("only the argon2id variant of argon2 is accepted")
	case strings.HasPrefix(s, "$2"):
		cost, err := bcrypt.Cost([]byte(s))
		if err != nil {
			return nil, errors.New("not a valid bcrypt hash")
		}
		if cost > MaxBcryptCost {
			return nil, fmt.Errorf("bcrypt cost %d is above the limit of %d (every sign-in would take seconds); rehash with `caddy oidc-hash-password`", cost, MaxBcryptCost)
		}
		return bcryptHash{hash: []byte(s), cost: cost}, nil
	}
	return nil, errors.New("not a bcrypt ($2a$, $2b$, $2y$) or argon2id ($argon2id$) hash")
}

type bcryptHash struct {
	hash []byte
	cost int
}

func (h bcryptHash) matches(password []byte) bool {
	return bcrypt.CompareHashAndPassword(h.hash, password) == nil
}

func (h bcryptHash) params() string { return "bcrypt cost=" + strconv.Itoa(h.cost) }

func (h bcryptHash) dummy() (passwordHash, error) {
	d, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), h.cost)
	if err != nil {
		return nil, err
	}
	return bcryptHash{hash: d, cost: h.cost}, nil
}

type argon2idHash struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

func parseArgon2id(s string) (passwordHash, error) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 {
		return nil, errors.New("not an argon2id PHC string ($argon2id$v=19$m=<KiB>,t=<n>,p=<n>$<salt>$<hash>)")
	}
	if parts[2] != argon2idVersionPHC {
		return nil, errors.New("argon2id: only version 19 (v=19) is accepted")
	}
	var h argon2idHash
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return nil, errors.New("argon2id: parameters must be m=<KiB>,t=<n>,p=<n>")
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(params[i], name)
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || n == 0 {
			return nil, errors.New("argon2id: parameters must be m=<KiB>,t=<n>,p=<n>, positive whole numbers in that order")
		}
		vals[i] = n
	}
	if vals[0] > MaxArgon2idMemoryKiB || vals[1] > MaxArgon2idTime || vals[2] > MaxArgon2idThreads {
		return nil, fmt.Errorf("argon2id: parameters m=%d,t=%d,p=%d are above the limits m=%d (KiB), t=%d, p=%d",
			vals[0], vals[1], vals[2], MaxArgon2idMemoryKiB, MaxArgon2idTime, MaxArgon2idThreads)
	}
	h.memory, h.time, h.threads = uint32(vals[0]), uint32(vals[1]), uint8(vals[2])
	if err := h.checkCost(); err != nil {
		return nil, err
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil ||
		len(h.salt) < minArgon2idSaltLen || len(h.salt) > maxArgon2idSaltLen {
		return nil, fmt.Errorf("argon2id: the salt must be %d to %d bytes in unpadded base64", minArgon2idSaltLen, maxArgon2idSaltLen)
	}
	if h.key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil ||
		len(h.key) < minArgon2idKeyLen || len(h.key) > maxArgon2idKeyLen {
		return nil, fmt.Errorf("argon2id: the hash must be %d to %d bytes in unpadded base64", minArgon2idKeyLen, maxArgon2idKeyLen)
	}
	return h, nil
}

// checkCost bounds the parameters that set the cost of a check.
func (h argon2idHash) checkCost() error {
	switch {
	case h.threads < 1 || h.threads > MaxArgon2idThreads:
		return fmt.Errorf("argon2id: parallelism p=%d must be 1 to %d", h.threads, MaxArgon2idThreads)
	case h.memory > MaxArgon2idMemoryKiB:
		return fmt.Errorf("argon2id: memory m=%d KiB is above the limit of %d KiB", h.memory, MaxArgon2idMemoryKiB)
	case h.memory < 8*uint32(h.threads): // RFC 9106 §3.1: at least 8p KiB
		return fmt.Errorf("argon2id: memory m=%d KiB is below 8 KiB per lane (p=%d)", h.memory, h.threads)
	case h.time < 1 || h.time > MaxArgon2idTime:
		return fmt.Errorf("argon2id: passes t=%d must be 1 to %d", h.time, MaxArgon2idTime)
	}
	return nil
}

func (h argon2idHash) matches(password []byte) bool {
	got := argon2.IDKey(password, h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

// params includes the key length, which adds a little work; the salt
// length adds none worth naming but is kept equal by dummy anyway.
func (h argon2idHash) params() string {
	return fmt.Sprintf("argon2id m=%d,t=%d,p=%d keylen=%d", h.memory, h.time, h.threads, len(h.key))
}

// dummy needs no hashing: a random key of the same length is as good as
// a computed one for a check that must fail, and the check recomputes the
// whole argon2id with the same parameters either way.
func (h argon2idHash) dummy() (passwordHash, error) {
	d := argon2idHash{memory: h.memory, time: h.time, threads: h.threads,
		salt: make([]byte, len(h.salt)), key: make([]byte, len(h.key))}
	rand.Read(d.salt)
	rand.Read(d.key)
	return d, nil
}

func (h argon2idHash) String() string {
	return fmt.Sprintf("$argon2id$%s$m=%d,t=%d,p=%d$%s$%s", argon2idVersionPHC, h.memory, h.time, h.threads,
		base64.RawStdEncoding.EncodeToString(h.salt), base64.RawStdEncoding.EncodeToString(h.key))
}

// PasswordHashOptions choose the algorithm and cost of HashPassword; zero
// values take the defaults (argon2id, DefaultArgon2id*, DefaultBcryptCost).
type PasswordHashOptions struct {
	Algorithm         string // AlgorithmArgon2id (default) or AlgorithmBcrypt
	BcryptCost        int
	Argon2idMemoryKiB uint32
	Argon2idTime      uint32
	Argon2idThreads   uint8
}

// HashPassword hashes a password for a user's password_hash. The result is
// checked like a configured hash, so a hash it returns is always accepted.
func HashPassword(password []byte, o PasswordHashOptions) (string, error) {
	if len(password) == 0 {
		return "", errors.New("the password is empty")
	}
	var out string
	switch o.Algorithm {
	case "", AlgorithmArgon2id:
		h := argon2idHash{
			memory:  cmp.Or(o.Argon2idMemoryKiB, DefaultArgon2idMemoryKiB),
			time:    cmp.Or(o.Argon2idTime, DefaultArgon2idTime),
			threads: cmp.Or(o.Argon2idThreads, DefaultArgon2idThreads),
			salt:    make([]byte, argon2idSaltLen),
		}
		rand.Read(h.salt)
		if err := h.checkCost(); err != nil { // before spending the memory
			return "", err
		}
		h.key = argon2.IDKey(password, h.salt, h.time, h.memory, h.threads, argon2idKeyLen)
		out = h.String()
	case AlgorithmBcrypt:
		cost := cmp.Or(o.BcryptCost, DefaultBcryptCost)
		if cost < bcrypt.MinCost || cost > MaxBcryptCost {
			return "", fmt.Errorf("bcrypt cost must be %d to %d, got %d", bcrypt.MinCost, MaxBcryptCost, cost)
		}
		b, err := bcrypt.GenerateFromPassword(password, cost)
		if err != nil {
			return "", err // bcrypt.ErrPasswordTooLong: its message holds no password
		}
		out = string(b)
	default:
		return "", fmt.Errorf("unknown algorithm %q (argon2id or bcrypt)", o.Algorithm)
	}
	if _, err := parsePasswordHash(out); err != nil {
		return "", err
	}
	return out, nil
}
