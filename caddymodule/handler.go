package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/oidcaddy/oidcaddy/internal/jose"
	"github.com/oidcaddy/oidcaddy/internal/keyring"
	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/telemetry"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler is an OpenID Connect provider (an OAuth 2.0 authorization server
// with OIDC Core, Discovery and PKCE) served from the site it is configured
// in. It answers the provider's own endpoints below the path of the issuer
// URL (discovery, JWKS, authorization, token, userinfo and the login and
// consent pages) and passes every other request to the next handler, so
// `reverse_proxy` or `file_server` in the same site keep working.
//
// State (sessions, codes, tokens, consents) is kept in an embedded Badger
// database, or in PostgreSQL shared by several instances. Clients and users
// are defined in the configuration.
type Handler struct {
	// The issuer identifier: the https URL (http only for development) that
	// relying parties are configured with, without a trailing slash, query or
	// fragment. Its path, if any, is where the endpoints are mounted, e.g.
	// `https://example.com/auth` serves `/auth/.well-known/openid-configuration`.
	// Placeholders such as `{env.OIDC_ISSUER}` are resolved. Required.
	Issuer string `json:"issuer,omitempty"`

	// Where the provider keeps its state: a module of the
	// `oidc_provider.storage` namespace, named by "backend": `badger`
	// (embedded, one instance; the default) or `postgres` (shared by several
	// instances). An object without "backend" ({"dir": ...}, the form of
	// earlier versions) is taken as badger.
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=oidc_provider.storage inline_key=backend"`

	// Keys that sign ID tokens. The first key is the active one; all keys
	// are published in the JWKS so tokens signed by a retired key still
	// verify until it is removed. If none is configured, one RS256 key is
	// generated on first start and kept in `<storage dir>/keys/signing-RS256.pem`.
	SigningKeys []SigningKeyConfig `json:"signing_keys,omitempty"`

	// How long codes, tokens, sessions, pending logins and consents live.
	// Unset values take the provider's defaults.
	Lifetimes *LifetimesConfig `json:"lifetimes,omitempty"`

	// The OAuth clients (relying parties) allowed to use the provider.
	Clients []ClientConfig `json:"clients,omitempty"`

	// APIs that accept the provider's access tokens (RFC 8707 resource
	// indicators). A token requested for one has it as audience, only the
	// scopes it understands, and its token format.
	Resources []ResourceConfig `json:"resources,omitempty"`

	// Dynamic client registration (RFC 7591, RFC 7592). Closed when unset.
	Registration *RegistrationConfig `json:"registration,omitempty"`

	// Accept authorization requests from every client only through the
	// pushed authorization request endpoint (RFC 9126 §5). Clients can
	// also require it one by one.
	RequirePushedAuthorizationRequests bool `json:"require_pushed_authorization_requests,omitempty"`

	// End-users who can log in.
	Users []UserConfig `json:"users,omitempty"`

	// Path to a JSON file holding an array of users in the same form as
	// `users`; they are added to those. Read when the config is loaded.
	// Placeholders are resolved.
	UsersFile string `json:"users_file,omitempty"`

	// Attributes of the provider's cookies.
	Cookies *CookieConfig `json:"cookies,omitempty"`

	// Limits on password guessing at the login page. Unset values take the
	// defaults.
	LoginThrottle *LoginThrottleConfig `json:"login_throttle,omitempty"`

	// Limits on the records unauthenticated callers can leave pending:
	// started logins, public clients' pushed authorization requests and
	// device codes. Unset values take the defaults.
	PendingLimits *PendingLimitsConfig `json:"pending_limits,omitempty"`

	// The largest request body, in bytes, the provider reads from a form
	// or JSON request (token, registration, PAR, login ...). Default 65536;
	// at least 1024.
	MaxBodySize int64 `json:"max_body_size,omitempty"`

	// How long the provider waits for one form or JSON request body to
	// arrive, from the start of reading it; a body not complete in time is
	// answered 408, so a client trickling its body cannot hold a connection
	// for minutes. Default 10s. Caddy's own `timeouts { read_body }` (server
	// option) bounds every other handler too.
	BodyReadTimeout caddy.Duration `json:"body_read_timeout,omitempty"`

	// A file holding the 32-byte key that encrypts the secrets of
	// dynamically registered client_secret_jwt clients (whose HMAC needs
	// the secret itself; other secrets are stored only as hashes). The file
	// holds the 32 bytes raw, or encoded in hex or base64. If it does not
	// exist, a random key is generated and written to it (mode 0600).
	// Losing or replacing it breaks those clients. Default:
	// `<storage dir>/keys/secret.key`. Placeholders are resolved.
	SecretKeyFile string `json:"secret_key_file,omitempty"`

	// A secret of at least 32 random bytes, e.g. `{env.OIDC_KEY_ENCRYPTION_SECRET}`,
	// under which the signing keys and the secret key are kept in the
	// provider's database (sealed with AES-256-GCM), so that every instance
	// on a shared database uses the same keys. Generated signing keys then
	// rotate (see key_rotation); keys with a file are read from it as
	// before. Every instance needs the same secret; changing it makes the
	// stored keys unreadable. Unset: keys are files under the storage dir.
	KeyEncryptionSecret string `json:"key_encryption_secret,omitempty"`

	// When generated signing keys rotate; only with key_encryption_secret.
	KeyRotation *KeyRotationConfig `json:"key_rotation,omitempty"`

	// A directory whose login.html, otp.html, consent.html, error.html,
	// device.html, logout.html, form_post.html and oidcaddy.css replace the built-in
	// page templates, and whose messages/<lang>.json add or reword a
	// language of the pages. Placeholders are resolved.
	TemplatesDir string `json:"templates_dir,omitempty"`

	// The service's name, logo and colour on the pages.
	Branding *BrandingConfig `json:"branding,omitempty"`

	// Where provider events are exported as OpenTelemetry log records:
	// "otlp", "console" or "none". Empty means as the standard
	// OTEL_LOGS_EXPORTER environment variable says (off when unset).
	// Events are always counted in the `oidc_provider_events_total` metric.
	LogExporter string `json:"log_exporter,omitempty"`

	// With Caddy's tracing on, record each provider event as a span event on
	// the request span rather than as a child span of its own: one span
	// per request, for operators who pay per span. Default: a span per
	// event.
	SpanEvents bool `json:"span_events,omitempty"`

	// keyring serves the keys kept in the store; nil when they are files.
	keyring *keyring.Keyring

	logger *zap.Logger
	// prov is set by Provision and never cleared: Caddy may still call
	// ServeHTTP after Cleanup (see requestGate).
	prov     *provider.Provider
	requests *requestGate
	prefix   string         // the issuer URL's path, where the endpoints are mounted
	store    provider.Store // the (possibly shared) store Provision acquired
	// releaseStore drops the reference to the store taken in Provision;
	// nil when none is held.
	releaseStore func() error
	releaseLogs  func(context.Context) error
	releaseSpans func(context.Context) error
	live         *liveProvider // registered for the admin API; nil when not
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.oidc_provider",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision resolves the configuration, opens (or shares) the database and
// builds the provider. Every resource acquired here is released by Cleanup,
// which Caddy also calls when Provision fails halfway.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	repl := caddy.NewReplacer()

	// Every configuration mistake, the provider's rules and the module's,
	// is found here at once, before the database is touched.
	cfg, problems := h.problems(repl, true)
	if err := h.describe(problems); err != nil {
		return err
	}
	issuer, issuerURL, err := resolveIssuer(repl, h.Issuer)
	if err != nil {
		return err
	}
	users, err := h.collectUsers(repl)
	if err != nil {
		return err
	}
	accounts, err := provider.NewStaticAccounts(users...)
	if err != nil {
		return err
	}
	h.warnWeakSettings(ctx, accounts)
	warnLiteralSecrets(h.logger, h)

	backend, err := h.loadStorage(ctx)
	if err != nil {
		return err
	}
	if pg, ok := backend.(*PostgresStorage); ok {
		pg.warnLiteralPassword(h.logger)
	}
	opened, err := backend.OpenStore(repl, issuerURL)
	if err != nil {
		return err
	}
	h.releaseStore, h.store = opened.Release, opened.Store
	store, dir := opened.Store, opened.KeyDir

	signer, secretKey, err := h.loadKeys(repl, dir, store)
	if err != nil {
		return err
	}

	if err := telemetry.RegisterMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	lp, release, err := telemetry.AcquireLoggerProvider(ctx, h.LogExporter)
	if err != nil {
		return fmt.Errorf("log_exporter: %w", err)
	}
	h.releaseLogs = release
	// The module's spans leave by a pipeline of their own that counts its
	// drops. It exports nothing unless Caddy's tracing makes sampled
	// request spans; if the environment names an exporter that cannot be
	// built, the spans go out with Caddy's (which would fail the same way
	// if tracing is on).
	tp, releaseSpans, err := telemetry.AcquireTracerProvider(ctx, caddyhttp.ServerHeader, caddySimpleVersion())
	if err != nil {
		h.logger.Warn("OpenTelemetry span exporter unavailable; provider spans are exported with Caddy's request spans, and their drops are not counted", zap.Error(err))
	}
	h.releaseSpans = releaseSpans

	cfg.Store = store
	cfg.Accounts = accounts
	cfg.Signer = signer
	sink := telemetry.NewSink(telemetry.Options{LoggerProvider: lp, SpanEvents: h.SpanEvents, TracerProvider: tp})
	cfg.Events = provider.MultiSink{
		sink,
		newZapSink(h.logger),
	}
	cfg.TemplatesDir = repl.ReplaceKnown(h.TemplatesDir, "")
	cfg.ClientIP = clientIP
	// One per handler: it caches parsed client key sets, which a reload
	// then starts afresh.
	cfg.Assertions = &jose.Assertions{}
	cfg.SecretKey = secretKey
	h.prov, err = provider.New(cfg)
	if verrs := (provider.ValidationErrors)(nil); errors.As(err, &verrs) {
		return h.describe(verrs)
	} else if err != nil {
		return err
	}
	h.requests = newRequestGate()
	h.prefix = issuerURL.Path
	h.live = providers.add(issuer, h.prov, cfg.Registration.Policy, sink)
	if err := recordIssuer(ctx, issuer, true); err != nil {
		return err
	}
	h.logger.Info("OpenID Connect provider ready",
		zap.String("issuer", issuer),
		zap.String("storage", opened.Describe),
		zap.Int("clients", len(cfg.ConfiguredClients)),
		zap.Int("users", len(users)),
		zap.String("registration", cfg.Registration.Policy))
	return nil
}

