package jose_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/oidcaddy/oidcaddy/internal/jose"
)

const tokenEndpoint = "https://id.example.com/token"

func assertionClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss": "s6BhdRkqt3",
		"sub": "s6BhdRkqt3",
		"aud": tokenEndpoint,
		"jti": "a9f1c2e0-3b5d-4c71-9e4f-2d6b8a7c5e31",
		"exp": now.Add(time.Minute).Unix(),
		"iat": now.Unix(),
	}
}

// clientSigner is a client's private key as the client holds it: a jwx
// private JWK, with kid only when the client registered one.
func clientSigner(t testing.TB, signer crypto.Signer, kid string) jwk.Key {
	t.Helper()
	priv, err := jwk.Import(signer)
	if err != nil {
		t.Fatal(err)
	}
	if kid != "" {
		if err := priv.Set(jwk.KeyIDKey, kid); err != nil {
			t.Fatal(err)
		}
	}
	return priv
}

// publicMembers is the registered JWK of signer's public key plus extra
// members (kid, alg, ...); a nil extra value removes the member.
func publicMembers(t testing.TB, pub crypto.PublicKey, extra map[string]any) map[string]any {
	t.Helper()
	jk, err := jwk.Import(pub)
	if err != nil {
		t.Fatal(err)
	}
	return jwkMembers(t, jk, extra)
}

func jwkMembers(t testing.TB, jk jwk.Key, extra map[string]any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(jk)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for name, v := range extra {
		if v == nil {
			delete(m, name)
		} else {
			m[name] = v
		}
	}
	return m
}

