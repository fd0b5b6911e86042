package jose

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// This file verifies the JWTs a client signs to authenticate itself at the
// token endpoint (RFC 7523 §2.2, OpenID Connect Core §9): private_key_jwt
// with a key from the client's registered JWK Set, and client_secret_jwt
// with an HMAC keyed by the client secret. The package's "no HMAC" rule is
// about what the provider signs; here the secret belongs to one client and
// only verifies that client's own assertions.
//
// Everything here reads untrusted input. Errors therefore never quote the
// token, its header values or key material: at most they name an algorithm
// or member from a fixed list, a count or a size.

// HMAC algorithms, accepted only by VerifyHMACAssertion.
const (
	hs256 = "HS256"
	hs384 = "HS384"
	hs512 = "HS512"
)

const (
	// maxClientJWKSLen bounds a registered JWK Set: 16 RSA-8192 keys take
	// ~24 KiB of JSON. Members this package ignores (x5c chains) count too.
	maxClientJWKSLen = 64 << 10
	// maxClientKeys bounds the signature checks one assertion without kid
	// can cause.
	maxClientKeys = 16
	// maxRSABits is crypto/tls's ceiling: larger moduli make every
	// verification slower while adding nothing a client needs.
	maxRSABits = 8192
	// minHMACSecretLen is 256 bits, RFC 7518 §3.2's minimum for HS256.
	// (§3.2 asks for the hash size for HS384/HS512; a secret of 32 random
	// bytes is still far beyond brute force, so it is not enforced.)
	minHMACSecretLen = 32
	// clientAssertionTyp is the explicit type that
	// draft-ietf-oauth-rfc7523bis gives client assertions.
	clientAssertionTyp = "client-authentication+jwt"
)

// privateJWKMembers are the RFC 7518 §6 members that only private or
// symmetric keys have.
var privateJWKMembers = []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"}

// publicJWKMembers are the members handed to jwx for each key type. Anything
// else (x5c, x5u, x5t, vendor extensions) is dropped: this package never uses
// it, so it must not decide whether a key parses.
var publicJWKMembers = map[string][]string{
	"RSA": {"kty", "kid", "alg", "use", "key_ops", "n", "e"},
	"EC":  {"kty", "kid", "alg", "use", "key_ops", "crv", "x", "y"},
	"OKP": {"kty", "kid", "alg", "use", "key_ops", "crv", "x"},
}

// ClientKeys are the verification keys of one client, parsed from its
// registered JWK Set. They are immutable and safe for concurrent use.
//
// Each key is kept as its raw public key rather than in a jwk.Set: jws.Verify
// with a key set converts the jwk.Key to a raw key on every call (see the
// package documentation); BenchmarkVerifyAssertion measures both ways.
type ClientKeys struct {
	keys []clientKey
}

type clientKey struct {
	kid    string
	hasKID bool
	// algs is the key's "alg" when registered, otherwise every alg this
	// package accepts for the key type.
	algs []string
	pub  crypto.PublicKey
}

