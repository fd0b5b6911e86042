package jose_test

import (
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/internal/jose"
)

// Each published alg signs with its own key: the active key for its alg,
// otherwise the first key of that alg; an alg without a key is an error.
func TestSignJWTWithAlgUsesTheKeyOfThatAlg(t *testing.T) {
	rs := testKey(t, jose.RS256)
	es := testKey(t, jose.ES256)
	esOld, err := jose.GenerateKey(jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	ks := mustKeySet(t, rs, es, esOld)
	for alg, want := range map[string]*jose.Key{"": rs, jose.RS256: rs, jose.ES256: es} {
		token, err := ks.SignJWTWithAlg(alg, idTokenClaims(time.Now()), "JWT")
		if err != nil {
			t.Fatalf("%q: %v", alg, err)
		}
		if hdr := protectedHeader(t, token); hdr["kid"] != want.KID || hdr["alg"] != want.Alg {
			t.Errorf("%q: signed with %v/%v, want %s/%s", alg, hdr["kid"], hdr["alg"], want.KID, want.Alg)
		}
		verifyAsRelyingParty(t, ks.PublicJWKS(), token)
		if _, err := ks.VerifyJWT(token, "JWT"); err != nil {
			t.Errorf("%q: VerifyJWT: %v", alg, err)
		}
	}
	if _, err := ks.SignJWTWithAlg(jose.PS256, idTokenClaims(time.Now()), "JWT"); err == nil {
		t.Error("signed with an alg that has no key")
	}
}