func jwksJSON(t testing.TB, keys ...map[string]any) []byte {
	t.Helper()
	if keys == nil {
		keys = []map[string]any{}
	}
	doc, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func mustClientKeys(t testing.TB, doc []byte) *jose.ClientKeys {
	t.Helper()
	ck, err := jose.ParseClientJWKS(doc)
	if err != nil {
		t.Fatalf("ParseClientJWKS: %v\n%s", err, doc)
	}
	return ck
}

// signAssertion signs claims the way a client library does, with jwt.Sign
// and the private JWK; extra protected headers (typ) are optional.
func signAssertion(t testing.TB, key jwk.Key, alg string, claims map[string]any, hdr map[string]any) string {
	t.Helper()
	tok := jwt.New()
	for name, v := range claims {
		if err := tok.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	sigAlg, ok := jwa.LookupSignatureAlgorithm(alg)
	if !ok {
		t.Fatalf("jwa does not know %s", alg)
	}
	headers := jws.NewHeaders()
	for name, v := range hdr {
		if err := headers.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	out, err := jwt.Sign(tok, jwt.WithKey(sigAlg, key, jws.WithProtectedHeaders(headers)))
	if err != nil {
		t.Fatalf("jwt.Sign %s: %v", alg, err)
	}
	return string(out)
}

// signRaw builds a compact JWS with exactly the given protected header,
// which jws.Sign would normalise or refuse (crit, b64, duplicate members).
func signRaw(t testing.TB, key any, alg string, header string, payload []byte) string {
	t.Helper()
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString(payload)
	sig, err := jwsbb.Sign(key, alg, []byte(input), nil)
	if err != nil {
		t.Fatalf("jwsbb.Sign %s: %v", alg, err)
	}
	return input + "." + enc.EncodeToString(sig)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// freshSigner makes a second key of alg's type: a different key that a
// wrong client or an attacker would hold.
func freshSigner(t testing.TB, alg string) crypto.Signer {
	t.Helper()
	k, err := jose.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k.Signer
}

// assertNoEcho fails unless err carries the package prefix and quotes no
// run of the token, nor of its decoded header and payload.
func assertNoEcho(t *testing.T, err error, input string) {
	t.Helper()
	msg := err.Error()
	if !strings.HasPrefix(msg, "jose: ") {
		t.Errorf("error %q lacks the package prefix", msg)
	}
	sources := []string{input}
	for seg := range strings.SplitSeq(input, ".") {
		if dec, err := base64.RawURLEncoding.DecodeString(seg); err == nil {
			sources = append(sources, string(dec))
		}
	}
	const window = 12
	for _, s := range sources {
		for i := 0; i+window <= len(s); i += window / 2 {
			if strings.Contains(msg, s[i:i+window]) {
				t.Fatalf("error %q quotes the input (%q)", msg, s[i:i+window])
			}
		}
	}
}

type acceptCase struct {
	name      string
	registry  []map[string]any // the client's JWK Set
	signKID   string           // kid on the client's signing key
	signAlg   string
	tokenHdrs map[string]any
}

func TestVerifyAssertionAccepts(t *testing.T) {
	for _, alg := range allAlgs {
		signer := testKey(t, alg).Signer
		other := freshSigner(t, alg)
		tests := []acceptCase{
			{"kid in key and token", []map[string]any{publicMembers(t, signer.Public(), map[string]any{"kid": "k1", "alg": alg})}, "k1", alg, nil},
			{"registered kid, token without kid", []map[string]any{publicMembers(t, signer.Public(), map[string]any{"kid": "k1", "alg": alg})}, "", alg, nil},
			{"no kid, no alg: alg inferred", []map[string]any{publicMembers(t, signer.Public(), nil)}, "", alg, nil},
			{"no kid, another key first", []map[string]any{publicMembers(t, other.Public(), nil), publicMembers(t, signer.Public(), nil)}, "", alg, nil},
			{"kid selects among keys", []map[string]any{publicMembers(t, other.Public(), map[string]any{"kid": "a"}), publicMembers(t, signer.Public(), map[string]any{"kid": "b"})}, "b", alg, nil},
			{"same kid twice, second fits", []map[string]any{publicMembers(t, other.Public(), map[string]any{"kid": "k"}), publicMembers(t, signer.Public(), map[string]any{"kid": "k"})}, "k", alg, nil},
			{"use sig, key_ops verify", []map[string]any{publicMembers(t, signer.Public(), map[string]any{"use": "sig", "key_ops": []string{"verify"}})}, "", alg, nil},
			{"x5c and unknown members ignored", []map[string]any{publicMembers(t, signer.Public(), map[string]any{"x5c": []string{"bm90IGEgY2VydA"}, "x-vendor": 1})}, "", alg, nil},
			{"typ client-authentication+jwt", []map[string]any{publicMembers(t, signer.Public(), nil)}, "", alg, map[string]any{"typ": "client-authentication+jwt"}},
			{"typ application/JWT", []map[string]any{publicMembers(t, signer.Public(), nil)}, "", alg, map[string]any{"typ": "application/JWT"}},
		}
		if alg == jose.RS256 {
			// A key without alg serves both RSA algorithms.
			tests = append(tests, acceptCase{"RSA key without alg, PS256 token", []map[string]any{publicMembers(t, signer.Public(), nil)}, "", jose.PS256, nil})
		}
		for _, tt := range tests {
			t.Run(alg+"/"+tt.name, func(t *testing.T) {
				ck := mustClientKeys(t, jwksJSON(t, tt.registry...))
				now := time.Now()
				token := signAssertion(t, clientSigner(t, signer, tt.signKID), tt.signAlg, assertionClaims(now), tt.tokenHdrs)
				if hdr := protectedHeader(t, token); (hdr["kid"] != nil) != (tt.signKID != "") {
					t.Fatalf("test setup: header %v, want kid %q", hdr, tt.signKID)
				}
				claims, err := ck.VerifyAssertion(token)
				if err != nil {
					t.Fatalf("VerifyAssertion: %v", err)
				}
				// jwt.Sign writes aud as an array.
				if aud, _ := claims["aud"].([]any); claims["sub"] != "s6BhdRkqt3" || len(aud) != 1 || aud[0] != tokenEndpoint || claims["jti"] == nil {
					t.Errorf("claims = %v", claims)
				}
				if exp, ok := claims["exp"].(float64); !ok || int64(exp) != now.Add(time.Minute).Unix() {
					t.Errorf("exp = %#v, want float64 %d", claims["exp"], now.Add(time.Minute).Unix())
				}
			})
		}
	}
}

func TestVerifyAssertionRejects(t *testing.T) {
	for _, alg := range allAlgs {
		signer := testKey(t, alg).Signer
		other := freshSigner(t, alg)
		registered := publicMembers(t, signer.Public(), map[string]any{"kid": "k1", "alg": alg})
		doc := jwksJSON(t, registered)
		ck := mustClientKeys(t, doc)
		claims := assertionClaims(time.Now())
		payload := mustJSON(t, claims)
		good := signAssertion(t, clientSigner(t, signer, "k1"), alg, claims, nil)
		goodHdr, goodPayload, goodSig := splitToken(t, good)
		enc := base64.RawURLEncoding

		pubDER, err := x509.MarshalPKIXPublicKey(signer.Public())
		if err != nil {
			t.Fatal(err)
		}
		pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
		hmacWith := func(key []byte) string {
			return signRaw(t, key, "HS256", `{"alg":"HS256","kid":"k1"}`, payload)
		}
		tampered := func(seg string) string {
			b := []byte(seg)
			if b[0] == 'A' {
				b[0] = 'B'
			} else {
				b[0] = 'A'
			}
			return string(b)
		}
		otherPayload := mustJSON(t, map[string]any{"sub": "someone-else", "aud": tokenEndpoint})

		var jsonSerialized string
		{
			sigAlg, _ := jwa.LookupSignatureAlgorithm(alg)
			out, err := jws.Sign(payload, jws.WithJSON(), jws.WithKey(sigAlg, clientSigner(t, signer, "k1")))
			if err != nil {
				t.Fatal(err)
			}
			jsonSerialized = string(out)
		}
		bigClaims := maps.Clone(claims)
		bigClaims["pad"] = strings.Repeat("x", 40<<10)
		oversize := signAssertion(t, clientSigner(t, signer, "k1"), alg, bigClaims, nil)
		wrongAlg := map[string]string{jose.RS256: jose.PS256, jose.PS256: jose.RS256, jose.ES256: jose.ES384, jose.ES384: jose.ES256, jose.EdDSA: jose.ES256}[alg]

		tests := []struct {
			name  string
			token string
		}{
			{"token from another key, same kid", signAssertion(t, clientSigner(t, other, "k1"), alg, claims, nil)},
			{"token from another key, no kid", signAssertion(t, clientSigner(t, other, ""), alg, claims, nil)},
			{"wrong kid", signAssertion(t, clientSigner(t, signer, "attacker-chosen-kid"), alg, claims, nil)},
			{"kid of wrong JSON type", signRaw(t, signer, alg, `{"alg":"`+alg+`","kid":17}`, payload)},
			{"kid null", signRaw(t, signer, alg, `{"alg":"`+alg+`","kid":null}`, payload)},
			{"alg null", signRaw(t, signer, alg, `{"alg":null,"kid":"k1"}`, payload)},
			{"alg none", enc.EncodeToString([]byte(`{"alg":"none","kid":"k1"}`)) + "." + goodPayload + "."},
			{"alg none with the real signature", enc.EncodeToString([]byte(`{"alg":"none","kid":"k1"}`)) + "." + goodPayload + "." + goodSig},
			{"alg NONE", enc.EncodeToString([]byte(`{"alg":"NONE"}`)) + "." + goodPayload + "."},
			{"HS256 keyed with the public key PEM", hmacWith(pubPEM)},
			{"HS256 keyed with the public key DER", hmacWith(pubDER)},
			{"HS256 keyed with the registered JWKS", hmacWith(doc)},
			{"alg the key is not registered for", signRaw(t, signer, sigAlgFor(t, alg, wrongAlg), `{"alg":"`+wrongAlg+`","kid":"k1"}`, payload)},
			{"unknown alg", signRaw(t, signer, alg, `{"alg":"RS999","kid":"k1"}`, payload)},
			{"tampered payload", goodHdr + "." + enc.EncodeToString(otherPayload) + "." + goodSig},
			{"tampered payload byte", goodHdr + "." + tampered(goodPayload) + "." + goodSig},
			{"tampered signature", goodHdr + "." + goodPayload + "." + tampered(goodSig)},
			{"truncated signature", goodHdr + "." + goodPayload + "." + goodSig[:len(goodSig)/2]},
			{"empty signature", goodHdr + "." + goodPayload + "."},
			{"tampered header", enc.EncodeToString([]byte(`{"alg":"`+alg+`","kid":"k1","x":1}`)) + "." + goodPayload + "." + goodSig},
			{"JSON serialization", jsonSerialized},
			{"oversize token", oversize},
			{"typ dpop+jwt", signAssertion(t, clientSigner(t, signer, "k1"), alg, claims, map[string]any{"typ": "dpop+jwt"})},
			{"typ oauth-authz-req+jwt", signAssertion(t, clientSigner(t, signer, "k1"), alg, claims, map[string]any{"typ": "oauth-authz-req+jwt"})},
			{"typ not a string", signRaw(t, signer, alg, `{"alg":"`+alg+`","typ":["JWT"]}`, payload)},
			{"crit header", signRaw(t, signer, alg, `{"alg":"`+alg+`","kid":"k1","crit":["urn:x"],"urn:x":1}`, payload)},
			{"b64 false", signRaw(t, signer, alg, `{"alg":"`+alg+`","kid":"k1","b64":false,"crit":["b64"]}`, payload)},
			{"b64 without crit", signRaw(t, signer, alg, `{"alg":"`+alg+`","kid":"k1","b64":true}`, payload)},
			{"duplicate alg member", signRaw(t, signer, alg, `{"alg":"none","alg":"`+alg+`","kid":"k1"}`, payload)},
			{"duplicate alg member, same value", signRaw(t, signer, alg, `{"alg":"`+alg+`","alg":"`+alg+`"}`, payload)},
			{"duplicate alg member, escaped name", signRaw(t, signer, alg, `{"al\u0067":"none","alg":"`+alg+`"}`, payload)},
			{"duplicate kid member", signRaw(t, signer, alg, `{"alg":"`+alg+`","kid":"zz","kid":"k1"}`, payload)},
			{"header member names are case-sensitive", signRaw(t, signer, alg, `{"ALG":"`+alg+`","kid":"k1"}`, payload)},
			{"trailing data after header", signRaw(t, signer, alg, `{"alg":"`+alg+`","kid":"k1"} {}`, payload)},
			{"payload not an object", signRaw(t, signer, alg, `{"alg":"`+alg+`","kid":"k1"}`, []byte(`["sub"]`))},
			{"payload null", signRaw(t, signer, alg, `{"alg":"`+alg+`","kid":"k1"}`, []byte(`null`))},
			{"payload not JSON", signRaw(t, signer, alg, `{"alg":"`+alg+`","kid":"k1"}`, []byte(`sub=s6BhdRkqt3`))},
			{"padded segments", goodHdr + "=." + goodPayload + "." + goodSig},
			{"surrounding whitespace", " " + good + "\n"},
		}
		for _, tt := range tests {
			t.Run(alg+"/"+tt.name, func(t *testing.T) {
				claims, err := ck.VerifyAssertion(tt.token)
				if err == nil {
					t.Fatalf("accepted, claims %v", claims)
				}
				assertNoEcho(t, err, tt.token)
				t.Log(err)
			})
		}
	}
}

// sigAlgFor signs a wrong-alg token where the key can make one; an EdDSA
// key cannot make an ES256 signature, so it signs EdDSA under an ES256
// header instead.
func sigAlgFor(t testing.TB, keyAlg, want string) string {
	t.Helper()
	if keyAlg == jose.EdDSA || strings.HasPrefix(keyAlg, "ES") {
		return keyAlg
	}
	return want
}

func splitToken(t testing.TB, token string) (string, string, string) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d segments", len(parts))
	}
	return parts[0], parts[1], parts[2]
}

func TestVerifyAssertionGarbage(t *testing.T) {
	ck := mustClientKeys(t, jwksJSON(t, publicMembers(t, testKey(t, jose.ES256).Signer.Public(), nil)))
	enc := base64.RawURLEncoding.EncodeToString
	garbage := []string{
		"",
		".",
		"..",
		"...",
		"a.b.c",
		"a.b",
		"a.b.c.d.e",
		"eyJhbGciOiJFUzI1NiJ9",
		"eyJhbGciOiJFUzI1NiJ9..",
		".e30.",
		"!!!.???.###",
		"not base64 at all, with spaces",
		enc([]byte(`{"alg":"ES256"`)) + ".e30.AAAA",
		enc([]byte(`["ES256"]`)) + ".e30.AAAA",
		enc([]byte(`null`)) + ".e30.AAAA",
		enc([]byte(`{"alg":256}`)) + ".e30.AAAA",
		enc([]byte(`{"kid":"k1"}`)) + ".e30.AAAA",
		enc([]byte(`{"alg":"ES256"}`)) + ".%%%.AAAA",
		enc([]byte(`{"alg":"ES256"}`)) + ".e30.@@@@",
		enc([]byte(`{"alg":"ES256"}`)) + ".e30." + strings.Repeat("A", 100),
		enc([]byte{0xff, 0xfe, 0x00, 0x01}) + ".e30.AAAA",
		`{"payload":"e30","signatures":[]}`,
		strings.Repeat(".", 1000),
		strings.Repeat("A", 40<<10),
		string([]byte{0xc3, 0x28, '.', 0xa0, 0xa1, '.', 0xe2}),
	}
	for i, token := range garbage {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if claims, err := ck.VerifyAssertion(token); err == nil {
				t.Fatalf("accepted, claims %v", claims)
			} else {
				assertNoEcho(t, err, token)
				t.Log(err)
			}
		})
	}
	var nilKeys *jose.ClientKeys
	if _, err := nilKeys.VerifyAssertion("a.b.c"); err == nil {
		t.Error("nil ClientKeys accepted a token")
	}
}

