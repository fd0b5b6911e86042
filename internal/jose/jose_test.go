package jose_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/oidcaddy/oidcaddy/internal/jose"
)

var allAlgs = []string{jose.RS256, jose.PS256, jose.ES256, jose.ES384, jose.EdDSA}

// RSA generation dominates the test time on a shared 2-core machine, so each
// alg gets one key for the whole run where a fresh key is not the point.
var (
	keyCacheMu sync.Mutex
	keyCache   = map[string]*jose.Key{}
)

func testKey(t testing.TB, alg string) *jose.Key {
	t.Helper()
	keyCacheMu.Lock()
	defer keyCacheMu.Unlock()
	if k, ok := keyCache[alg]; ok {
		return k
	}
	k, err := jose.GenerateKey(alg)
	if err != nil {
		t.Fatalf("GenerateKey(%s): %v", alg, err)
	}
	keyCache[alg] = k
	return k
}

func idTokenClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss":            "https://id.example.com",
		"sub":            "248289761001",
		"aud":            "s6BhdRkqt3",
		"exp":            now.Add(time.Hour).Unix(),
		"iat":            now.Unix(),
		"auth_time":      now.Add(-time.Minute).Unix(),
		"nonce":          "n-0S6_WzA2Mj",
		"at_hash":        "77QmUPtjPfzWtF2AnpK9RQ",
		"sid":            "08a5019c-17e1-4977-8f42-65a12843ea02",
		"email":          "janedoe@example.com",
		"email_verified": true,
		"name":           "Jane Doe",
	}
}

func mustKeySet(t testing.TB, active *jose.Key, others ...*jose.Key) *jose.KeySet {
	t.Helper()
	ks, err := jose.NewKeySet(active, others...)
	if err != nil {
		t.Fatalf("NewKeySet: %v", err)
	}
	return ks
}

// verifyAsRelyingParty does what a relying party does: build the key set
// from the published JWKS only, then verify and validate the token with it.
func verifyAsRelyingParty(t *testing.T, jwks []byte, token string) jwt.Token {
	t.Helper()
	set, err := jwk.Parse(jwks)
	if err != nil {
		t.Fatalf("parse published JWKS: %v\n%s", err, jwks)
	}
	tok, err := jwt.Parse([]byte(token), jwt.WithKeySet(set), jwt.WithIssuer("https://id.example.com"), jwt.WithAudience("s6BhdRkqt3"))
	if err != nil {
		t.Fatalf("relying party rejected the token: %v", err)
	}
	return tok
}

func protectedHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	msg, err := jws.ParseString(token)
	if err != nil {
		t.Fatalf("jws.Parse: %v", err)
	}
	if n := len(msg.Signatures()); n != 1 {
		t.Fatalf("%d signatures, want 1", n)
	}
	raw, err := json.Marshal(msg.Signatures()[0].ProtectedHeaders())
	if err != nil {
		t.Fatal(err)
	}
	var hdr map[string]any
	if err := json.Unmarshal(raw, &hdr); err != nil {
		t.Fatal(err)
	}
	return hdr
}

func TestSignJWTVerifiesWithPublishedJWKS(t *testing.T) {
	for _, alg := range allAlgs {
		for _, typ := range []string{"JWT", "at+jwt", ""} {
			t.Run(alg+"/typ="+typ, func(t *testing.T) {
				k := testKey(t, alg)
				ks := mustKeySet(t, k)
				if got := ks.Algorithm(); got != alg {
					t.Errorf("Algorithm() = %q, want %q", got, alg)
				}
				token, err := ks.SignJWT(idTokenClaims(time.Now()), typ)
				if err != nil {
					t.Fatalf("SignJWT: %v", err)
				}
				if strings.Count(token, ".") != 2 {
					t.Fatalf("not a compact JWS: %q", token)
				}

				tok := verifyAsRelyingParty(t, ks.PublicJWKS(), token)
				if sub, _ := tok.Subject(); sub != "248289761001" {
					t.Errorf("sub = %q", sub)
				}
				var nonce string
				if err := tok.Get("nonce", &nonce); err != nil || nonce != "n-0S6_WzA2Mj" {
					t.Errorf("nonce = %q, %v", nonce, err)
				}

				hdr := protectedHeader(t, token)
				want := map[string]any{"alg": alg, "kid": k.KID}
				if typ != "" {
					want["typ"] = typ
				}
				if len(hdr) != len(want) {
					t.Errorf("header = %v, want exactly %v", hdr, want)
				}
				for name, v := range want {
					if hdr[name] != v {
						t.Errorf("header %s = %v, want %v", name, hdr[name], v)
					}
				}
			})
		}
	}
}

