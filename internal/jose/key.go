package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// JWS algorithm names accepted by this package.
const (
	RS256 = "RS256"
	PS256 = "PS256"
	ES256 = "ES256"
	ES384 = "ES384"
	EdDSA = "EdDSA"

	// DefaultAlgorithm is RS256 because OpenID Connect Core §15.1 makes it
	// the one algorithm every relying party must accept.
	DefaultAlgorithm = RS256
)

// minRSABits follows RFC 7518 §3.3, which forbids RSA keys shorter than
// 2048 bits for RS* and PS*.
const minRSABits = 2048

// Key is one signing key. KID is what relying parties select the key by, so
// it must be unique within a KeySet and stable across restarts; the
// constructors in this package set it to the RFC 7638 thumbprint, which a
// relying party can recompute from the published key.
type Key struct {
	KID string
	Alg string
	// Signer is *rsa.PrivateKey, *ecdsa.PrivateKey or ed25519.PrivateKey.
	// Other crypto.Signer implementations (KMS, HSM) can sign as long as
	// their public key fits Alg, but cannot be written out as PEM.
	Signer crypto.Signer
}

// GenerateKey creates a fresh key for alg ("" means DefaultAlgorithm).
func GenerateKey(alg string) (*Key, error) {
	if alg == "" {
		alg = DefaultAlgorithm
	}
	var (
		signer crypto.Signer
		err    error
	)
	switch alg {
	case RS256, PS256:
		signer, err = rsa.GenerateKey(rand.Reader, minRSABits)
	case ES256:
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ES384:
		signer, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case EdDSA:
		_, signer, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, unsupportedAlg(alg)
	}
	if err != nil {
		return nil, fmt.Errorf("jose: generate %s key: %w", alg, err)
	}
	return newKey(signer, alg)
}

// ParsePrivateKeyPEM reads the first private key in data: PKCS#8
// ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") or SEC1 ("EC PRIVATE KEY").
// Other blocks, such as the "EC PARAMETERS" that openssl ecparam writes or a
// certificate in a combined file, are skipped. With alg "" the algorithm
// follows from the key type (RSA keys get RS256); otherwise alg must fit the
// key.
func ParsePrivateKeyPEM(data []byte, alg string) (*Key, error) {
	var (
		signer crypto.Signer
		found  bool
	)
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if !isPrivateKeyBlock(block.Type) {
			continue
		}
		// Legacy OpenSSL encryption keeps the PKCS#1/SEC1 type and marks the
		// block with headers; parsing it would fail with a confusing ASN.1
		// error, so name the real cause.
		if _, legacyEncrypted := block.Headers["Proc-Type"]; legacyEncrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("jose: encrypted PEM private keys are not supported; decrypt the key first")
		}
		if found {
			// Picking one silently could sign with a key the operator did
			// not mean to use.
			return nil, errors.New("jose: PEM data contains more than one private key")
		}
		var (
			parsed any
			err    error
		)
		switch block.Type {
		case "PRIVATE KEY":
			parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			parsed, err = x509.ParseECPrivateKey(block.Bytes)
		}
		// The x509 errors describe the ASN.1 structure, never its content,
		// so they are safe to wrap.
		if err != nil {
			return nil, fmt.Errorf("jose: parse %q PEM block: %w", block.Type, err)
		}
		s, ok := parsed.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("jose: %T keys cannot sign", parsed)
		}
		signer, found = s, true
	}
	if !found {
		return nil, errors.New("jose: no PEM private key block found")
	}
	if alg == "" {
		inferred, err := inferAlg(signer)
		if err != nil {
			return nil, err
		}
		alg = inferred
	}
	return newKey(signer, alg)
}

// MarshalPrivateKeyPEM encodes k as a PKCS#8 "PRIVATE KEY" block, the one
// format that holds every supported key type.
func MarshalPrivateKeyPEM(k *Key) ([]byte, error) {
	if k == nil || k.Signer == nil {
		return nil, errors.New("jose: no key to marshal")
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.Signer)
	if err != nil {
		return nil, fmt.Errorf("jose: marshal %T as PKCS#8: %w", k.Signer, err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	clear(der)
	return out, nil
}

// LoadOrGenerate returns the key stored at path, or creates one when the file
// does not exist so that a development setup needs no key management and
// keeps its tokens valid across restarts. Production keys should be
// provisioned and rotated explicitly.
//
// A new file is made visible only once complete (written to a temporary file
// and hard-linked into place), so a crash never leaves a truncated key. When
// two processes race to create it, both end up with the key that won.
func LoadOrGenerate(path, alg string) (*Key, bool, error) {
	if k, err := loadKeyFile(path, alg); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}

	k, err := GenerateKey(alg)
	if err != nil {
		return nil, false, err
	}
	data, err := MarshalPrivateKeyPEM(k)
	if err != nil {
		return nil, false, err
	}
	defer clear(data)

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("jose: create key directory: %w", err)
	}
	// CreateTemp opens with mode 0600, so the key is never readable by
	// others, not even briefly.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, false, fmt.Errorf("jose: create key file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, false, fmt.Errorf("jose: write key file: %w", err)
	}

	// Link, unlike Rename, refuses to replace an existing file: a concurrent
	// creator's key is kept and loaded instead of being overwritten after it
	// may already have signed tokens.
	switch err := os.Link(tmpName, path); {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		k, err := loadKeyFile(path, alg)
		return k, false, err
	default:
		// Some filesystems have no hard links; fall back to the atomic (but
		// clobbering) rename rather than fail a development setup.
		if err := os.Rename(tmpName, path); err != nil {
			return nil, false, fmt.Errorf("jose: install key file: %w", err)
		}
	}
	syncDir(dir)
	return k, true, nil
}