// A key registered with an alg verifies only that alg: an RSA key
// registered for RS256 must not accept PS256, and the other way round.
func TestVerifyAssertionRegisteredAlgRestrictsKey(t *testing.T) {
	signer := testKey(t, jose.RS256).Signer
	for _, tt := range []struct{ registered, signed string }{{jose.RS256, jose.PS256}, {jose.PS256, jose.RS256}} {
		ck := mustClientKeys(t, jwksJSON(t, publicMembers(t, signer.Public(), map[string]any{"alg": tt.registered})))
		token := signAssertion(t, clientSigner(t, signer, ""), tt.signed, assertionClaims(time.Now()), nil)
		if _, err := ck.VerifyAssertion(token); err == nil {
			t.Errorf("key registered for %s accepted a %s token", tt.registered, tt.signed)
		}
	}
}

// One ClientKeys serves every request of its client.
func TestVerifyAssertionConcurrentUse(t *testing.T) {
	signer := testKey(t, jose.ES256).Signer
	ck := mustClientKeys(t, jwksJSON(t, publicMembers(t, signer.Public(), map[string]any{"kid": "k1"})))
	priv := clientSigner(t, signer, "k1")
	var wg sync.WaitGroup
	for i := range 16 {
		claims := assertionClaims(time.Now())
		claims["n"] = i
		token := signAssertion(t, priv, jose.ES256, claims, nil)
		wg.Go(func() {
			got, err := ck.VerifyAssertion(token)
			if err != nil || got["n"] != float64(i) {
				t.Errorf("token %d: n=%v err=%v", i, got["n"], err)
			}
		})
	}
	wg.Wait()
}

