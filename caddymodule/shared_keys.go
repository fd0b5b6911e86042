package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/oidcaddy/oidcaddy/internal/jose"
	"github.com/oidcaddy/oidcaddy/internal/keyring"
	"github.com/oidcaddy/oidcaddy/provider"
)

// KeyRotationConfig schedules the rotation of signing keys generated into
// the store (with `key_encryption_secret`). Keys from PEM files are never
// rotated.
type KeyRotationConfig struct {
	// How long a generated key signs before its successor takes over.
	// Default 30d.
	RotateEvery caddy.Duration `json:"rotate_every,omitempty"`

	// Never rotate generated keys.
	Disabled bool `json:"disabled,omitempty"`

	// How long a successor is published in the JWKS (and accepted for
	// verification) before it signs, so that relying parties that cache
	// the JWKS know it first. At least 5m (the JWKS's Cache-Control
	// max-age), less than rotate_every. Default 24h.
	PublishBefore caddy.Duration `json:"publish_before,omitempty"`
}

const (
	defaultRotateEvery   = 30 * 24 * time.Hour
	defaultPublishBefore = 24 * time.Hour
	// minPublishBefore is the JWKS max-age the provider sends
	// (provider/discovery.go writeCacheable): a successor published for
	// less could meet a relying party's cached JWKS that lacks it.
	minPublishBefore = 5 * time.Minute
	// logoutTokenLifetime is the exp of back-channel logout tokens
	// (provider/logout.go), which are signed with the same keys.
	logoutTokenLifetime = 2 * time.Minute
	// retainMargin covers clock differences between instances and relying
	// parties when deciding that every token of a key has expired.
	retainMargin = 5 * time.Minute
	// Provider defaults of the lifetimes of signed tokens
	// (provider.Lifetimes), used when the configuration leaves them unset.
	defaultIDTokenLifetime     = time.Hour
	defaultAccessTokenLifetime = time.Hour
)

// keyPolicy is the rotation schedule: its checks run at provision, before the
// store is touched.
func (h *Handler) keyPolicy() (keyring.Policy, error) {
	r := h.KeyRotation
	if r == nil {
		r = &KeyRotationConfig{}
	}
	p := keyring.Policy{
		RotateEvery:   time.Duration(r.RotateEvery),
		PublishBefore: time.Duration(r.PublishBefore),
		Retain:        h.signedTokenLifetime() + retainMargin,
	}
	switch {
	case p.RotateEvery < 0 || p.PublishBefore < 0:
		return p, errors.New("key_rotation: durations must not be negative")
	case r.Disabled && p.RotateEvery != 0:
		return p, errors.New("key_rotation: rotate_every is set and rotation is disabled")
	}
	if r.Disabled {
		return p, nil
	}
	if p.RotateEvery == 0 {
		p.RotateEvery = defaultRotateEvery
	}
	if p.PublishBefore == 0 {
		p.PublishBefore = min(defaultPublishBefore, p.RotateEvery/2)
	}
	if p.PublishBefore < minPublishBefore {
		return p, fmt.Errorf("key_rotation: publish_before %s is shorter than the %s relying parties may cache the JWKS", p.PublishBefore, minPublishBefore)
	}
	if p.PublishBefore >= p.RotateEvery {
		return p, fmt.Errorf("key_rotation: publish_before (%s) must be shorter than rotate_every (%s)", p.PublishBefore, p.RotateEvery)
	}
	return p, nil
}

// signedTokenLifetime is the longest a JWT signed by the provider's keys
// stays valid: ID tokens, JWT access tokens and logout tokens.
func (h *Handler) signedTokenLifetime() time.Duration {
	idt, at := defaultIDTokenLifetime, defaultAccessTokenLifetime
	if l := h.Lifetimes; l != nil {
		if l.IDToken > 0 {
			idt = time.Duration(l.IDToken)
		}
		if l.AccessToken > 0 {
			at = time.Duration(l.AccessToken)
		}
	}
	return max(idt, at, logoutTokenLifetime)
}

