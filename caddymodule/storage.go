package caddymodule

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/oidcaddy/oidcaddy/store/badgerstore"
	"github.com/oidcaddy/oidcaddy/telemetry"
)

// stores shares open databases between configurations. On a reload Caddy
// provisions the new configuration before it cleans up the old one, and
// Badger refuses to open a directory that is already open, so the new
// configuration must reuse the old one's handle. Keyed by the cleaned
// absolute directory.
var stores = caddy.NewUsagePool()

// pooledStore makes the store a caddy.Destructor: the pool closes it when
// the last configuration using it is cleaned up.
type pooledStore struct {
	*badgerstore.Store
	dir string
}

func (p pooledStore) Destruct() error {
	defer telemetry.ForgetStore(p.dir)
	return closeWithin(p.Close, storeCloseTimeout)
}

// storeCloseTimeout bounds how long stopping Caddy waits for Badger. Badger
// retries a failing memtable flush (a full or broken disk) forever, which
// would make `caddy stop` hang; after the timeout Caddy goes on and the error
// says what happened. Writes not yet flushed are still in Badger's log.
const storeCloseTimeout = 30 * time.Second

// closeWithin runs closeFn, giving up waiting after d (closeFn keeps running).
func closeWithin(closeFn func() error, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- closeFn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		caddy.Log().Named("oidc_provider").Error("the OIDC provider database did not close in time; continuing shutdown (unflushed writes remain in its log)",
			zap.Duration("waited", d))
		return fmt.Errorf("storage: database did not close within %s", d)
	}
}

// acquireStore returns the shared store for dir, opening it on first use.
// On success the caller holds one reference and must call releaseStore.
func acquireStore(dir string) (*badgerstore.Store, error) {
	v, _, err := stores.LoadOrNew(dir, func() (caddy.Destructor, error) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("storage: creating %s: %w", dir, err)
		}
		// The store runs Badger's value-log GC on its own ticker (default
		// period) until it is closed, so GC runs once per directory however
		// many configurations share the store. Badger's messages go to
		// Caddy's default logger, not to this config's, which a reload may
		// close while the store lives on.
		s, err := badgerstore.Open(badgerstore.Options{
			Dir:            dir,
			Logger:         badgerLogger{caddy.Log().Named("oidc_provider.badger").Sugar()},
			OnHealthChange: reportStoreHealth(dir),
		})
		if err != nil {
			return nil, explainOpenError(dir, err)
		}
		return pooledStore{Store: s, dir: dir}, nil
	})
	if err != nil {
		// A failed constructor leaves no entry in the pool, so there is no
		// reference to release.
		return nil, err
	}
	return v.(pooledStore).Store, nil
}

// reportStoreHealth makes a store's health visible: the
// oidc_provider_store_healthy gauge, and one log line per change (not per
// refused request). Like Badger's messages it goes to Caddy's default
// logger, which outlives any one configuration.
func reportStoreHealth(dir string) func(healthy bool, cause error) {
	return func(healthy bool, cause error) {
		telemetry.SetStoreHealthy(dir, healthy)
		log := caddy.Log().Named("oidc_provider")
		if healthy {
			log.Info("OIDC provider database takes writes again", zap.String("storage", dir))
			return
		}
		log.Error("OIDC provider database refuses writes until the disk takes them again; writing requests get 503 temporarily_unavailable, reads go on",
			zap.String("storage", dir), zap.Error(cause))
	}
}

// releaseStore drops one reference; the last one closes the database.
func releaseStore(dir string, logger *zap.Logger) error {
	closed, err := stores.Delete(dir)
	if closed && logger != nil {
		logger.Debug("closed OIDC provider database", zap.String("storage", dir))
	}
	if err != nil {
		return fmt.Errorf("storage: closing %s: %w", dir, err)
	}
	return nil
}

// explainOpenError turns Badger's lock failure into advice. Within this
// process the pool prevents a second open, so a lock held means another
// process, and the most common one is `caddy validate` (which provisions
// modules) or a second `caddy run` next to a running server.
func explainOpenError(dir string, err error) error {
	if strings.Contains(err.Error(), "Another process is using this Badger database") {
		return fmt.Errorf("storage: the database in %s is locked by another process, "+
			"usually a running Caddy: apply changes to it with `caddy reload` instead of starting another instance, "+
			"and note that `caddy validate` cannot check this configuration while that server runs: %w", dir, err)
	}
	return fmt.Errorf("storage: opening %s: %w", dir, err)
}

var unsafeDirChars = regexp.MustCompile(`[^a-z0-9._-]+`)

// issuerDirName maps an issuer's host and path to one safe path element,
// e.g. https://Auth.example.com:8443/realm → auth.example.com_8443_realm.
func issuerDirName(u *url.URL) string {
	name := strings.ToLower(u.Host + u.Path)
	name = strings.Trim(unsafeDirChars.ReplaceAllString(name, "_"), "_.")
	if name == "" {
		return "default"
	}
	return name
}

// badgerLogger routes Badger's messages into Caddy's log. Badger reports
// routine housekeeping at info level; that is debug detail for a Caddy
// operator.
type badgerLogger struct{ l *zap.SugaredLogger }

func (b badgerLogger) Errorf(f string, a ...any)   { b.l.Errorf(strings.TrimSpace(f), a...) }
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warnf(strings.TrimSpace(f), a...) }
func (b badgerLogger) Infof(f string, a ...any)    { b.debugf(f, a...) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.debugf(f, a...) }

func (b badgerLogger) debugf(f string, a ...any) {
	// Badger logs at a high rate during compaction; skip the formatting
	// when debug logging is off.
	if b.l.Desugar().Core().Enabled(zapcore.DebugLevel) {
		b.l.Debugf(strings.TrimSpace(f), a...)
	}
}