func TestParseClientJWKSRejects(t *testing.T) {
	rsaSigner := testKey(t, jose.RS256).Signer
	ecSigner := testKey(t, jose.ES256).Signer
	edSigner := testKey(t, jose.EdDSA).Signer
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	privateMembers := func(signer crypto.Signer) map[string]any {
		jk, err := jwk.Import(signer)
		if err != nil {
			t.Fatal(err)
		}
		return jwkMembers(t, jk, nil)
	}
	oct, err := jwk.Import([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	x25519 := map[string]any{"kty": "OKP", "crv": "X25519", "x": b64(make([]byte, 32))}
	ecPub := publicMembers(t, ecSigner.Public(), nil)
	offCurve := maps.Clone(ecPub)
	x, _ := base64.RawURLEncoding.DecodeString(ecPub["x"].(string))
	x[len(x)-1] ^= 1
	offCurve["x"] = b64(x)
	rsaPub := publicMembers(t, rsaSigner.Public(), nil)
	evenE := maps.Clone(rsaPub)
	evenE["e"] = b64([]byte{1, 0, 0})
	seventeen := make([]map[string]any, 17)
	for i := range seventeen {
		seventeen[i] = publicMembers(t, edSigner.Public(), map[string]any{"kid": fmt.Sprint(i)})
	}
	// with changes members; a nil value removes the member.
	with := func(m map[string]any, extra map[string]any) map[string]any {
		m = maps.Clone(m)
		for name, v := range extra {
			if v == nil {
				delete(m, name)
			} else {
				m[name] = v
			}
		}
		return m
	}
	withNull := func(m map[string]any, name string) map[string]any {
		m = maps.Clone(m)
		m[name] = nil
		return m
	}

	tests := []struct {
		name string
		doc  []byte
	}{
		{"RSA private key", jwksJSON(t, privateMembers(rsaSigner))},
		{"EC private key", jwksJSON(t, privateMembers(ecSigner))},
		{"Ed25519 private key", jwksJSON(t, privateMembers(edSigner))},
		{"public key with d", jwksJSON(t, with(ecPub, map[string]any{"d": "AAAA"}))},
		{"public key with oth", jwksJSON(t, with(rsaPub, map[string]any{"oth": []any{}}))},
		{"private key second", jwksJSON(t, ecPub, privateMembers(rsaSigner))},
		{"oct key", jwksJSON(t, jwkMembers(t, oct, nil))},
		{"oct kty without k", jwksJSON(t, map[string]any{"kty": "oct"})},
		// jwk.Import refuses to import it, so the JWK is written by hand.
		{"RSA 1024", jwksJSON(t, map[string]any{"kty": "RSA", "n": b64(rsa1024.N.Bytes()), "e": b64(big.NewInt(int64(rsa1024.E)).Bytes())})},
		{"P-521", jwksJSON(t, publicMembers(t, p521.Public(), nil))},
		{"X25519", jwksJSON(t, x25519)},
		{"EC point off the curve", jwksJSON(t, offCurve)},
		{"RSA even exponent", jwksJSON(t, evenE)},
		{"RSA without n", jwksJSON(t, with(rsaPub, map[string]any{"n": nil}))},
		{"Ed25519 x too short", jwksJSON(t, with(publicMembers(t, edSigner.Public(), nil), map[string]any{"x": "AAAA"}))},
		{"17 keys", jwksJSON(t, seventeen...)},
		{"unknown kty", jwksJSON(t, map[string]any{"kty": "XYZ", "x": "AAAA"})},
		{"no kty", jwksJSON(t, with(rsaPub, map[string]any{"kty": nil}))},
		{"kty not a string", jwksJSON(t, with(rsaPub, map[string]any{"kty": 1}))},
		{"alg of another key type", jwksJSON(t, with(rsaPub, map[string]any{"alg": "ES256"}))},
		{"alg of another curve", jwksJSON(t, with(ecPub, map[string]any{"alg": "ES384"}))},
		{"alg HS256", jwksJSON(t, with(rsaPub, map[string]any{"alg": "HS256"}))},
		{"alg none", jwksJSON(t, with(ecPub, map[string]any{"alg": "none"}))},
		{"alg RS512", jwksJSON(t, with(rsaPub, map[string]any{"alg": "RS512"}))},
		{"alg not a string", jwksJSON(t, with(ecPub, map[string]any{"alg": []string{"ES256"}}))},
		{"use enc", jwksJSON(t, with(ecPub, map[string]any{"use": "enc"}))},
		{"use not a string", jwksJSON(t, with(ecPub, map[string]any{"use": 1}))},
		{"key_ops without verify", jwksJSON(t, with(ecPub, map[string]any{"key_ops": []string{"sign"}}))},
		{"key_ops not an array", jwksJSON(t, with(ecPub, map[string]any{"key_ops": "verify"}))},
		{"kid not a string", jwksJSON(t, with(ecPub, map[string]any{"kid": 7}))},
		{"kid null", jwksJSON(t, withNull(ecPub, "kid"))},
		{"use null", jwksJSON(t, withNull(ecPub, "use"))},
		{"alg null", jwksJSON(t, withNull(ecPub, "alg"))},
		{"kty null", jwksJSON(t, withNull(ecPub, "kty"))},
		{"RSA 16384", jwksJSON(t, with(rsaPub, map[string]any{"n": b64(append([]byte{0xc1}, make([]byte, 2047)...))}))},
		{"invalid JSON", []byte(`{"keys":[`)},
		{"not JSON", []byte("hello")},
		{"empty", nil},
		{"JSON null", []byte("null")},
		{"top-level array", mustJSON(t, []any{ecPub})},
		{"single JWK, not a set", mustJSON(t, ecPub)},
		{"missing keys member", []byte(`{"Keys":[]}`)},
		{"empty keys array", []byte(`{"keys":[]}`)},
		{"keys null", []byte(`{"keys":null}`)},
		{"keys an object", mustJSON(t, map[string]any{"keys": ecPub})},
		{"key null", []byte(`{"keys":[null]}`)},
		{"key a string", []byte(`{"keys":["RSA"]}`)},
		{"oversize document", mustJSON(t, map[string]any{"keys": []any{ecPub}, "pad": strings.Repeat("x", 64<<10)})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ck, err := jose.ParseClientJWKS(tt.doc)
			if err == nil {
				t.Fatalf("accepted: %+v", ck)
			}
			assertNoEcho(t, err, string(tt.doc))
			t.Log(err)
		})
	}
}

// Members differing only in case are different members (RFC 7159 §8.3);
// encoding/json would merge them into struct fields, so the document is read
// member by member.
func TestParseClientJWKSMemberNamesAreCaseSensitive(t *testing.T) {
	ecPub := publicMembers(t, testKey(t, jose.ES256).Signer.Public(), nil)
	withD := maps.Clone(ecPub)
	withD["D"] = "AAAA" // not the private member "d"
	if _, err := jose.ParseClientJWKS(jwksJSON(t, withD)); err != nil {
		t.Errorf(`member "D" treated as "d": %v`, err)
	}
	if _, err := jose.ParseClientJWKS(mustJSON(t, map[string]any{"KEYS": []any{ecPub}})); err == nil {
		t.Error(`"KEYS" accepted as "keys"`)
	}
}

func TestParseClientJWKSAcceptsSixteenMixedKeys(t *testing.T) {
	var keys []map[string]any
	for i := range 15 {
		alg := allAlgs[i%len(allAlgs)]
		keys = append(keys, publicMembers(t, testKey(t, alg).Signer.Public(), map[string]any{"kid": fmt.Sprint(i), "alg": alg}))
	}
	last := freshSigner(t, jose.ES384)
	keys = append(keys, publicMembers(t, last.Public(), map[string]any{"kid": "15"}))
	ck := mustClientKeys(t, jwksJSON(t, keys...))
	// The last key is reached by its kid and, without kid, after every
	// other ES384 key has been tried.
	for _, kid := range []string{"15", ""} {
		token := signAssertion(t, clientSigner(t, last, kid), jose.ES384, assertionClaims(time.Now()), nil)
		if _, err := ck.VerifyAssertion(token); err != nil {
			t.Errorf("kid %q: %v", kid, err)
		}
	}
}

func TestVerifyHMACAssertion(t *testing.T) {
	secret := make([]byte, 64)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	claims := assertionClaims(time.Now())
	signHMAC := func(alg string, key []byte, hdr map[string]any) string {
		oct, err := jwk.Import(key)
		if err != nil {
			t.Fatal(err)
		}
		return signAssertion(t, oct, alg, claims, hdr)
	}
	for _, alg := range []string{"HS256", "HS384", "HS512"} {
		t.Run(alg, func(t *testing.T) {
			got, err := jose.VerifyHMACAssertion(signHMAC(alg, secret, nil), secret)
			if err != nil {
				t.Fatalf("VerifyHMACAssertion: %v", err)
			}
			if got["iss"] != "s6BhdRkqt3" || got["exp"] != float64(claims["exp"].(int64)) {
				t.Errorf("claims = %v", got)
			}
		})
	}
	t.Run("32-byte secret", func(t *testing.T) {
		if _, err := jose.VerifyHMACAssertion(signHMAC("HS256", secret[:32], nil), secret[:32]); err != nil {
			t.Fatal(err)
		}
	})

	rsaSigner := testKey(t, jose.RS256).Signer
	good := signHMAC("HS256", secret, nil)
	h, p, s := splitToken(t, good)
	enc := base64.RawURLEncoding
	var jsonSerialized string
	{
		out, err := jws.Sign(mustJSON(t, claims), jws.WithJSON(), jws.WithKey(jwa.HS256(), secret))
		if err != nil {
			t.Fatal(err)
		}
		jsonSerialized = string(out)
	}
	big := maps.Clone(claims)
	big["pad"] = strings.Repeat("x", 40<<10)
	oversize, err := jwt.Sign(mapToJWT(t, big), jwt.WithKey(jwa.HS256(), secret))
	if err != nil {
		t.Fatal(err)
	}
	wrong := make([]byte, 64)
	if _, err := rand.Read(wrong); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		token  string
		secret []byte
	}{
		{"wrong secret", good, wrong},
		{"secret one byte short of the signing secret", good, secret[:63]},
		{"short secret", signHMAC("HS256", secret[:31], nil), secret[:31]},
		{"empty secret", good, nil},
		{"RS256 token", signAssertion(t, clientSigner(t, rsaSigner, ""), jose.RS256, claims, nil), secret},
		{"ES256 header, HMAC signature", signRaw(t, secret, "HS256", `{"alg":"ES256"}`, mustJSON(t, claims)), secret},
		{"alg none", enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + p + ".", secret},
		{"alg none with the real signature", enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + p + "." + s, secret},
		{"header alg changed to HS512", enc.EncodeToString([]byte(`{"alg":"HS512"}`)) + "." + p + "." + s, secret},
		{"tampered payload", h + "." + enc.EncodeToString([]byte(`{"sub":"x"}`)) + "." + s, secret},
		{"typ dpop+jwt", signHMAC("HS256", secret, map[string]any{"typ": "dpop+jwt"}), secret},
		{"crit header", signRaw(t, secret, "HS256", `{"alg":"HS256","crit":["urn:x"],"urn:x":1}`, mustJSON(t, claims)), secret},
		{"JSON serialization", jsonSerialized, secret},
		{"oversize", string(oversize), secret},
		{"garbage", "a.b.c", secret},
		{"empty", "", secret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jose.VerifyHMACAssertion(tt.token, tt.secret)
			if err == nil {
				t.Fatalf("accepted, claims %v", got)
			}
			assertNoEcho(t, err, tt.token)
			t.Log(err)
			if len(tt.secret) >= 12 {
				assertNoEcho(t, err, string(tt.secret))
			}
		})
	}
}