// The kid must be the RFC 7638 thumbprint as a relying party computes it from
// the published key, so that it can be cross-checked and stays stable.
func TestKIDIsThumbprintOfPublishedKey(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			k := testKey(t, alg)
			set, err := jwk.Parse(mustKeySet(t, k).PublicJWKS())
			if err != nil {
				t.Fatal(err)
			}
			pub, ok := set.Key(0)
			if !ok {
				t.Fatal("empty JWKS")
			}
			sum, err := pub.Thumbprint(crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if want := base64.RawURLEncoding.EncodeToString(sum); k.KID != want {
				t.Errorf("KID = %q, thumbprint of published key = %q", k.KID, want)
			}
		})
	}
}

func TestPublicJWKSHasOnlyPublicMembers(t *testing.T) {
	private := []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"}
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			k := testKey(t, alg)
			var doc struct {
				Keys []map[string]any `json:"keys"`
			}
			raw := mustKeySet(t, k).PublicJWKS()
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatalf("JWKS is not JSON: %v", err)
			}
			if len(doc.Keys) != 1 {
				t.Fatalf("%d keys, want 1: %s", len(doc.Keys), raw)
			}
			key := doc.Keys[0]
			for _, m := range private {
				if _, ok := key[m]; ok {
					t.Errorf("published key has private member %q", m)
				}
			}
			for m, want := range map[string]any{"kid": k.KID, "alg": alg, "use": "sig"} {
				if key[m] != want {
					t.Errorf("%s = %v, want %v", m, key[m], want)
				}
			}
			wantKty := map[string]string{jose.RS256: "RSA", jose.PS256: "RSA", jose.ES256: "EC", jose.ES384: "EC", jose.EdDSA: "OKP"}[alg]
			if key["kty"] != wantKty {
				t.Errorf("kty = %v, want %s", key["kty"], wantKty)
			}
		})
	}
}

func TestPublicJWKSIsACopy(t *testing.T) {
	ks := mustKeySet(t, testKey(t, jose.ES256))
	first := ks.PublicJWKS()
	want := string(first)
	clear(first)
	if got := string(ks.PublicJWKS()); got != want {
		t.Fatal("changing the returned JWKS changed the key set")
	}
	algs := ks.Algorithms()
	algs[0] = "none"
	if ks.Algorithms()[0] != jose.ES256 {
		t.Fatal("changing the returned algorithms changed the key set")
	}
}

func TestGenerateKeyDefaultsToRS256(t *testing.T) {
	k, err := jose.GenerateKey("")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := k.Signer.(*rsa.PrivateKey); k.Alg != jose.RS256 || !ok {
		t.Fatalf("GenerateKey(\"\") = %s %T", k.Alg, k.Signer)
	}
	if bits := k.Signer.(*rsa.PrivateKey).N.BitLen(); bits != 2048 {
		t.Errorf("RSA key has %d bits, want 2048", bits)
	}
}

func TestGenerateKeyRejectsUnsupportedAlgs(t *testing.T) {
	for _, alg := range []string{"none", "HS256", "RS512", "ES512", "Ed25519", "rs256"} {
		if _, err := jose.GenerateKey(alg); err == nil {
			t.Errorf("GenerateKey(%q) succeeded", alg)
		}
	}
}

func TestPEMRoundTrip(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			k := testKey(t, alg)
			data, err := jose.MarshalPrivateKeyPEM(k)
			if err != nil {
				t.Fatal(err)
			}
			if block, _ := pem.Decode(data); block == nil || block.Type != "PRIVATE KEY" {
				t.Fatalf("not a PKCS#8 PEM:\n%s", data)
			}
			got, err := jose.ParsePrivateKeyPEM(data, alg)
			if err != nil {
				t.Fatalf("ParsePrivateKeyPEM: %v", err)
			}
			if got.KID != k.KID || got.Alg != alg {
				t.Errorf("round trip gave kid %q alg %s, want %q %s", got.KID, got.Alg, k.KID, alg)
			}
			// A token signed by the reloaded key verifies with the original
			// key's JWKS: same key, not merely same kid.
			token, err := mustKeySet(t, got).SignJWT(idTokenClaims(time.Now()), "JWT")
			if err != nil {
				t.Fatal(err)
			}
			verifyAsRelyingParty(t, mustKeySet(t, k).PublicJWKS(), token)
		})
	}
}