// loadKeys provides the signer and the secret key. With a key-encryption
// secret, generated keys and the secret key live in the store, shared by
// every instance on it; otherwise (and for keys with a file) they are files
// under the storage directory, as for a single instance.
func (h *Handler) loadKeys(repl *caddy.Replacer, storageDir string, store provider.Store) (provider.Signer, []byte, error) {
	if h.KeyEncryptionSecret == "" {
		if h.KeyRotation != nil {
			return nil, nil, errors.New("key_rotation applies to keys generated into the store: it needs key_encryption_secret")
		}
		if s, ok := store.(interface{ SharedAcrossProcesses() bool }); ok && s.SharedAcrossProcesses() {
			// One instance on a shared database is fine; several are not.
			h.logger.Warn("the database is shared by several instances, but the signing keys and the secret key are files of this machine: " +
				"instances will refuse each other's tokens, registered client_secret_jwt clients and oidc_protect sign-ins; set key_encryption_secret on every instance")
		}
		signer, err := h.loadSigner(repl, storageDir)
		if err != nil {
			return nil, nil, err
		}
		secretKey, err := h.loadSecretKey(repl, storageDir)
		return signer, secretKey, err
	}

	policy, err := h.keyPolicy()
	if err != nil {
		return nil, nil, err
	}
	secret := []byte(repl.ReplaceKnown(h.KeyEncryptionSecret, ""))
	sealer, err := keyring.NewSealer(secret)
	clear(secret)
	if err != nil {
		return nil, nil, fmt.Errorf("key_encryption_secret: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	secretKey, err := h.sharedSecretKey(ctx, repl, storageDir, store, sealer)
	if err != nil {
		return nil, nil, err
	}
	slots, adopt, err := h.keySlots(repl, storageDir)
	if err != nil {
		return nil, nil, err
	}
	kr, err := keyring.New(ctx, keyring.Options{
		Store:  store,
		Sealer: sealer,
		Slots:  slots,
		Policy: policy,
		Adopt:  adopt,
		Notify: keyNotices(h.logger),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("signing keys: %w", err)
	}
	kr.Start()
	h.keyring = kr
	return kr, secretKey, nil
}

// keySlots are the configured signing keys: those with a file are read (or
// generated) as without a key-encryption secret, the others live in the
// store. A key file at the default place, left from before the keys moved
// to the store, is adopted as the first stored key of its algorithm, so
// tokens it signed stay valid.
func (h *Handler) keySlots(repl *caddy.Replacer, storageDir string) ([]keyring.Slot, map[string]*jose.Key, error) {
	cfgs := h.SigningKeys
	if len(cfgs) == 0 {
		cfgs = []SigningKeyConfig{{Algorithm: defaultSigningAlgorithm}}
	}
	slots := make([]keyring.Slot, 0, len(cfgs))
	adopt := map[string]*jose.Key{}
	for i, kc := range cfgs {
		alg := kc.algorithm()
		if path := repl.ReplaceKnown(kc.File, ""); path != "" {
			key, generated, err := jose.LoadOrGenerate(path, alg)
			if err != nil {
				return nil, nil, fmt.Errorf("signing key %d (%s): %w", i+1, alg, err)
			}
			if generated {
				h.logger.Info("generated a new signing key",
					zap.String("file", path), zap.String("algorithm", alg), zap.String("kid", key.KID))
			}
			slots = append(slots, keyring.Slot{Alg: alg, Static: key})
			continue
		}
		slots = append(slots, keyring.Slot{Alg: alg})
		legacy := defaultKeyFile(storageDir, alg)
		data, err := os.ReadFile(legacy)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("signing key %d (%s): %w", i+1, alg, err)
		}
		key, err := jose.ParsePrivateKeyPEM(data, alg)
		clear(data)
		if err != nil {
			return nil, nil, fmt.Errorf("signing key %d (%s): %s: %w", i+1, alg, legacy, err)
		}
		adopt[alg] = key
	}
	return slots, adopt, nil
}

func defaultKeyFile(storageDir, alg string) string {
	return filepath.Join(storageDir, "keys", "signing-"+alg+".pem")
}

// sharedSecretKey is the secret key from secret_key_file when one is
// configured, otherwise from the store (adopting the default file's key if
// one is left from before, so registered clients' secrets still open).
func (h *Handler) sharedSecretKey(ctx context.Context, repl *caddy.Replacer, storageDir string, store provider.Store, sealer *keyring.Sealer) ([]byte, error) {
	if h.SecretKeyFile != "" {
		return h.loadSecretKey(repl, storageDir)
	}
	var adopt []byte
	legacy := filepath.Join(storageDir, "keys", "secret.key")
	if key, err := readSecretKey(legacy); err == nil {
		adopt = key
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	key, created, err := keyring.SharedSecret(ctx, store, sealer, keyring.SecretKeyName, secretKeyLen, adopt)
	clear(adopt)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	if created {
		if adopt != nil {
			h.logger.Info("stored the secret key of " + legacy + " in the database, sealed; every instance now uses it and the file is no longer read")
		} else {
			h.logger.Info("generated a new secret key into the database, sealed")
		}
	}
	return key, nil
}

// keyNotices logs the key ring's changes. It outlives no configuration
// that matters: the key ring is closed with the handler.
func keyNotices(logger *zap.Logger) func(keyring.Notice) {
	return func(n keyring.Notice) {
		fields := []zap.Field{zap.String("algorithm", n.Alg), zap.String("kid", n.KID)}
		switch n.Event {
		case keyring.NoticeCreated:
			logger.Info("generated a new signing key into the database", append(fields, zap.Time("signs_from", n.At))...)
		case keyring.NoticeAdopted:
			logger.Info("stored the signing key file of this instance in the database, sealed; every instance now uses it and the file is no longer read", fields...)
		case keyring.NoticeSigning:
			logger.Info("signing with a new key", fields...)
		case keyring.NoticeRetired:
			logger.Info("retired a signing key: every token it signed has expired", zap.String("kid", n.KID))
		case keyring.NoticeReloadFailed:
			logger.Warn("could not re-read the signing keys from the database; signing goes on with the keys in memory", zap.Error(n.Err))
		}
	}
}

// unmarshalSharedKeys reads the subdirectives of keys kept in the store:
//
//	key_encryption_secret <secret>       # use a placeholder: {env.NAME}
//	key_rotation {
//		rotate_every   <duration>|off
//		publish_before <duration>
//	}
func (h *Handler) unmarshalSharedKeys(d *caddyfile.Dispenser, sub string) error {
	switch sub {
	case "key_encryption_secret":
		if h.KeyEncryptionSecret != "" {
			return d.Err("key_encryption_secret already specified")
		}
		if err := oneArg(d, &h.KeyEncryptionSecret); err != nil {
			return err
		}
		if h.KeyEncryptionSecret == "" {
			return d.Err("key_encryption_secret: empty; use a placeholder such as {env.OIDC_KEY_ENCRYPTION_SECRET}")
		}
	case "key_rotation":
		if h.KeyRotation != nil {
			return d.Err("key_rotation already specified")
		}
		if d.NextArg() {
			return d.ArgErr()
		}
		r := new(KeyRotationConfig)
		for nesting := d.Nesting(); d.NextBlock(nesting); {
			switch opt := d.Val(); opt {
			case "rotate_every":
				if r.RotateEvery != 0 || r.Disabled {
					return d.Err("rotate_every already specified")
				}
				args := d.RemainingArgs()
				if len(args) != 1 {
					return d.ArgErr()
				}
				if args[0] == "off" {
					r.Disabled = true
					continue
				}
				dur, err := caddy.ParseDuration(args[0])
				if err != nil || dur <= 0 {
					return d.Errf("key_rotation rotate_every: want a positive duration (e.g. 30d) or off, got %q", args[0])
				}
				r.RotateEvery = caddy.Duration(dur)
			case "publish_before":
				if r.PublishBefore != 0 {
					return d.Err("publish_before already specified")
				}
				dur, err := durationArg(d, "key_rotation publish_before", false)
				if err != nil {
					return err
				}
				if time.Duration(dur) < minPublishBefore {
					return d.Errf("key_rotation publish_before: at least %s, the JWKS cache lifetime", minPublishBefore)
				}
				r.PublishBefore = dur
			default:
				return d.Errf("unrecognized key_rotation option %q (expected rotate_every or publish_before)", opt)
			}
		}
		if !r.Disabled && r.RotateEvery != 0 && r.PublishBefore >= r.RotateEvery {
			return d.Err("key_rotation: publish_before must be shorter than rotate_every")
		}
		h.KeyRotation = r
	}
	return nil
}

// closeKeys stops the key ring's background work, before the store closes.
func (h *Handler) closeKeys() {
	if h.keyring != nil {
		h.keyring.Close()
		h.keyring = nil
	}
}