func mapToJWT(t testing.TB, claims map[string]any) jwt.Token {
	t.Helper()
	tok := jwt.New()
	for name, v := range claims {
		if err := tok.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	return tok
}

// The client's JWK Set comes from registration (possibly dynamic, so from
// anyone): whatever it holds must be an error or a usable key set.
func FuzzParseClientJWKS(f *testing.F) {
	var token string
	for i, alg := range allAlgs {
		signer := testKey(f, alg).Signer
		pub := publicMembers(f, signer.Public(), map[string]any{"kid": fmt.Sprint(i), "alg": alg})
		f.Add(jwksJSON(f, pub))
		f.Add(jwksJSON(f, publicMembers(f, signer.Public(), nil)))
		priv, err := jwk.Import(signer)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(jwksJSON(f, jwkMembers(f, priv, nil)))
		if alg == jose.ES256 {
			token = signAssertion(f, clientSigner(f, signer, "2"), alg, assertionClaims(time.Now()), nil)
		}
	}
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"X25519","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":""}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kty":"EC"}]}`))
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`garbage`))

	f.Fuzz(func(t *testing.T, doc []byte) {
		ck, err := jose.ParseClientJWKS(doc)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "jose: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		if ck == nil {
			t.Fatal("accepted without keys")
		}
		// Every accepted set must be usable.
		if claims, err := ck.VerifyAssertion(token); err == nil && claims == nil {
			t.Fatal("verified without claims")
		}
	})
}