// Validate checks the configuration's consistency. Provision has already
// rejected most mistakes, before opening anything; this is the last word
// for a config assembled in JSON by hand or by a tool.
func (h *Handler) Validate() error {
	return h.checkStatic()
}

// Cleanup releases what Provision acquired. It runs for every provisioned
// instance, including one whose Provision failed, and after the replacing
// configuration has started on a reload.
func (h *Handler) Cleanup() error {
	var errs []error
	if h.live != nil {
		// First, so that the admin API stops handing out this provider
		// (and waits for a request using it) before its store may close.
		providers.remove(h.live)
		h.live = nil
	}
	if h.requests != nil && !h.requests.close(drainTimeout) {
		h.logger.Warn("requests to the old configuration still running after the drain timeout; the database may close under them (they get 503)",
			zap.Duration("waited", drainTimeout))
	}
	// Before the store is released: the key ring re-reads it.
	h.closeKeys()
	if h.releaseLogs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, h.releaseLogs(ctx))
		cancel()
		h.releaseLogs = nil
	}
	if h.releaseSpans != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, h.releaseSpans(ctx))
		cancel()
		h.releaseSpans = nil
	}
	if h.releaseStore != nil {
		errs = append(errs, h.releaseStore())
		h.releaseStore = nil
	}
	return errors.Join(errs...)
}

