package caddymodule

import (
	"fmt"
	"path/filepath"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/oidcaddy/oidcaddy/internal/jose"
	"github.com/oidcaddy/oidcaddy/provider"
)

// loadSigner loads (or, on first start, generates) the signing keys. A
// missing key file is generated rather than refused so that a development
// setup works out of the box and keeps its tokens valid across restarts.
func (h *Handler) loadSigner(repl *caddy.Replacer, storageDir string) (provider.Signer, error) {
	cfgs := h.SigningKeys
	if len(cfgs) == 0 {
		cfgs = []SigningKeyConfig{{Algorithm: defaultSigningAlgorithm}}
	}
	keys := make([]*jose.Key, 0, len(cfgs))
	for i, kc := range cfgs {
		alg := kc.algorithm()
		path := repl.ReplaceKnown(kc.File, "")
		if path == "" {
			path = filepath.Join(storageDir, "keys", "signing-"+alg+".pem")
		}
		key, generated, err := jose.LoadOrGenerate(path, alg)
		if err != nil {
			return nil, fmt.Errorf("signing key %d (%s): %w", i+1, alg, err)
		}
		if generated {
			h.logger.Info("generated a new signing key",
				zap.String("file", path), zap.String("algorithm", alg), zap.String("kid", key.KID))
		}
		keys = append(keys, key)
	}
	ks, err := jose.NewKeySet(keys[0], keys[1:]...)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return ks, nil
}
