package jose

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"

	"github.com/oidcaddy/oidcaddy/provider"
)

var _ provider.Signer = (*KeySet)(nil)

// KeySet signs with one active key and publishes every key it holds.
//
// Rotation is a sequence of key sets: publish the next key as an "other" key
// for at least the relying parties' JWKS cache lifetime before making it
// active, so that no one sees a kid they cannot resolve; after switching,
// keep the previous key as an "other" key until the last token it signed has
// expired.
//
// A KeySet is immutable, so it is safe for concurrent use and can be swapped
// atomically on configuration reload.
type KeySet struct {
	active *Key
	// byAlg is the signing key of each alg: the active key for its alg,
	// otherwise the first key of that alg in the set. A client may ask for
	// ID tokens in any published alg (OIDC Registration §2
	// id_token_signed_response_alg).
	byAlg  map[string]*Key
	algs   []string
	jwks   []byte
	public jwk.Set // the published keys, for VerifyJWT
}

// NewKeySet builds the set and its public JWKS up front: the JWKS is served
// far more often than the keys change, and building it here means a key that
// cannot be published is rejected at configuration time, not on a request.
func NewKeySet(active *Key, others ...*Key) (*KeySet, error) {
	if active == nil {
		return nil, errors.New("jose: a key set needs an active key")
	}
	all := append([]*Key{active}, others...)
	seen := make(map[string]bool, len(all))
	set := jwk.NewSet()
	// A copy, because Key's fields are exported and a caller changing them
	// later must not make the signing kid disagree with the published one.
	activeCopy := *active
	ks := &KeySet{active: &activeCopy, byAlg: make(map[string]*Key, len(all))}
	for i, k := range all {
		if k == nil {
			return nil, fmt.Errorf("jose: key %d is nil", i)
		}
		if k.KID == "" {
			return nil, fmt.Errorf("jose: key %d has no kid", i)
		}
		// With two keys under one kid a relying party could verify with the
		// wrong one and reject valid tokens.
		if seen[k.KID] {
			return nil, fmt.Errorf("jose: duplicate kid %q", k.KID)
		}
		seen[k.KID] = true
		if err := checkAlg(k.Alg, k.Signer); err != nil {
			return nil, fmt.Errorf("jose: key %q: %w", k.KID, err)
		}
		pub, err := publicJWK(k)
		if err != nil {
			return nil, err
		}
		if err := set.AddKey(pub); err != nil {
			return nil, fmt.Errorf("jose: key %q: add to JWKS: %w", k.KID, err)
		}
		if !slices.Contains(ks.algs, k.Alg) {
			ks.algs = append(ks.algs, k.Alg)
			signer := ks.active
			if i > 0 {
				kc := *k
				signer = &kc
			}
			ks.byAlg[k.Alg] = signer
		}
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("jose: marshal JWKS: %w", err)
	}
	ks.jwks = jwks
	ks.public = set
	return ks, nil
}

// publicJWK imports only the public half, so private members cannot reach
// the JWKS whatever the library does with private keys.
func publicJWK(k *Key) (jwk.Key, error) {
	pub, err := jwk.Import(k.Signer.Public())
	if err != nil {
		return nil, fmt.Errorf("jose: key %q: import public key: %w", k.KID, err)
	}
	// alg must be set on every published key: relying parties (and jwx
	// itself) refuse to pick a key from a set for a token when it is absent.
	for name, value := range map[string]any{
		jwk.KeyIDKey:     k.KID,
		jwk.AlgorithmKey: k.Alg,
		jwk.KeyUsageKey:  jwk.ForSignature,
	} {
		if err := pub.Set(name, value); err != nil {
			return nil, fmt.Errorf("jose: key %q: set %s: %w", k.KID, name, err)
		}
	}
	return pub, nil
}

// SignJWT returns a compact JWS over the JSON encoding of claims, signed by
// the active key, with alg, kid and (when typ is not empty) typ in the
// protected header.
//
// The compact serialization is assembled here and only the signature comes
// from jwx (jwsbb.Sign, the same primitive jws.Sign ends in): jws.Sign's
// generic header and message handling cost ~80 allocations and 6-11 µs per
// token, 15% of an ES256 and 35% of an EdDSA token. See BenchmarkSignJWT.
func (ks *KeySet) SignJWT(claims map[string]any, typ string) (string, error) {
	return ks.sign(ks.active, claims, typ)
}