// ParseClientJWKS validates a client's registered JWK Set document (RFC 7517
// §5): a JSON object whose "keys" holds 1 to 16 public keys, each RSA of
// 2048 to 8192 bits, EC on P-256 or P-384, or OKP Ed25519. A private member
// (d, p, q, dp, dq, qi, k, oth) or a symmetric "oct" key is an error, since
// a client must never hand over a private key.
//
// A key without "alg" may verify every algorithm its type allows: RS256 and
// PS256 for RSA, ES256 for P-256, ES384 for P-384, EdDSA for Ed25519. A
// registered "alg" must be one of those and restricts the key to it; "use",
// when present, must be "sig" and "key_ops" must include "verify". Members
// the verification does not use, such as x5c, are ignored.
func ParseClientJWKS(doc []byte) (*ClientKeys, error) {
	if len(doc) > maxClientJWKSLen {
		return nil, fmt.Errorf("jose: client JWK Set of %d bytes exceeds %d", len(doc), maxClientJWKSLen)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil || top == nil {
		return nil, errors.New("jose: client JWK Set is not a JSON object")
	}
	rawKeys, ok := top["keys"]
	if !ok {
		return nil, errors.New(`jose: client JWK Set has no "keys" member`)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(rawKeys, &elems); err != nil || elems == nil {
		return nil, errors.New(`jose: client JWK Set "keys" is not an array`)
	}
	switch n := len(elems); {
	case n == 0:
		return nil, errors.New("jose: client JWK Set has no keys")
	case n > maxClientKeys:
		return nil, fmt.Errorf("jose: client JWK Set has %d keys, at most %d are accepted", n, maxClientKeys)
	}
	ck := &ClientKeys{keys: make([]clientKey, 0, len(elems))}
	for i, raw := range elems {
		k, err := parseClientKey(raw)
		if err != nil {
			return nil, fmt.Errorf("jose: client key %d: %w", i, err)
		}
		ck.keys = append(ck.keys, k)
	}
	return ck, nil
}

func parseClientKey(raw json.RawMessage) (clientKey, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return clientKey{}, errors.New("not a JSON object")
	}
	kty, ok, err := stringMember(members, "kty")
	switch {
	case err != nil:
		return clientKey{}, err
	case !ok:
		return clientKey{}, errors.New(`has no "kty"`)
	case kty == "oct":
		return clientKey{}, errors.New(`is a symmetric ("oct") key; register public keys only`)
	}
	// Checked before any parser runs, so that the private half of a key
	// is never decoded.
	for _, name := range privateJWKMembers {
		if _, ok := members[name]; ok {
			return clientKey{}, fmt.Errorf("has private member %q; register public keys only", name)
		}
	}
	keep, ok := publicJWKMembers[kty]
	if !ok {
		return clientKey{}, errors.New(`has an unsupported "kty" (supported: RSA, EC, OKP)`)
	}
	if kty == "RSA" {
		// jwx refuses short moduli too, but with an error that cannot be
		// passed on; this names the size.
		if err := checkRSAModulusSize(members["n"]); err != nil {
			return clientKey{}, err
		}
	}

	var k clientKey
	if k.kid, k.hasKID, err = stringMember(members, "kid"); err != nil {
		return clientKey{}, err
	}
	alg, hasAlg, err := stringMember(members, "alg")
	if err != nil {
		return clientKey{}, err
	}
	if use, ok, err := stringMember(members, "use"); err != nil {
		return clientKey{}, err
	} else if ok && use != "sig" {
		return clientKey{}, errors.New(`has "use" other than "sig"`)
	}
	if rawOps, ok := members["key_ops"]; ok {
		var ops []string
		if err := json.Unmarshal(rawOps, &ops); err != nil {
			return clientKey{}, errors.New(`has "key_ops" that is not an array of strings`)
		}
		if !slices.Contains(ops, "verify") {
			return clientKey{}, errors.New(`has "key_ops" without "verify"`)
		}
	}

	// Re-encoding only the members in use also removes duplicate member
	// names, so jwx parses exactly what was checked above.
	clean := make(map[string]json.RawMessage, len(keep))
	for _, name := range keep {
		if v, ok := members[name]; ok {
			clean[name] = v
		}
	}
	cleanJSON, err := json.Marshal(clean)
	if err != nil {
		return clientKey{}, fmt.Errorf("re-encode members: %w", err)
	}
	// jwx's parse errors can quote member values, so they are not wrapped.
	jk, err := jwk.ParseKey(cleanJSON)
	if err != nil {
		return clientKey{}, fmt.Errorf("is not a valid %s public key", kty)
	}
	if priv, err := jwk.IsPrivateKey(jk); err != nil || priv {
		return clientKey{}, errors.New("is not a public key")
	}
	var pub any
	if err := jwk.Export(jk, &pub); err != nil {
		return clientKey{}, fmt.Errorf("is not a usable %s public key", kty)
	}
	if k.algs, err = clientKeyAlgs(pub); err != nil {
		return clientKey{}, err
	}
	if hasAlg {
		if !slices.Contains(k.algs, alg) {
			return clientKey{}, fmt.Errorf(`has "alg" %s, which does not fit the key (allowed: %s)`, algName(alg), strings.Join(k.algs, ", "))
		}
		k.algs = []string{alg}
	}
	k.pub = pub
	return k, nil
}

// stringMember reads an optional string member. A present member of another
// JSON type, null included (which encoding/json would turn into ""), is an
// error rather than "absent", so that {"use": 1} cannot slip past the "use"
// check.
func stringMember(members map[string]json.RawMessage, name string) (string, bool, error) {
	raw, ok := members[name]
	if !ok {
		return "", false, nil
	}
	var s string
	if string(raw) == "null" || json.Unmarshal(raw, &s) != nil {
		return "", false, fmt.Errorf("member %q is not a string", name)
	}
	return s, true, nil
}

// checkRSAModulusSize reports an RSA "n" of the wrong size; a malformed one
// is left for jwx to refuse.
func checkRSAModulusSize(raw json.RawMessage) error {
	var n string
	if json.Unmarshal(raw, &n) != nil {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil {
		return nil
	}
	return checkRSABits(new(big.Int).SetBytes(b).BitLen())
}

func checkRSABits(bits int) error {
	switch {
	case bits < minRSABits:
		return fmt.Errorf("RSA key has %d bits, at least %d are required", bits, minRSABits)
	case bits > maxRSABits:
		return fmt.Errorf("RSA key has %d bits, at most %d are accepted", bits, maxRSABits)
	}
	return nil
}

// clientKeyAlgs checks the raw public key and lists the algorithms it may
// verify.
func clientKeyAlgs(pub any) ([]string, error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if err := checkRSABits(pub.N.BitLen()); err != nil {
			return nil, err
		}
		if pub.N.Bit(0) == 0 || pub.E < 3 || pub.E%2 == 0 {
			return nil, errors.New("RSA key has an invalid modulus or exponent")
		}
		return []string{RS256, PS256}, nil
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return []string{ES256}, nil
		case elliptic.P384():
			return []string{ES384}, nil
		}
		return nil, fmt.Errorf("EC keys on curve %s are not supported (use P-256 or P-384)", curveName(pub.Curve))
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return nil, errors.New("Ed25519 key has the wrong length")
		}
		return []string{EdDSA}, nil
	case *ecdh.PublicKey:
		return nil, errors.New("OKP key is not Ed25519 (X25519 keys cannot sign)")
	default:
		return nil, fmt.Errorf("%T keys are not supported", pub)
	}
}

