package keyring

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// SecretKeyName is the record of provider.Config.SecretKey, the key that
// seals the secrets of registered client_secret_jwt clients.
const SecretKeyName = "client_secret_sealing_key"

// storedSecret is the payload of a provider_secret record.
type storedSecret struct {
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	Sealed    []byte    `json:"sealed"`
}

// SharedSecret returns the random secret of size bytes stored under name,
// creating it on first use. Of several instances starting at once exactly
// one creates it (Store.Create is atomic) and all return the winner's.
// created reports whether this call stored it. When adopt is not nil, it is
// stored instead of a random secret (an instance's secret from before it
// shared the store, so what it sealed still opens).
func SharedSecret(ctx context.Context, store provider.Store, sealer *Sealer, name string, size int, adopt []byte) (secret []byte, created bool, err error) {
	aad := []byte(string(provider.KindProviderSecret) + "/" + name)
	if secret, err := readSecret(ctx, store, sealer, name, aad, size); !errors.Is(err, provider.ErrNotFound) {
		return secret, false, err
	}
	fresh := make([]byte, size)
	if adopt != nil {
		if len(adopt) != size {
			return nil, false, fmt.Errorf("the %s to adopt has %d bytes, want %d", name, len(adopt), size)
		}
		copy(fresh, adopt)
	} else {
		rand.Read(fresh)
	}
	payload, err := json.Marshal(storedSecret{Version: 1, CreatedAt: time.Now().UTC(), Sealed: sealer.Seal(fresh, aad)})
	if err != nil {
		return nil, false, err
	}
	err = store.Create(ctx, provider.Record{Kind: provider.KindProviderSecret, ID: name, Payload: payload}, true)
	switch {
	case err == nil:
		return fresh, true, nil
	case errors.Is(err, provider.ErrAlreadyExists):
		// Another instance won the race: everything is sealed under its
		// secret, so use that one.
		clear(fresh)
		secret, err := readSecret(ctx, store, sealer, name, aad, size)
		return secret, false, err
	default:
		return nil, false, fmt.Errorf("storing the shared %s: %w", name, err)
	}
}

func readSecret(ctx context.Context, store provider.Store, sealer *Sealer, name string, aad []byte, size int) ([]byte, error) {
	rec, err := store.Get(ctx, provider.KindProviderSecret, name)
	if err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("reading the shared %s: %w", name, err)
	}
	var s storedSecret
	if err := json.Unmarshal(rec.Payload, &s); err != nil || s.Version != 1 {
		return nil, fmt.Errorf("the stored %s is not in a format this version reads", name)
	}
	secret, err := sealer.Open(s.Sealed, aad)
	if err != nil {
		return nil, fmt.Errorf("the stored %s: %w", name, err)
	}
	if len(secret) != size {
		return nil, fmt.Errorf("the stored %s has %d bytes, want %d", name, len(secret), size)
	}
	return secret, nil
}