func loadKeyFile(path, alg string) (*Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		// Wrapped, not replaced: LoadOrGenerate tests for fs.ErrNotExist.
		return nil, fmt.Errorf("jose: read key file: %w", err)
	}
	defer clear(data)
	k, err := ParsePrivateKeyPEM(data, alg)
	if err != nil {
		return nil, fmt.Errorf("jose: key file %s: %w", path, err)
	}
	return k, nil
}

// syncDir makes the new directory entry durable; failure only weakens crash
// safety of a development key, so it is not reported.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

func newKey(signer crypto.Signer, alg string) (*Key, error) {
	if err := checkAlg(alg, signer); err != nil {
		return nil, err
	}
	kid, err := thumbprint(signer.Public())
	if err != nil {
		return nil, err
	}
	return &Key{KID: kid, Alg: alg, Signer: signer}, nil
}

// thumbprint is the RFC 7638 JWK thumbprint (SHA-256, base64url), which lets
// a relying party check that a kid belongs to the key published under it.
func thumbprint(pub crypto.PublicKey) (string, error) {
	jk, err := jwk.Import(pub)
	if err != nil {
		return "", fmt.Errorf("jose: import %T public key: %w", pub, err)
	}
	sum, err := jk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("jose: compute thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// checkAlg decides by the public key rather than the private key type so that
// opaque signers (KMS, HSM) are judged the same way as in-memory keys.
func checkAlg(alg string, signer crypto.Signer) error {
	if signer == nil {
		return errors.New("jose: key has no signer")
	}
	pub := signer.Public()
	switch alg {
	case RS256, PS256:
		rk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return mismatch(alg, pub)
		}
		if bits := rk.N.BitLen(); bits < minRSABits {
			return fmt.Errorf("jose: RSA key has %d bits, %s requires at least %d", bits, alg, minRSABits)
		}
	case ES256, ES384:
		ek, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return mismatch(alg, pub)
		}
		want := elliptic.P256()
		if alg == ES384 {
			want = elliptic.P384()
		}
		if ek.Curve != want {
			return fmt.Errorf("jose: %s requires curve %s, key is on %s", alg, want.Params().Name, curveName(ek.Curve))
		}
	case EdDSA:
		if _, ok := pub.(ed25519.PublicKey); !ok {
			return mismatch(alg, pub)
		}
	default:
		return unsupportedAlg(alg)
	}
	return nil
}

func inferAlg(signer crypto.Signer) (string, error) {
	switch pub := signer.Public().(type) {
	case *rsa.PublicKey:
		return RS256, nil
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return ES256, nil
		case elliptic.P384():
			return ES384, nil
		}
		return "", fmt.Errorf("jose: EC keys on curve %s are not supported (use P-256 or P-384)", curveName(pub.Curve))
	case ed25519.PublicKey:
		return EdDSA, nil
	default:
		return "", fmt.Errorf("jose: %T keys are not supported", pub)
	}
}

func isPrivateKeyBlock(typ string) bool {
	switch typ {
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		return true
	}
	return false
}

func curveName(c elliptic.Curve) string {
	if c == nil || c.Params() == nil {
		return "unknown"
	}
	return c.Params().Name
}

func mismatch(alg string, pub crypto.PublicKey) error {
	return fmt.Errorf("jose: algorithm %s does not fit key type %s", alg, keyType(pub))
}

func keyType(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "ECDSA"
	case ed25519.PublicKey:
		return "Ed25519"
	default:
		return fmt.Sprintf("%T", pub)
	}
}

func unsupportedAlg(alg string) error {
	return fmt.Errorf("jose: unsupported signing algorithm %q (supported: RS256, PS256, ES256, ES384, EdDSA)", alg)
}
