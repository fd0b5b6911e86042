package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/store/postgres"
	"github.com/oidcaddy/oidcaddy/telemetry"
)

func init() {
	caddy.RegisterModule(BadgerStorage{})
	caddy.RegisterModule(PostgresStorage{})
}

// StorageBackend is implemented by the modules of the oidc_provider.storage
// namespace, which the handler's `storage` field names by its "backend" key.
type StorageBackend interface {
	// OpenStore returns the store for the provider of issuer, shared with
	// any other configuration (a reload, another site) that names the same
	// database. The handler calls the returned Release from its Cleanup,
	// after its requests have drained; a storage module therefore keeps no
	// resource of its own (Caddy cleans up loaded modules in no set order).
	OpenStore(repl *caddy.Replacer, issuer *url.URL) (OpenedStore, error)
}

// OpenedStore is a store acquired by a StorageBackend.
type OpenedStore struct {
	Store provider.Store
	// Release drops this configuration's reference to the store.
	Release func() error
	// KeyDir is where key files that are not configured explicitly live
	// (`<KeyDir>/keys/...`).
	KeyDir string
	// Describe names the storage in logs: a directory, or a database's
	// host and name. Never a password.
	Describe string
}

// loadStorage loads the storage module. No `storage` means Badger in the
// default directory; a `storage` object without "backend" is the JSON of
// older versions ({"dir": ...}) and means Badger too.
func (h *Handler) loadStorage(ctx caddy.Context) (StorageBackend, error) {
	if len(h.StorageRaw) == 0 {
		return &BadgerStorage{}, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(h.StorageRaw, &fields); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if _, ok := fields["backend"]; !ok {
		fields["backend"] = json.RawMessage(`"badger"`)
		raw, err := json.Marshal(fields)
		if err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		h.StorageRaw = raw
	}
	mod, err := ctx.LoadModule(h, "StorageRaw")
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	backend, ok := mod.(StorageBackend)
	if !ok {
		return nil, fmt.Errorf("storage: module %T is not a storage backend", mod)
	}
	return backend, nil
}

// BadgerStorage keeps the provider's state in an embedded Badger database
// in one directory: no service to run, for a single Caddy instance.
// Module ID: oidc_provider.storage.badger.
type BadgerStorage struct {
	// Directory of the database. Relative paths are relative to Caddy's
	// working directory. Configurations (and reloads) naming the same
	// directory share one open database. Default:
	// `<Caddy data dir>/oidc_provider/<issuer host and path>`.
	// Placeholders are resolved.
	Dir string `json:"dir,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (BadgerStorage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oidc_provider.storage.badger",
		New: func() caddy.Module { return new(BadgerStorage) },
	}
}

// OpenStore implements StorageBackend.
func (b *BadgerStorage) OpenStore(repl *caddy.Replacer, issuer *url.URL) (OpenedStore, error) {
	dir, err := storageDir(repl, b.Dir, issuer)
	if err != nil {
		return OpenedStore{}, err
	}
	store, err := acquireStore(dir)
	if err != nil {
		return OpenedStore{}, err
	}
	return OpenedStore{
		Store:    store,
		Release:  func() error { return releaseStore(dir, caddy.Log().Named("oidc_provider")) },
		KeyDir:   dir,
		Describe: dir,
	}, nil
}

// PostgresStorage keeps the provider's state in a PostgreSQL database, which
// any number of Caddy instances serving the same issuer can share.
// Module ID: oidc_provider.storage.postgres.
type PostgresStorage struct {
	// The connection string: `postgres://user:password@host:port/db?sslmode=verify-full`
	// or libpq key=value pairs. Placeholders are resolved, so keep the
	// password out of the config with `{env.OIDC_DATABASE_URL}`. Required.
	DSN string `json:"dsn,omitempty"`
	// Size of the connection pool. Default: the larger of 4 and the number
	// of CPUs.
	MaxConns int `json:"max_conns,omitempty"`
	// Use the simple query protocol and no server-side prepared statements,
	// as PgBouncer in transaction pooling mode requires.
	SimpleProtocol bool `json:"simple_protocol,omitempty"`
	// How long one storage operation (including getting a connection) may
	// take before the request is answered 503 temporarily_unavailable.
	// Default 5s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// How often expired rows are deleted (on one instance at a time).
	// Default 1m.
	ReapInterval caddy.Duration `json:"reap_interval,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (PostgresStorage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oidc_provider.storage.postgres",
		New: func() caddy.Module { return new(PostgresStorage) },
	}
}

// pgStores shares pools between configurations the way stores shares Badger
// handles: a reload provisions the new configuration before the old one is
// cleaned up, and reusing the pool saves reconnecting everything. Keyed by
// the resolved DSN and the pool options.
var pgStores = caddy.NewUsagePool()

type pooledPostgres struct {
	*postgres.Store
	issuer string // the database's issuer (postgres.Options.Issuer)
}

func (p pooledPostgres) Destruct() error {
	defer telemetry.ForgetStore(p.String())
	return p.Close()
}

// reportPostgresHealth makes an outage visible like a Badger disk fault: the
// oidc_provider_store_healthy gauge and one log line per change. name is
// the database's host, port and name (no credentials); it is set once the
// store is open, so the callback reads it through a pointer.
func reportPostgresHealth(name *atomic.Pointer[string]) func(healthy bool, cause error) {
	return func(healthy bool, cause error) {
		n := name.Load()
		if n == nil {
			return
		}
		telemetry.SetStoreHealthy(*n, healthy)
		log := caddy.Log().Named("oidc_provider")
		if healthy {
			log.Info("OIDC provider database answers again", zap.String("storage", *n))
			return
		}
		log.Error("OIDC provider database unavailable; requests that need it get 503 temporarily_unavailable until it answers again",
			zap.String("storage", *n), zap.Error(cause))
	}
}

// OpenStore implements StorageBackend.
func (p *PostgresStorage) OpenStore(repl *caddy.Replacer, issuer *url.URL) (OpenedStore, error) {
	dsn := repl.ReplaceKnown(p.DSN, "")
	if dsn == "" {
		return OpenedStore{}, errors.New("storage postgres: dsn is required (empty after resolving placeholders: is the environment variable set?)")
	}
	if p.MaxConns < 0 || p.Timeout < 0 || p.ReapInterval < 0 {
		return OpenedStore{}, errors.New("storage postgres: max_conns, timeout and reap_interval must not be negative")
	}
	var name atomic.Pointer[string]
	opts := postgres.Options{
		DSN:            dsn,
		MaxConns:       int32(min(p.MaxConns, 1<<20)),
		SimpleProtocol: p.SimpleProtocol,
		OpTimeout:      time.Duration(p.Timeout),
		ReapInterval:   time.Duration(p.ReapInterval),
		Issuer:         issuer.String(),
		OnHealthChange: reportPostgresHealth(&name),
		OnReapError: func(err error) {
			caddy.Log().Named("oidc_provider").Warn("deleting expired records failed; will retry", zap.Error(err))
		},
	}
	key := "postgres\x00" + dsn + "\x00" + strconv.Itoa(p.MaxConns) + "\x00" + strconv.FormatBool(p.SimpleProtocol) +
		"\x00" + opts.OpTimeout.String() + "\x00" + opts.ReapInterval.String()
	v, _, err := pgStores.LoadOrNew(key, func() (caddy.Destructor, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		s, err := postgres.Open(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("storage postgres: %w", err)
		}
		n := s.String()
		name.Store(&n)
		return pooledPostgres{Store: s, issuer: opts.Issuer}, nil
	})
	if err != nil {
		return OpenedStore{}, err
	}
	pooled := v.(pooledPostgres)
	if pooled.issuer != opts.Issuer {
		_, _ = pgStores.Delete(key)
		return OpenedStore{}, fmt.Errorf("storage postgres: %w: it serves issuer %s, not %s; give each issuer its own database or schema (search_path)",
			postgres.ErrOtherIssuer, pooled.issuer, opts.Issuer)
	}
	store := pooled.Store
	// Keys not configured explicitly stay per instance, in the default
	// directory Badger would use.
	keyDir, err := storageDir(repl, "", issuer)
	if err != nil {
		_, _ = pgStores.Delete(key)
		return OpenedStore{}, err
	}
	return OpenedStore{
		Store: store,
		Release: func() error {
			if _, err := pgStores.Delete(key); err != nil {
				return fmt.Errorf("storage postgres: closing: %w", err)
			}
			return nil
		},
		KeyDir:   keyDir,
		Describe: store.String(),
	}, nil
}

// warnLiteralPassword warns, like warnLiteralSecrets, when the DSN is
// written with its password in the config rather than as a placeholder.
func (p *PostgresStorage) warnLiteralPassword(logger *zap.Logger) {
	if placeholderPattern.MatchString(p.DSN) {
		return
	}
	hasPassword := strings.Contains(p.DSN, "password=")
	if u, err := url.Parse(p.DSN); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			hasPassword = true
		}
	}
	if hasPassword {
		logger.Warn("secret written literally in the config: Caddy's admin API and debug log show it; use a placeholder such as {env.NAME}",
			zap.String("secret", "storage postgres dsn password"))
	}
}

// storageDir is dir with placeholders resolved, or a default derived from
// the issuer so that several providers in one Caddy keep apart.
func storageDir(repl *caddy.Replacer, dir string, issuer *url.URL) (string, error) {
	dir = repl.ReplaceKnown(dir, "")
	if dir == "" {
		dir = filepath.Join(caddy.AppDataDir(), "oidc_provider", issuerDirName(issuer))
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("storage: %w", err)
	}
	return filepath.Clean(abs), nil
}

// Interface guards
var (
	_ StorageBackend = (*BadgerStorage)(nil)
	_ StorageBackend = (*PostgresStorage)(nil)
)
