package jose_test

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/oidcaddy/oidcaddy/internal/jose"
)

// Key files come from operators and mounted secrets; a malformed one must be
// an error at startup, never a panic, and a key that parses must be usable.
func FuzzParsePrivateKeyPEM(f *testing.F) {
	for _, alg := range allAlgs {
		k := testKey(f, alg)
		data, err := jose.MarshalPrivateKeyPEM(k)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "")
		f.Add(data, alg)
		switch s := k.Signer.(type) {
		case *rsa.PrivateKey:
			f.Add(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(s)}), "")
		case *ecdsa.PrivateKey:
			der, err := x509.MarshalECPrivateKey(s)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), "")
		}
	}
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n"), "")
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END EC PRIVATE KEY-----\n"), "ES256")
	f.Add([]byte("garbage"), "RS256")

	f.Fuzz(func(t *testing.T, data []byte, alg string) {
		k, err := jose.ParsePrivateKeyPEM(data, alg)
		if err != nil {
			return
		}
		if k.KID == "" || k.Signer == nil {
			t.Fatalf("parsed key without kid or signer: %+v", k)
		}
		if alg != "" && k.Alg != alg {
			t.Fatalf("asked for %s, got %s", alg, k.Alg)
		}
		// A key file that loads must never fail later, when the key set is
		// built from it.
		if _, err := jose.NewKeySet(k); err != nil {
			t.Fatalf("parsed key rejected by NewKeySet: %v", err)
		}
	})
}

// VerifyJWT reads tokens from the network (hints, assertions) before any
// signature is checked; whatever arrives must be an error, never a panic.
func FuzzVerifyJWT(f *testing.F) {
	ks, err := jose.NewKeySet(testKey(f, jose.ES256), testKey(f, jose.EdDSA))
	if err != nil {
		f.Fatal(err)
	}
	good, err := ks.SignJWT(map[string]any{"sub": "x", "n": 1}, "JWT")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, "JWT")
	f.Add(good, "")
	f.Add("eyJhbGciOiJub25lIn0.e30.", "")
	f.Add("a.b.c", "JWT")
	f.Fuzz(func(t *testing.T, token, typ string) {
		claims, err := ks.VerifyJWT(token, typ)
		if err == nil && claims == nil {
			t.Fatal("accepted without claims")
		}
	})
}