// ServeHTTP serves the provider's endpoints and passes everything else on.
// A request to a handler that Cleanup has retired gets a clean 503.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if h.prov == nil || !h.prov.Handles(r.URL.Path) {
		return next.ServeHTTP(w, r)
	}
	if !h.requests.enter() {
		refuseRetired(w)
		return nil
	}
	defer h.requests.leave()
	endpoint := telemetry.EndpointOf(strings.TrimPrefix(r.URL.Path, h.prefix))
	start := time.Now()
	h.prov.ServeHTTP(w, r)
	telemetry.ObserveRequest(endpoint, time.Since(start))
	return nil
}

// clientIP is the end-user's address as Caddy determined it, honouring its
// trusted_proxies setting, so the provider's login throttle keys on the real
// client and never on a proxy's address or on a spoofable header.
func clientIP(r *http.Request) string {
	if ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ip != "" {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// resolveIssuer resolves placeholders in the issuer, which the provider has
// checked (Config.Validate), and parses it for its path.
func resolveIssuer(repl *caddy.Replacer, raw string) (string, *url.URL, error) {
	issuer, err := repl.ReplaceOrErr(raw, true, true)
	if err != nil {
		return "", nil, fmt.Errorf("issuer: %w", err)
	}
	u, err := url.Parse(issuer)
	if err != nil {
		return "", nil, fmt.Errorf("issuer: %w", err)
	}
	return issuer, u, nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)

// caddySimpleVersion is the version Caddy's tracing puts on its resource.
func caddySimpleVersion() string {
	v, _ := caddy.Version()
	return v
}
