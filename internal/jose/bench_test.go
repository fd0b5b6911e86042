package jose_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/oidcaddy/oidcaddy/internal/jose"
)

// BenchmarkSignJWT keeps the signing design honest across jwx upgrades by
// measuring SignJWT against the two obvious alternatives on the same claims:
// jws.Sign with the raw crypto.Signer ("jws-raw") and jws.Sign with a
// jwk.Key ("jws-jwk"). Compare within one run; absolute figures drift on
// shared machines.
func BenchmarkSignJWT(b *testing.B) {
	for _, alg := range []string{jose.RS256, jose.ES256, jose.EdDSA} {
		k := testKey(b, alg)
		claims := idTokenClaims(time.Now())
		sigAlg, ok := jwa.LookupSignatureAlgorithm(alg)
		if !ok {
			b.Fatalf("jwa does not know %s", alg)
		}

		b.Run(alg+"/SignJWT", func(b *testing.B) {
			ks := mustKeySet(b, k)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ks.SignJWT(claims, "JWT"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/jws-raw", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := signWithJWS(k.Signer, sigAlg, k.KID, claims, "JWT"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/jws-jwk", func(b *testing.B) {
			priv := privateJWK(b, k)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := signWithJWS(priv, sigAlg, k.KID, claims, "JWT"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func privateJWK(tb testing.TB, k *jose.Key) jwk.Key {
	tb.Helper()
	priv, err := jwk.Import(k.Signer)
	if err != nil {
		tb.Fatal(err)
	}
	if err := priv.Set(jwk.KeyIDKey, k.KID); err != nil {
		tb.Fatal(err)
	}
	return priv
}

// signWithJWS is SignJWT written the straightforward way, with jws.Sign.
func signWithJWS(key any, alg jwa.SignatureAlgorithm, kid string, claims map[string]any, typ string) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, kid); err != nil {
		return "", err
	}
	if err := hdr.Set(jws.TypeKey, typ); err != nil {
		return "", err
	}
	out, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	return string(out), err
}

// The alternatives must produce the same header and tokens relying parties
// accept, or the benchmark would compare unequal work.
func TestBenchmarkAlternativesAreEquivalent(t *testing.T) {
	for _, alg := range []string{jose.RS256, jose.ES256, jose.EdDSA} {
		k := testKey(t, alg)
		ks := mustKeySet(t, k)
		sigAlg, _ := jwa.LookupSignatureAlgorithm(alg)
		want, err := ks.SignJWT(idTokenClaims(time.Now()), "JWT")
		if err != nil {
			t.Fatal(err)
		}
		wantHdr := protectedHeader(t, want)
		for name, key := range map[string]any{"jws-raw": k.Signer, "jws-jwk": privateJWK(t, k)} {
			token, err := signWithJWS(key, sigAlg, k.KID, idTokenClaims(time.Now()), "JWT")
			if err != nil {
				t.Fatalf("%s %s: %v", alg, name, err)
			}
			verifyAsRelyingParty(t, ks.PublicJWKS(), token)
			hdr := protectedHeader(t, token)
			if len(hdr) != len(wantHdr) || hdr["alg"] != wantHdr["alg"] || hdr["kid"] != wantHdr["kid"] || hdr["typ"] != wantHdr["typ"] {
				t.Errorf("%s %s header %v, SignJWT header %v", alg, name, hdr, wantHdr)
			}
		}
	}
}

func BenchmarkVerifyJWT(b *testing.B) {
	for _, alg := range []string{jose.RS256, jose.ES256, jose.EdDSA} {
		b.Run(alg, func(b *testing.B) {
			ks := mustKeySet(b, testKey(b, alg))
			token, err := ks.SignJWT(idTokenClaims(time.Now()), "JWT")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ks.VerifyJWT(token, "JWT"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