func TestParseInfersAlgorithm(t *testing.T) {
	want := map[string]string{jose.RS256: jose.RS256, jose.PS256: jose.RS256, jose.ES256: jose.ES256, jose.ES384: jose.ES384, jose.EdDSA: jose.EdDSA}
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			data, err := jose.MarshalPrivateKeyPEM(testKey(t, alg))
			if err != nil {
				t.Fatal(err)
			}
			got, err := jose.ParsePrivateKeyPEM(data, "")
			if err != nil {
				t.Fatal(err)
			}
			if got.Alg != want[alg] {
				t.Errorf("inferred %s, want %s", got.Alg, want[alg])
			}
		})
	}
}

func TestParseLegacyPEMFormats(t *testing.T) {
	rsaKey := testKey(t, jose.RS256)
	p256 := testKey(t, jose.ES256)
	p384 := testKey(t, jose.ES384)
	sec1 := func(k *jose.Key) []byte {
		der, err := x509.MarshalECPrivateKey(k.Signer.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	}
	// openssl ecparam -genkey writes the curve parameters before the key.
	ecParams := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}})
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not parsed")})

	tests := []struct {
		name    string
		data    []byte
		alg     string
		wantKID string
		wantAlg string
	}{
		{"PKCS#1", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey.Signer.(*rsa.PrivateKey))}), "", rsaKey.KID, jose.RS256},
		{"PKCS#1 as PS256", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey.Signer.(*rsa.PrivateKey))}), jose.PS256, rsaKey.KID, jose.PS256},
		{"SEC1 P-256", sec1(p256), "", p256.KID, jose.ES256},
		{"SEC1 P-384", sec1(p384), jose.ES384, p384.KID, jose.ES384},
		{"SEC1 after EC PARAMETERS", append(ecParams, sec1(p256)...), "", p256.KID, jose.ES256},
		{"key after certificate", append(cert, sec1(p256)...), "", p256.KID, jose.ES256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jose.ParsePrivateKeyPEM(tt.data, tt.alg)
			if err != nil {
				t.Fatalf("ParsePrivateKeyPEM: %v", err)
			}
			if got.KID != tt.wantKID || got.Alg != tt.wantAlg {
				t.Errorf("got kid %q alg %s, want %q %s", got.KID, got.Alg, tt.wantKID, tt.wantAlg)
			}
		})
	}
}

func TestParseRejectsWrongOrWeakKeys(t *testing.T) {
	pemOf := func(alg string) []byte {
		data, err := jose.MarshalPrivateKeyPEM(testKey(t, alg))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	pkcs8 := func(key any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		data []byte
		alg  string
	}{
		{"RSA as ES256", pemOf(jose.RS256), jose.ES256},
		{"RSA as EdDSA", pemOf(jose.RS256), jose.EdDSA},
		{"P-256 as ES384", pemOf(jose.ES256), jose.ES384},
		{"P-384 as ES256", pemOf(jose.ES384), jose.ES256},
		{"P-256 as RS256", pemOf(jose.ES256), jose.RS256},
		{"Ed25519 as ES256", pemOf(jose.EdDSA), jose.ES256},
		{"Ed25519 as PS256", pemOf(jose.EdDSA), jose.PS256},
		{"unsupported alg HS256", pemOf(jose.RS256), "HS256"},
		{"alg none", pemOf(jose.EdDSA), "none"},
		{"P-521 inferred", pkcs8(p521), ""},
		{"P-521 as ES256", pkcs8(p521), jose.ES256},
		{"RSA-1024 inferred", pkcs8(rsa1024), ""},
		{"RSA-1024 as RS256", pkcs8(rsa1024), jose.RS256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := jose.ParsePrivateKeyPEM(tt.data, tt.alg)
			if err == nil {
				t.Fatal("accepted")
			}
			assertNoKeyMaterial(t, err, tt.data)
		})
	}
}