// SignJWTWithAlg is SignJWT with the key of alg rather than the active key:
// the active key when its alg is alg, otherwise the first key of that alg.
// An empty alg means the active key. It fails when no key has alg.
func (ks *KeySet) SignJWTWithAlg(alg string, claims map[string]any, typ string) (string, error) {
	if alg == "" {
		return ks.sign(ks.active, claims, typ)
	}
	k, ok := ks.byAlg[alg]
	if !ok {
		return "", fmt.Errorf("jose: no signing key for alg %q", algName(alg))
	}
	return ks.sign(k, claims, typ)
}

func (ks *KeySet) sign(key *Key, claims map[string]any, typ string) (string, error) {
	if claims == nil {
		// Would encode as "null", which is not a JWT claims set.
		return "", errors.New("jose: claims must not be nil")
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("jose: encode claims: %w", err)
	}
	header, err := json.Marshal(protectedHeader{Alg: key.Alg, KID: key.KID, Typ: typ})
	if err != nil {
		return "", fmt.Errorf("jose: encode header: %w", err)
	}

	enc := base64.RawURLEncoding
	// Room for the signature too (RSA-4096 at most), so that the token is
	// built in one allocation.
	buf := make([]byte, 0, enc.EncodedLen(len(header))+enc.EncodedLen(len(payload))+enc.EncodedLen(512)+2)
	buf = enc.AppendEncode(buf, header)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	// The raw crypto.Signer, not a jwk.Key: see the package documentation.
	sig, err := jwsbb.Sign(key.Signer, key.Alg, buf, nil)
	if err != nil {
		return "", fmt.Errorf("jose: sign with key %q: %w", key.KID, err)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// protectedHeader is the complete JOSE header of every token: nothing else
// belongs there, and a fixed struct keeps its encoding cheap.
type protectedHeader struct {
	Alg string `json:"alg"`
	KID string `json:"kid"`
	Typ string `json:"typ,omitempty"`
}

// maxVerifyLen bounds the work an untrusted token can cause before its
// signature is checked; the provider's own tokens are a few KiB at most.
const maxVerifyLen = 32 << 10

// VerifyJWT checks that token is a compact JWS signed by one of the published
// keys (selected by kid, with the alg published for that key, never the one
// the token names) and, when typ is not empty, that its typ header matches.
// It returns the claims with JSON numbers as float64; it checks no claim,
// because expiry, issuer and audience are the caller's policy.
func (ks *KeySet) VerifyJWT(token, typ string) (map[string]any, error) {
	if len(token) > maxVerifyLen {
		return nil, fmt.Errorf("jose: token of %d bytes exceeds %d", len(token), maxVerifyLen)
	}
	var msg jws.Message
	payload, err := jws.Verify([]byte(token), jws.WithCompact(), jws.WithKeySet(ks.public), jws.WithMessage(&msg))
	if err != nil {
		return nil, fmt.Errorf("jose: verify token: %w", err)
	}
	if typ != "" {
		got, _ := msg.Signatures()[0].ProtectedHeaders().Type()
		if normalizeTyp(got) != normalizeTyp(typ) {
			// Stops a token minted for one purpose (an ID token) being
			// accepted for another (a logout token, an access token).
			return nil, fmt.Errorf("jose: token typ %q, want %q", got, typ)
		}
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil || claims == nil {
		return nil, errors.New("jose: token payload is not a JSON object")
	}
	return claims, nil
}

// normalizeTyp applies RFC 7515 §4.1.9: typ is a media type, compared
// case-insensitively, whose "application/" prefix may be left out.
func normalizeTyp(typ string) string {
	typ = strings.ToLower(typ)
	return strings.TrimPrefix(typ, "application/")
}

// Algorithm is the JWS alg of the active key.
func (ks *KeySet) Algorithm() string { return ks.active.Alg }

// Algorithms lists the distinct algs of all published keys, the active key's
// first, for id_token_signing_alg_values_supported and friends.
func (ks *KeySet) Algorithms() []string { return slices.Clone(ks.algs) }

// PublicJWKS is the JSON of the public JWK Set. It returns a copy so that no
// caller can alter what every other request serves.
func (ks *KeySet) PublicJWKS() []byte { return slices.Clone(ks.jwks) }
