package provider

import (
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Lifetimes of the provider's records and tokens. Zero values take defaults;
// negative ones are refused by Config.Validate (but see
// RefreshTokenReuseGrace).
type Lifetimes struct {
	// AuthorizationCode: RFC 6749 §4.1.2 recommends at most 10 minutes. Default 1m.
	AuthorizationCode time.Duration
	// AccessToken default 1h.
	AccessToken time.Duration
	// IDToken default 1h.
	IDToken time.Duration
	// Session is how long a login stays valid without re-authentication. Default 14 days.
	Session time.Duration
	// Interaction is how long a login/consent page stays usable. Default 10m.
	Interaction time.Duration
	// Grant is how long a consent is remembered. Default 14 days.
	Grant time.Duration
	// RefreshToken is the idle (sliding) lifetime: a refresh token unused
	// for this long expires. Default 14 days.
	RefreshToken time.Duration
	// RefreshTokenAbsolute caps a chain of rotated refresh tokens, counted
	// from the authentication that started it. Default 30 days.
	RefreshTokenAbsolute time.Duration
	// PushedAuthorizationRequest is how long a request_uri from the PAR
	// endpoint stays usable (RFC 9126 §2.2 suggests 5 to 600 s). Default 60s.
	PushedAuthorizationRequest time.Duration
	// DeviceCode is how long a device code and its user code stay usable
	// (RFC 8628 §3.2 expires_in). Default 10m.
	DeviceCode time.Duration
	// RefreshTokenReuseGrace: a rotated refresh token presented again by its
	// client within this time is refused without revoking the grant, so a
	// client racing itself (two tabs refreshing at once) keeps its session.
	// Later reuse revokes the grant (RFC 9700 §4.14.2). Default 2s; negative
	// means no grace.
	RefreshTokenReuseGrace time.Duration
}

func (l *Lifetimes) applyDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&l.AuthorizationCode, time.Minute)
	def(&l.AccessToken, time.Hour)
	def(&l.IDToken, time.Hour)
	def(&l.Session, 14*24*time.Hour)
	def(&l.Interaction, 10*time.Minute)
	def(&l.Grant, 14*24*time.Hour)
	def(&l.RefreshToken, 14*24*time.Hour)
	def(&l.RefreshTokenAbsolute, 30*24*time.Hour)
	def(&l.PushedAuthorizationRequest, time.Minute)
	def(&l.DeviceCode, 10*time.Minute)
	switch {
	case l.RefreshTokenReuseGrace == 0:
		l.RefreshTokenReuseGrace = 2 * time.Second
	case l.RefreshTokenReuseGrace < 0:
		l.RefreshTokenReuseGrace = 0
	}
}

// CookieConfig controls the provider's cookies.
type CookieConfig struct {
	// NamePrefix prefixes every cookie name. Default "oidcaddy".
	NamePrefix string
	// Secure forces the Secure attribute; nil means "when the issuer is https".
	Secure *bool
	// Domain for the session cookie; empty means host-only (recommended).
	Domain string
}

// LoginThrottle bounds password guessing. After FreeAttempts failures within
// Window for one account (or one source address), further attempts are refused
// for a back-off that doubles with each failure, up to MaxDelay. Attempts
// whose password is still being checked count against FreeAttempts.
type LoginThrottle struct {
	FreeAttempts int           // default 5
	Window       time.Duration // default 15m
	BaseDelay    time.Duration // default 1s
	MaxDelay     time.Duration // default 15m
}

func (t *LoginThrottle) applyDefaults() {
	if t.FreeAttempts <= 0 {
		t.FreeAttempts = 5
	}
	if t.Window <= 0 {
		t.Window = 15 * time.Minute
	}
	if t.BaseDelay <= 0 {
		t.BaseDelay = time.Second
	}
	if t.MaxDelay <= 0 {
		t.MaxDelay = 15 * time.Minute
	}
}