// The token and, via the client's registration, the secret are untrusted.
func FuzzVerifyHMACAssertion(f *testing.F) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	oct, err := jwk.Import(secret)
	if err != nil {
		f.Fatal(err)
	}
	claims := assertionClaims(time.Now())
	for _, alg := range []string{"HS256", "HS384", "HS512"} {
		f.Add(signAssertion(f, oct, alg, claims, nil), secret)
	}
	f.Add(signAssertion(f, clientSigner(f, testKey(f, jose.ES256).Signer, ""), jose.ES256, claims, nil), secret)
	f.Add("eyJhbGciOiJub25lIn0.e30.", secret)
	f.Add("a.b.c", []byte("short"))
	f.Add(`{"payload":"e30","signatures":[]}`, secret)

	f.Fuzz(func(t *testing.T, token string, secret []byte) {
		claims, err := jose.VerifyHMACAssertion(token, secret)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "jose: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			if len(token) >= 24 && strings.Contains(err.Error(), token) {
				t.Fatalf("error %q quotes the token", err)
			}
			return
		}
		if claims == nil {
			t.Fatal("accepted without claims")
		}
		if len(secret) < 32 {
			t.Fatalf("accepted with a %d-byte secret", len(secret))
		}
		hdr, _, _ := strings.Cut(token, ".")
		raw, _ := base64.RawURLEncoding.DecodeString(hdr)
		var h struct {
			Alg string `json:"alg"`
		}
		_ = json.Unmarshal(raw, &h)
		if !strings.HasPrefix(h.Alg, "HS") {
			t.Fatalf("accepted alg %q", h.Alg)
		}
	})
}

