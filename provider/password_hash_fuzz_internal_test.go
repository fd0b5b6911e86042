package provider

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// A stored hash is operator input from a users file: parsing never panics,
// and whatever is accepted stays within the cost bounds, so checking it (and
// the dummy made from it) cannot take more than the bounded work.
func FuzzPasswordHash(f *testing.F) {
	b, _ := bcrypt.GenerateFromPassword([]byte("pw"), 4)
	f.Add(string(b))
	f.Add("$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2id$v=19$m=4294967295,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2id$v=19$m=64,t=1,p=255$$")
	f.Add("$2a$31$" + strings.Repeat("a", 53))
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parsePasswordHash(s)
		if err != nil {
			return // the messages are built from constants and numbers only
		}
		switch h := h.(type) {
		case bcryptHash:
			if h.cost > MaxBcryptCost {
				t.Fatalf("accepted bcrypt cost %d", h.cost)
			}
		case argon2idHash:
			if h.checkCost() != nil || len(h.salt) < minArgon2idSaltLen || len(h.key) < minArgon2idKeyLen ||
				len(h.salt) > maxArgon2idSaltLen || len(h.key) > maxArgon2idKeyLen {
				t.Fatalf("accepted out-of-bounds argon2id %s", h.params())
			}
			if h.memory <= 1024 && h.time <= 2 { // cheap enough to check here
				d, err := h.dummy()
				if err != nil || d.params() != h.params() || h.matches([]byte("pw")) && d.matches([]byte("pw")) {
					t.Fatalf("dummy of %s: %v %v", h.params(), d, err)
				}
			}
		default:
			t.Fatalf("unknown hash type %T", h)
		}
	})
}