// Config configures a Provider. Issuer, Store, Clients (or
// ConfiguredClients), Accounts and Signer are required. Validate checks the
// rest.
type Config struct {
	// Issuer is the https (or, for development, http) URL identifying the
	// provider, without query or fragment (OIDC Discovery §3). Endpoints are
	// served below its path.
	Issuer  string
	Store   Store
	Clients ClientStore
	// ConfiguredClients are the clients fixed by the configuration, in
	// configured order, for a provider without a Clients store of its own:
	// Validate names their problems clients[i], New indexes them.
	ConfiguredClients []*Client
	Accounts          AccountStore
	Signer            Signer
	// Assertions verifies client-signed JWTs (private_key_jwt,
	// client_secret_jwt); optional.
	Assertions AssertionVerifier
	Events     EventSink        // optional
	Clock      func() time.Time // optional, default time.Now
	Lifetimes  Lifetimes
	Cookies    CookieConfig
	Throttle   LoginThrottle
	// MaxConcurrentPasswordChecks bounds how many password checks (hashing)
	// run at once, across all accounts and addresses, so a spray of logins
	// cannot saturate the CPU. A login that finds every slot busy for about
	// two seconds is answered 503 (temporarily_unavailable) with Retry-After,
	// without checking the password. Default (0): runtime.NumCPU().
	MaxConcurrentPasswordChecks int
	// TemplatesDir optionally overrides the built-in page templates (files
	// login.html, otp.html, consent.html, error.html, device.html,
	// logout.html, form_post.html, oidcaddy.css) and adds or rewords languages
	// (messages/<lang>.json, see pagetext.go).
	TemplatesDir string
	// Branding names the service on the pages and sets a logo and colour.
	Branding Branding
	// MaxBodyBytes caps form and JSON request bodies. Default 64 KiB.
	MaxBodyBytes int64
	// PendingLimits bounds the interactions, public clients' pushed
	// authorization requests and device codes that unauthenticated callers
	// can leave pending, per address and in all.
	PendingLimits PendingLimits
	// BodyReadTimeout bounds how long reading one form or JSON request body
	// may take, counted from the start of the read, so a client trickling
	// its body cannot hold a connection and a goroutine for minutes. A body
	// not complete in time is answered 408. Default 10s.
	BodyReadTimeout time.Duration
	// SecretKey (32 bytes) seals the secrets of dynamically registered
	// client_secret_jwt clients, whose HMAC needs the secret itself; without
	// it that method is not offered for registration. Other client secrets
	// are stored only as hashes.
	SecretKey []byte
	// Registration configures dynamic client registration; closed by default.
	Registration RegistrationConfig
	// Resources are the APIs (RFC 8707 resource indicators) clients may ask
	// tokens for; a token requested with resource=<identifier> gets that
	// audience and the resource's token format.
	Resources []Resource
	// RequirePushedAuthorizationRequests makes PAR mandatory for every client
	// (RFC 9126 §5); clients can also require it one by one.
	RequirePushedAuthorizationRequests bool
	// HTTPClient fetches clients' jwks_uri documents; default: 5 s timeout,
	// no redirects.
	HTTPClient *http.Client
	// ClientIP returns the end-user's address for the login throttle. The
	// default is the host of r.RemoteAddr; the Caddy module supplies Caddy's
	// client IP, which honours its trusted_proxies setting.
	ClientIP func(r *http.Request) string
}

// Registration policies.
const (
	RegistrationClosed             = "closed"
	RegistrationOpen               = "open"
	RegistrationInitialAccessToken = "initial_access_token"
)