// VerifyAssertion reads the token before any signature is checked.
func FuzzVerifyAssertion(f *testing.F) {
	var registered []map[string]any
	for i, alg := range allAlgs {
		signer := testKey(f, alg).Signer
		registered = append(registered, publicMembers(f, signer.Public(), map[string]any{"kid": fmt.Sprint(i)}))
		f.Add(signAssertion(f, clientSigner(f, signer, fmt.Sprint(i)), alg, assertionClaims(time.Now()), nil))
		f.Add(signAssertion(f, clientSigner(f, signer, ""), alg, assertionClaims(time.Now()), map[string]any{"typ": "JWT"}))
	}
	ck := mustClientKeys(f, jwksJSON(f, registered...))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.AAAA")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := ck.VerifyAssertion(token)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "jose: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		if claims == nil {
			t.Fatal("accepted without claims")
		}
	})
}

// BenchmarkVerifyAssertion compares VerifyAssertion with the obvious
// alternative, jws.Verify over the client's parsed jwk.Set ("jws-keyset"),
// which converts the jwk.Key to a raw key on every call.
func BenchmarkVerifyAssertion(b *testing.B) {
	for _, alg := range []string{jose.ES256, jose.RS256, jose.EdDSA} {
		signer := testKey(b, alg).Signer
		doc := jwksJSON(b, publicMembers(b, signer.Public(), map[string]any{"kid": "k1", "alg": alg}))
		token := signAssertion(b, clientSigner(b, signer, "k1"), alg, assertionClaims(time.Now()), nil)
		b.Run(alg+"/VerifyAssertion", func(b *testing.B) {
			ck := mustClientKeys(b, doc)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ck.VerifyAssertion(token); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/jws-keyset", func(b *testing.B) {
			set, err := jwk.Parse(doc)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				payload, err := jws.Verify([]byte(token), jws.WithCompact(), jws.WithKeySet(set))
				if err != nil {
					b.Fatal(err)
				}
				var claims map[string]any
				if err := json.Unmarshal(payload, &claims); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyHMACAssertion(b *testing.B) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	oct, err := jwk.Import(secret)
	if err != nil {
		b.Fatal(err)
	}
	token := signAssertion(b, oct, "HS256", assertionClaims(time.Now()), nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jose.VerifyHMACAssertion(token, secret); err != nil {
			b.Fatal(err)
		}
	}
}
