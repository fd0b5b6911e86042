package keyring

import (
	"context"
	"testing"

	"github.com/oidcaddy/oidcaddy/internal/jose"
	"github.com/oidcaddy/oidcaddy/store/memstore"
)

// BenchmarkSignJWT compares signing through the key ring (which checks on
// every call whether a stored activation time has passed) with signing by
// a plain jose.KeySet of the same key.
func BenchmarkSignJWT(b *testing.B) {
	k, err := New(context.Background(), Options{
		Store: memstore.New(), Sealer: mustSealer(b), Slots: []Slot{{Alg: jose.EdDSA}}, Policy: testPolicy,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	ks, err := jose.NewKeySet(k.unsealed[k.SigningKID()])
	if err != nil {
		b.Fatal(err)
	}
	claims := map[string]any{"iss": "https://issuer.example", "sub": "s", "aud": "c", "exp": 1, "iat": 1}
	for name, s := range map[string]interface {
		SignJWT(map[string]any, string) (string, error)
	}{"keyring": k, "keyset": ks} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.SignJWT(claims, "JWT"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func mustSealer(b *testing.B) *Sealer {
	s, err := NewSealer([]byte(testSecret))
	if err != nil {
		b.Fatal(err)
	}
	return s
}