// RegistrationConfig configures RFC 7591 / 7592.
type RegistrationConfig struct {
	// Policy: closed (no registration endpoint, the default), open, or
	// initial_access_token (a Bearer initial access token is required).
	Policy string
	// InitialAccessTokens accepted for registration (each may register any
	// number of clients); more can be minted at run time.
	InitialAccessTokens []string
	// RotateRegistrationAccessToken issues a new registration access token on
	// every update (RFC 7592 §2.2 allows it).
	RotateRegistrationAccessToken bool
	// AllowedScopes are the only scopes a registered client may hold (for
	// the client_credentials grant). A registration or update whose scope
	// metadata names any other is refused, and a client registered under a
	// wider list holds only what the current list still allows. Empty: a
	// registered client holds no scope and may not register one.
	AllowedScopes []string
	// AllowPrivateHosts lets registered clients' back-channel logout and
	// jwks_uri URLs reach these private hosts, which are otherwise refused
	// (at registration for IP literals and localhost, and for every name
	// when the connection is made, after DNS resolution) because anyone
	// able to register could otherwise make the provider call into its
	// own network (SSRF). Entries: a host name ("app"), reached whatever
	// it resolves to; an IP address; or a network in CIDR notation
	// ("10.0.0.0/8"). A back-channel logout URL on a listed name or address
	// may use http; jwks_uri stays https-only. Empty: public addresses only.
	AllowPrivateHosts []string
	// MaxClients bounds how many registered clients exist at once; a
	// registration past it is answered 503. Default 10000. Counted in the
	// Store, so every instance sharing it sees the same number; clients
	// registered before this bound existed are not counted.
	MaxClients int
	// RateLimit registrations per RateWindow may come from one client
	// address (an IPv6 address by its /64) under the open policy; more are
	// answered 429 with Retry-After. Defaults 100 per hour. Kept in memory
	// per process.
	RateLimit  int
	RateWindow time.Duration
	// UnusedClientTTL: a registered client that has not obtained a token
	// within this time after registering is removed, with its registration
	// access token. Default 30 days.
	UnusedClientTTL time.Duration
}

const (
	defaultMaxRegisteredClients = 10_000
	defaultRegistrationRate     = 100
	defaultRegistrationWindow   = time.Hour
	defaultUnusedClientTTL      = 30 * 24 * time.Hour
)

func (rc *RegistrationConfig) applyDefaults() {
	if rc.MaxClients <= 0 {
		rc.MaxClients = defaultMaxRegisteredClients
	}
	if rc.RateLimit <= 0 {
		rc.RateLimit = defaultRegistrationRate
	}
	if rc.RateWindow <= 0 {
		rc.RateWindow = defaultRegistrationWindow
	}
	if rc.UnusedClientTTL <= 0 {
		rc.UnusedClientTTL = defaultUnusedClientTTL
	}
}

// Endpoint paths, relative to the issuer's path.
const (
	PathDiscovery     = "/.well-known/openid-configuration"
	PathJWKS          = "/jwks"
	PathAuthorization = "/authorize"
	PathToken         = "/token"
	PathUserinfo      = "/userinfo"
	PathInteraction   = "/interaction/" // followed by the interaction uid
	PathIntrospection = "/token/introspection"
	PathRevocation    = "/token/revocation"
	PathRegistration  = "/register" // and /register/{client_id} (RFC 7592)
	PathPAR           = "/par"
	PathEndSession    = "/session/end"
	PathDeviceAuth    = "/device/auth" // RFC 8628 §3.1
	PathDevice        = "/device"      // the verification URI
)

// Access token formats.
const (
	TokenFormatOpaque = "opaque"
	TokenFormatJWT    = "jwt" // RFC 9068
)

// Resource is an API that accepts this provider's access tokens.
type Resource struct {
	// Identifier is the absolute URI clients send as the resource parameter;
	// it becomes the token's audience.
	Identifier string
	// Scopes the resource understands; empty means any scope the client may have.
	Scopes []string
	// AccessTokenFormat for tokens of this resource; empty means the client's.
	AccessTokenFormat string
}

// validate prepares the configuration for New: the operator's settings
// (Validate, with the Signer), then the components only a program can
// forget. ConfiguredClients become the ClientStore.
func (c *Config) validate() (*url.URL, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	switch {
	case c.Store == nil:
		return nil, fmt.Errorf("a store is required")
	case c.Clients == nil && c.ConfiguredClients == nil:
		return nil, fmt.Errorf("a client store is required")
	case c.Clients != nil && c.ConfiguredClients != nil:
		return nil, fmt.Errorf("set Clients or ConfiguredClients, not both")
	case c.Accounts == nil:
		return nil, fmt.Errorf("an account store is required")
	case c.Signer == nil:
		return nil, fmt.Errorf("a signer is required")
	}
	if c.Clients == nil {
		c.Clients = indexClients(c.ConfiguredClients)
	}
	return url.Parse(c.Issuer)
}

var _ http.Handler = (*Provider)(nil)