// VerifyAssertion verifies a compact JWS signed by one of the client's keys
// and returns its claims, JSON numbers as float64. It checks no claim:
// iss, sub, aud, exp and jti replay are the caller's policy (RFC 7523 §3).
//
// The header alg must be RS256, PS256, ES256, ES384 or EdDSA and fit the
// key; "none" and HMAC are refused, whatever the keys. A kid in the header
// selects the keys registered under it (a key registered without kid cannot
// be selected by one); without kid every key whose algorithms include the
// header alg is tried, at most 16. A typ, when present, must be "JWT" or
// "client-authentication+jwt", so that another JWT the client signs with the
// same key (a DPoP proof, a request object) is not accepted as an assertion.
func (k *ClientKeys) VerifyAssertion(token string) (map[string]any, error) {
	if k == nil || len(k.keys) == 0 {
		return nil, errors.New("jose: client has no registered keys")
	}
	hdr, err := readAssertionHeader(token)
	if err != nil {
		return nil, err
	}
	switch hdr.alg {
	case RS256, PS256, ES256, ES384, EdDSA:
	default:
		return nil, fmt.Errorf("jose: assertion alg %s is not accepted for a client key", algName(hdr.alg))
	}
	sigAlg, _ := jwa.LookupSignatureAlgorithm(hdr.alg)
	tok := []byte(token)
	tried, kidMatched := 0, false
	for i := range k.keys {
		key := &k.keys[i]
		if hdr.hasKID {
			if !key.hasKID || key.kid != hdr.kid {
				continue
			}
			kidMatched = true
		}
		if !slices.Contains(key.algs, hdr.alg) {
			continue
		}
		tried++
		// VerifyCompactFast checks again that the header alg is the one
		// the key was chosen for, and refuses crit and b64 on its own.
		payload, err := jws.VerifyCompactFast(key.pub, tok, sigAlg)
		if err != nil {
			continue
		}
		return assertionClaims(payload)
	}
	switch {
	case hdr.hasKID && !kidMatched:
		return nil, errors.New("jose: no registered client key has the assertion's kid")
	case tried == 0:
		return nil, fmt.Errorf("jose: no registered client key accepts alg %s", hdr.alg)
	}
	return nil, errors.New("jose: assertion signature does not verify with the client's keys")
}

// VerifyHMACAssertion verifies a compact JWS made with HS256, HS384 or HS512
// keyed by the client secret (client_secret_jwt) and returns its claims,
// JSON numbers as float64. Any other alg is refused, so that a token signed
// with a public key's bytes as HMAC key or with "none" never passes here.
// Secrets shorter than 32 bytes are refused. The typ rule and the absence of
// claim checks are those of VerifyAssertion.
func VerifyHMACAssertion(token string, secret []byte) (map[string]any, error) {
	if len(secret) < minHMACSecretLen {
		return nil, fmt.Errorf("jose: client secret of %d bytes is too short for client_secret_jwt, at least %d are required", len(secret), minHMACSecretLen)
	}
	hdr, err := readAssertionHeader(token)
	if err != nil {
		return nil, err
	}
	switch hdr.alg {
	case hs256, hs384, hs512:
	default:
		return nil, fmt.Errorf("jose: assertion alg %s is not accepted with a client secret", algName(hdr.alg))
	}
	sigAlg, _ := jwa.LookupSignatureAlgorithm(hdr.alg)
	payload, err := jws.VerifyCompactFast(secret, []byte(token), sigAlg)
	if err != nil {
		return nil, errors.New("jose: assertion signature does not verify with the client secret")
	}
	return assertionClaims(payload)
}