func TestParseGarbage(t *testing.T) {
	valid, err := jose.MarshalPrivateKeyPEM(testKey(t, jose.ES256))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(valid)
	truncated := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: block.Bytes[:len(block.Bytes)/2]})
	flipped := slices.Clone(block.Bytes)
	flipped[len(flipped)/2] ^= 0xff
	x25519, err := ecdhX25519PEM()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"text", []byte("hello, world")},
		{"PEM header only", []byte("-----BEGIN PRIVATE KEY-----\n")},
		{"cut PEM", valid[:len(valid)/2]},
		{"public key only", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: block.Bytes})},
		{"PKCS#8 junk", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk")})},
		{"PKCS#1 junk", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x00}})},
		{"SEC1 junk", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{0x30}})},
		{"PKCS#8 truncated DER", truncated},
		{"PKCS#8 flipped byte", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: flipped})},
		{"PKCS#8 encrypted", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: block.Bytes})},
		{"legacy encrypted", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00000000000000000000000000000000"}, Bytes: block.Bytes})},
		{"two keys", append(slices.Clone(valid), valid...)},
		{"X25519 key cannot sign", x25519},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := jose.ParsePrivateKeyPEM(tt.data, "")
			if err == nil {
				t.Fatalf("accepted, kid %q", k.KID)
			}
			assertNoKeyMaterial(t, err, tt.data)
		})
	}
}

// assertNoKeyMaterial fails if err quotes any run of the input's PEM body or
// DER bytes long enough to matter.
func assertNoKeyMaterial(t *testing.T, err error, data []byte) {
	t.Helper()
	msg := err.Error()
	if !strings.HasPrefix(msg, "jose: ") {
		t.Errorf("error %q lacks the package prefix", msg)
	}
	const window = 12
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		b64 := base64.StdEncoding.EncodeToString(block.Bytes)
		for _, s := range []string{b64, hex.EncodeToString(block.Bytes), string(block.Bytes)} {
			for i := 0; i+window <= len(s); i += window / 2 {
				if strings.Contains(msg, s[i:i+window]) {
					t.Fatalf("error %q contains key material", msg)
				}
			}
		}
	}
}

func ecdhX25519PEM() ([]byte, error) {
	key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func TestMarshalPrivateKeyPEMErrors(t *testing.T) {
	if _, err := jose.MarshalPrivateKeyPEM(nil); err == nil {
		t.Error("nil key accepted")
	}
	if _, err := jose.MarshalPrivateKeyPEM(&jose.Key{KID: "x", Alg: jose.ES256}); err == nil {
		t.Error("key without signer accepted")
	}
	opaque := &jose.Key{KID: "x", Alg: jose.ES256, Signer: opaqueSigner{testKey(t, jose.ES256).Signer}}
	if _, err := jose.MarshalPrivateKeyPEM(opaque); err == nil {
		t.Error("opaque signer marshalled")
	}
}

// opaqueSigner stands for a KMS or HSM key: it signs but hides the private key.
type opaqueSigner struct{ crypto.Signer }

func TestOpaqueSignerSigns(t *testing.T) {
	base := testKey(t, jose.ES256)
	k := &jose.Key{KID: "hsm-1", Alg: jose.ES256, Signer: opaqueSigner{base.Signer}}
	ks := mustKeySet(t, k)
	token, err := ks.SignJWT(idTokenClaims(time.Now()), "JWT")
	if err != nil {
		t.Fatalf("SignJWT: %v", err)
	}
	verifyAsRelyingParty(t, ks.PublicJWKS(), token)
}

func TestLoadOrGenerate(t *testing.T) {
	for _, alg := range []string{jose.ES256, jose.EdDSA, ""} {
		t.Run("alg="+alg, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state", "keys")
			path := filepath.Join(dir, "signing.pem")

			k1, generated, err := jose.LoadOrGenerate(path, alg)
			if err != nil || !generated {
				t.Fatalf("first call: generated=%v err=%v", generated, err)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if mode := st.Mode().Perm(); mode != 0o600 {
				t.Errorf("key file mode %o, want 600", mode)
			}
			if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
				t.Errorf("key directory mode %v (%v), want 700", st.Mode().Perm(), err)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("key directory holds %d entries, want only the key (temporary file left?)", len(entries))
			}

			k2, generated, err := jose.LoadOrGenerate(path, alg)
			if err != nil || generated {
				t.Fatalf("second call: generated=%v err=%v", generated, err)
			}
			if k2.KID != k1.KID || k2.Alg != k1.Alg {
				t.Errorf("second call loaded %q %s, want %q %s", k2.KID, k2.Alg, k1.KID, k1.Alg)
			}
		})
	}
}

func TestLoadOrGenerateAlgMismatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.pem")
	if _, _, err := jose.LoadOrGenerate(path, jose.EdDSA); err != nil {
		t.Fatal(err)
	}
	if _, _, err := jose.LoadOrGenerate(path, jose.ES256); err == nil {
		t.Fatal("an Ed25519 key file was accepted for ES256")
	}
}

func TestLoadOrGenerateCorruptFileIsNotReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.pem")
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := jose.LoadOrGenerate(path, jose.ES256); err == nil {
		t.Fatal("corrupt key file accepted")
	}
	if data, _ := os.ReadFile(path); string(data) != "garbage" {
		t.Fatal("corrupt key file was overwritten")
	}
}

// Two instances starting at once against one state directory must agree on a
// single key, or tokens signed by one would fail verification via the other.
func TestLoadOrGenerateConcurrentCallersAgree(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.pem")
	const n = 8
	kids := make([]string, n)
	gens := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var k *jose.Key
			k, gens[i], errs[i] = jose.LoadOrGenerate(path, jose.EdDSA)
			if k != nil {
				kids[i] = k.KID
			}
		})
	}
	wg.Wait()
	generated := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if kids[i] != kids[0] {
			t.Fatalf("callers got different keys: %v", kids)
		}
		if gens[i] {
			generated++
		}
	}
	if generated != 1 {
		t.Errorf("%d callers report generating the key, want 1", generated)
	}
}

