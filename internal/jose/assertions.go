package jose

import (
	"crypto/sha256"
	"sync"

	"github.com/oidcaddy/oidcaddy/provider"
)

// Assertions implements provider.AssertionVerifier: client assertions are
// verified with the client's own keys or secret, never the provider's.
// Parsed key sets are cached by the hash of their document (a client's keys
// change rarely and parsing costs more than verifying); the cache is bounded
// so hostile registrations cannot grow it without limit.
type Assertions struct {
	mu    sync.Mutex
	cache map[[32]byte]*ClientKeys
}

var _ provider.AssertionVerifier = (*Assertions)(nil)

const maxCachedClientJWKS = 1024

// CheckClientJWKS implements provider.AssertionVerifier.
func (a *Assertions) CheckClientJWKS(doc []byte) error {
	_, err := a.keys(doc)
	return err
}

// VerifyWithClientJWKS implements provider.AssertionVerifier.
func (a *Assertions) VerifyWithClientJWKS(token string, jwks []byte) (map[string]any, error) {
	ks, err := a.keys(jwks)
	if err != nil {
		return nil, err
	}
	return ks.VerifyAssertion(token)
}

// VerifyWithSecret implements provider.AssertionVerifier.
func (a *Assertions) VerifyWithSecret(token string, secret []byte) (map[string]any, error) {
	return VerifyHMACAssertion(token, secret)
}

func (a *Assertions) keys(doc []byte) (*ClientKeys, error) {
	sum := sha256.Sum256(doc)
	if ks, ok := a.cached(sum); ok {
		return ks, nil
	}
	ks, err := ParseClientJWKS(doc)
	if err != nil {
		return nil, err
	}
	a.remember(sum, ks)
	return ks, nil
}

func (a *Assertions) cached(sum [32]byte) (*ClientKeys, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ks, ok := a.cache[sum]
	return ks, ok
}

func (a *Assertions) remember(sum [32]byte, ks *ClientKeys) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cache == nil || len(a.cache) >= maxCachedClientJWKS {
		a.cache = map[[32]byte]*ClientKeys{}
	}
	a.cache[sum] = ks
}