type assertionHeader struct {
	alg    string
	kid    string
	hasKID bool
}

var errNotCompactJWS = errors.New("jose: assertion is not a compact JWS")

// readAssertionHeader bounds the token, accepts only the compact
// serialization and reads alg, kid and typ from the protected header.
func readAssertionHeader(token string) (assertionHeader, error) {
	if len(token) > maxVerifyLen {
		return assertionHeader{}, fmt.Errorf("jose: assertion of %d bytes exceeds %d", len(token), maxVerifyLen)
	}
	// Three base64url segments and nothing else: this refuses the JSON
	// serializations, padding and whitespace before any parser runs.
	dots := 0
	for i := range len(token) {
		switch c := token[i]; {
		case c == '.':
			dots++
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return assertionHeader{}, errNotCompactJWS
		}
	}
	hdrSeg, _, _ := strings.Cut(token, ".")
	if dots != 2 || hdrSeg == "" {
		return assertionHeader{}, errNotCompactJWS
	}
	decoded, err := base64.RawURLEncoding.DecodeString(hdrSeg)
	if err != nil {
		return assertionHeader{}, errors.New("jose: assertion header is not base64url")
	}
	members, err := headerMembers(decoded)
	if err != nil {
		return assertionHeader{}, err
	}
	var hdr assertionHeader
	alg, ok, err := stringMember(members, "alg")
	switch {
	case err != nil:
		return assertionHeader{}, errors.New("jose: assertion alg is not a string")
	case !ok:
		return assertionHeader{}, errors.New("jose: assertion header has no alg")
	}
	hdr.alg = alg
	if hdr.kid, hdr.hasKID, err = stringMember(members, "kid"); err != nil {
		return assertionHeader{}, errors.New("jose: assertion kid is not a string")
	}
	// No JWS extension is supported (RFC 7515 §4.1.11), and b64 (RFC 7797)
	// would change what the signature covers.
	for _, name := range []string{"crit", "b64"} {
		if _, ok := members[name]; ok {
			return assertionHeader{}, fmt.Errorf("jose: assertion header has %q, which is not supported", name)
		}
	}
	typ, ok, err := stringMember(members, "typ")
	if err != nil {
		return assertionHeader{}, errors.New("jose: assertion typ is not a string")
	}
	if t := normalizeTyp(typ); ok && t != "jwt" && t != clientAssertionTyp {
		return assertionHeader{}, errors.New(`jose: assertion typ is neither "JWT" nor "` + clientAssertionTyp + `"`)
	}
	return hdr, nil
}

// headerMembers splits a JOSE header into its members. Duplicate names
// (after unescaping) are an error, as RFC 7515 §4 allows: encoding/json
// would keep the last while the parser in jws.VerifyCompactFast keeps the
// first. Names are compared exactly, not case-folded.
func headerMembers(header []byte) (map[string]json.RawMessage, error) {
	errNotObject := errors.New("jose: assertion header is not a JSON object")
	dec := json.NewDecoder(bytes.NewReader(header))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errNotObject
	}
	members := make(map[string]json.RawMessage, 4)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errNotObject
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errNotObject
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errNotObject
		}
		if _, dup := members[name]; dup {
			return nil, errors.New("jose: assertion header has a duplicate member")
		}
		members[name] = v
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, errNotObject
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errNotObject
	}
	return members, nil
}

func assertionClaims(payload []byte) (map[string]any, error) {
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil || claims == nil {
		return nil, errors.New("jose: assertion payload is not a JSON object")
	}
	return claims, nil
}

// algName returns alg when it is a registered JWS algorithm name, which is
// safe to put in an error; anything else may be arbitrary token content.
func algName(alg string) string {
	switch alg {
	case "none", hs256, hs384, hs512, RS256, "RS384", "RS512", PS256, "PS384", "PS512",
		ES256, ES384, "ES512", "ES256K", EdDSA, "Ed25519", "Ed448":
		return alg
	}
	return "(unsupported)"
}