func TestKeySetRotation(t *testing.T) {
	current := testKey(t, jose.ES256)
	next := testKey(t, jose.EdDSA)
	previous := testKey(t, jose.RS256)

	ks := mustKeySet(t, current, next, previous)
	var doc struct {
		Keys []struct {
			KID string `json:"kid"`
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(ks.PublicJWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	var published []string
	for _, k := range doc.Keys {
		published = append(published, k.KID)
	}
	if want := []string{current.KID, next.KID, previous.KID}; !slices.Equal(published, want) {
		t.Errorf("published kids %v, want %v", published, want)
	}
	if got, want := ks.Algorithms(), []string{jose.ES256, jose.EdDSA, jose.RS256}; !slices.Equal(got, want) {
		t.Errorf("Algorithms() = %v, want %v", got, want)
	}

	token, err := ks.SignJWT(idTokenClaims(time.Now()), "JWT")
	if err != nil {
		t.Fatal(err)
	}
	if hdr := protectedHeader(t, token); hdr["kid"] != current.KID || hdr["alg"] != jose.ES256 {
		t.Errorf("signed with %v/%v, want the active key %s/ES256", hdr["kid"], hdr["alg"], current.KID)
	}
	verifyAsRelyingParty(t, ks.PublicJWKS(), token)

	// A relying party that cached the JWKS before activation can verify
	// tokens from the next key, and tokens from the previous key stay valid.
	cached := ks.PublicJWKS()
	for _, k := range []*jose.Key{next, previous} {
		later := mustKeySet(t, k, current)
		token, err := later.SignJWT(idTokenClaims(time.Now()), "JWT")
		if err != nil {
			t.Fatal(err)
		}
		verifyAsRelyingParty(t, cached, token)
	}
}

func TestAlgorithmsAreDistinct(t *testing.T) {
	a := testKey(t, jose.ES256)
	b, err := jose.GenerateKey(jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	ks := mustKeySet(t, a, b, testKey(t, jose.ES384))
	if got, want := ks.Algorithms(), []string{jose.ES256, jose.ES384}; !slices.Equal(got, want) {
		t.Errorf("Algorithms() = %v, want %v", got, want)
	}
}

func TestNewKeySetRejects(t *testing.T) {
	es := testKey(t, jose.ES256)
	rs := testKey(t, jose.RS256)
	dup := *rs
	dup.KID = es.KID
	tests := []struct {
		name   string
		active *jose.Key
		others []*jose.Key
	}{
		{"no active key", nil, nil},
		{"duplicate kid", es, []*jose.Key{&dup}},
		{"same key twice", es, []*jose.Key{es}},
		{"nil other key", es, []*jose.Key{nil}},
		{"empty kid", &jose.Key{Alg: jose.ES256, Signer: es.Signer}, nil},
		{"alg does not fit key", &jose.Key{KID: "a", Alg: jose.ES256, Signer: rs.Signer}, nil},
		{"unsupported alg", &jose.Key{KID: "a", Alg: "HS256", Signer: rs.Signer}, nil},
		{"no signer", &jose.Key{KID: "a", Alg: jose.ES256}, nil},
		{"bad other key", es, []*jose.Key{{KID: "b", Alg: jose.EdDSA, Signer: rs.Signer}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := jose.NewKeySet(tt.active, tt.others...); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// Key's fields are exported; changing them after NewKeySet must not make the
// signing kid disagree with the published one.
func TestKeySetIsolatedFromLaterKeyChanges(t *testing.T) {
	k := *testKey(t, jose.EdDSA)
	ks := mustKeySet(t, &k)
	k.KID = "changed"
	token, err := ks.SignJWT(idTokenClaims(time.Now()), "")
	if err != nil {
		t.Fatal(err)
	}
	verifyAsRelyingParty(t, ks.PublicJWKS(), token)
}

func TestSignJWTRejectsBadClaims(t *testing.T) {
	ks := mustKeySet(t, testKey(t, jose.EdDSA))
	if _, err := ks.SignJWT(nil, "JWT"); err == nil {
		t.Error("nil claims signed")
	}
	if _, err := ks.SignJWT(map[string]any{"bad": make(chan int)}, "JWT"); err == nil {
		t.Error("unencodable claims signed")
	}
}

// One KeySet serves every request, so signing and verifying run concurrently.
func TestKeySetConcurrentUse(t *testing.T) {
	ks := mustKeySet(t, testKey(t, jose.ES256))
	jwks := ks.PublicJWKS()
	var wg sync.WaitGroup
	tokens := make([]string, 16)
	errs := make([]error, len(tokens))
	for i := range tokens {
		wg.Go(func() {
			claims := idTokenClaims(time.Now())
			claims["n"] = i
			tokens[i], errs[i] = ks.SignJWT(claims, "JWT")
		})
	}
	wg.Wait()
	for i, token := range tokens {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		tok := verifyAsRelyingParty(t, jwks, token)
		var n float64
		if err := tok.Get("n", &n); err != nil || int(n) != i {
			t.Errorf("token %d carries n=%v (%v)", i, n, err)
		}
	}
	// VerifyJWT shares the key set across goroutines too.
	for i, token := range tokens {
		wg.Go(func() {
			claims, err := ks.VerifyJWT(token, "JWT")
			if err != nil || claims["n"] != float64(i) {
				t.Errorf("VerifyJWT token %d: n=%v err=%v", i, claims["n"], err)
			}
		})
	}
	wg.Wait()
}

// go-oidc is what many Go relying parties use; it parses JWKS and JWS with
// go-jose, an independent implementation, which catches encodings that only
// jwx happens to accept.
func TestGoOIDCVerifiesIDToken(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			k := testKey(t, alg)
			ks := mustKeySet(t, k)
			token, err := ks.SignJWT(idTokenClaims(time.Now()), "JWT")
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/jwk-set+json")
				_, _ = w.Write(ks.PublicJWKS())
			}))
			defer srv.Close()
			ctx := context.Background()
			keySets := map[string]oidc.KeySet{
				"static": &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{k.Signer.Public()}},
				"remote": oidc.NewRemoteKeySet(ctx, srv.URL),
			}
			for name, keySet := range keySets {
				v := oidc.NewVerifier("https://id.example.com", keySet, &oidc.Config{
					ClientID:             "s6BhdRkqt3",
					SupportedSigningAlgs: []string{alg},
				})
				idt, err := v.Verify(ctx, token)
				if err != nil {
					t.Fatalf("%s key set: go-oidc rejected the token: %v", name, err)
				}
				if idt.Subject != "248289761001" || idt.Nonce != "n-0S6_WzA2Mj" {
					t.Errorf("%s key set: sub %q nonce %q", name, idt.Subject, idt.Nonce)
				}
			}
		})
	}
}
