package caddymodule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/oidcaddy/oidcaddy/internal/jose"
	"github.com/oidcaddy/oidcaddy/provider"
)

// SigningKeyConfig is one JWS signing key.
type SigningKeyConfig struct {
	// JWS algorithm: RS256 (default), PS256, ES256, ES384 or EdDSA.
	Algorithm string `json:"algorithm,omitempty"`

	// PEM file holding the private key. If the file does not exist, a key is
	// generated and written to it (mode 0600). Default:
	// `<storage dir>/keys/signing-<algorithm>.pem`. Placeholders are resolved.
	File string `json:"file,omitempty"`
}

// LifetimesConfig bounds how long records live. Durations are Caddy
// durations ("90s", "1h", "14d"); unset means the default in parentheses.
type LifetimesConfig struct {
	// Authorization codes (1m).
	AuthorizationCode caddy.Duration `json:"authorization_code,omitempty"`
	// Access tokens (1h).
	AccessToken caddy.Duration `json:"access_token,omitempty"`
	// ID tokens (1h).
	IDToken caddy.Duration `json:"id_token,omitempty"`
	// Login sessions: how long a user stays logged in (14d).
	Session caddy.Duration `json:"session,omitempty"`
	// Login and consent pages: how long a started interaction stays usable (10m).
	Interaction caddy.Duration `json:"interaction,omitempty"`
	// Consents: how long a user's approval of a client is remembered (14d).
	Grant caddy.Duration `json:"grant,omitempty"`
	// Refresh tokens, idle: a refresh token unused for this long expires
	// (14d).
	RefreshToken caddy.Duration `json:"refresh_token,omitempty"`
	// Refresh tokens, absolute: a chain of rotated refresh tokens ends this
	// long after the login that started it (30d).
	RefreshTokenAbsolute caddy.Duration `json:"refresh_token_absolute,omitempty"`
	// How long a rotated refresh token presented again by its client is
	// refused without revoking the grant, so that a client racing itself
	// (two tabs refreshing at once) keeps its session; later reuse revokes
	// the grant (2s). Set 0 for no grace at all: every reuse revokes.
	RefreshTokenReuseGrace *caddy.Duration `json:"refresh_token_reuse_grace,omitempty"`
	// Pushed authorization requests: how long a request_uri from the PAR
	// endpoint stays usable (60s; RFC 9126 suggests 5 to 600 seconds).
	PushedAuthorizationRequest caddy.Duration `json:"pushed_authorization_request,omitempty"`
	// Device authorization (RFC 8628): how long a device code and its user
	// code stay usable (10m).
	DeviceCode caddy.Duration `json:"device_code,omitempty"`
}

func (l *LifetimesConfig) toProvider() provider.Lifetimes {
	return provider.Lifetimes{
		AuthorizationCode: time.Duration(l.AuthorizationCode),
		AccessToken:       time.Duration(l.AccessToken),
		IDToken:           time.Duration(l.IDToken),
		Session:           time.Duration(l.Session),
		Interaction:       time.Duration(l.Interaction),
		Grant:             time.Duration(l.Grant),

		RefreshToken:               time.Duration(l.RefreshToken),
		RefreshTokenAbsolute:       time.Duration(l.RefreshTokenAbsolute),
		RefreshTokenReuseGrace:     reuseGrace(l.RefreshTokenReuseGrace),
		PushedAuthorizationRequest: time.Duration(l.PushedAuthorizationRequest),
		DeviceCode:                 time.Duration(l.DeviceCode),
	}
}

// reuseGrace maps the configured grace to the provider's convention, where
// 0 means "the default" and a negative value means "none": unset keeps the
// default, an explicit 0 disables the grace.
func reuseGrace(d *caddy.Duration) time.Duration {
	switch {
	case d == nil:
		return 0
	case *d == 0:
		return -1
	default:
		return time.Duration(*d)
	}
}

// ClientConfig is one OAuth client (relying party).
type ClientConfig struct {
	// The client_id the relying party sends. Required.
	ClientID string `json:"client_id,omitempty"`

	// Name shown to users on the consent page.
	ClientName string `json:"client_name,omitempty"`

	// The client secret of a confidential client. Use a placeholder such as
	// `{env.APP_CLIENT_SECRET}` to keep it out of the configuration; it is
	// resolved when the config loads, kept in memory only as a hash and
	// never logged. Not allowed for public clients.
	ClientSecret string `json:"client_secret,omitempty"`

	// Exact redirect URIs the client may use. Required for the
	// authorization_code grant.
	RedirectURIs []string `json:"redirect_uris,omitempty"`

	// Exact URIs the client may send users to after logout.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`

	// Grant types the client may use: authorization_code (default),
	// refresh_token, client_credentials, and
	// urn:ietf:params:oauth:grant-type:device_code (RFC 8628; "device_code"
	// is accepted as a short form).
	GrantTypes []string `json:"grant_types,omitempty"`

	// How the client authenticates at the token, introspection, revocation
	// and PAR endpoints: client_secret_basic, client_secret_post,
	// client_secret_jwt (an HMAC-signed assertion; the secret must be at
	// least 32 bytes), private_key_jwt (an assertion signed with a key from
	// `jwks_file` or `jwks_uri`) or none. Setting it pins the client to that
	// method. Default: either client_secret_basic or client_secret_post when
	// a secret is set, private_key_jwt when keys are set, none for public
	// clients.
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method,omitempty"`

	// A public client (single-page or native app) has no secret and must
	// use PKCE.
	Public bool `json:"public,omitempty"`

	// Skip the consent page for this client: for first-party applications
	// whose access the operator approves on the users' behalf.
	SkipConsent bool `json:"skip_consent,omitempty"`

	// Format of the access tokens issued to this client: "opaque" (the
	// default; random strings checked by introspection) or "jwt" (signed
	// JWTs per RFC 9068 that APIs verify with the JWKS). A resource's own
	// format takes precedence for tokens requested for it.
	AccessTokenFormat string `json:"access_token_format,omitempty"`

	// Scopes the client may request with the client_credentials grant; a
	// request without a scope parameter gets all of them.
	AllowedScopes []string `json:"allowed_scopes,omitempty"`

	// Issue refresh tokens on every code exchange, even when the user did
	// not consent to offline_access. The client must also have the
	// refresh_token grant type.
	AlwaysIssueRefreshToken bool `json:"always_issue_refresh_token,omitempty"`

	// Keep one refresh token for the life of the grant instead of replacing
	// it on every use. Rotation (the default) detects a stolen token when
	// both its holders use it (RFC 9700 §4.14.2); disable it only for
	// clients that cannot store a new token reliably.
	DisableRefreshTokenRotation bool `json:"disable_refresh_token_rotation,omitempty"`

	// A file holding the client's public JWK Set (RFC 7517 §5) for
	// private_key_jwt. It is read when the config loads and must hold public
	// keys only: RSA (2048 to 8192 bits), EC P-256 or P-384, or Ed25519.
	// Placeholders in the path are resolved. Not together with `jwks_uri`.
	JWKSFile string `json:"jwks_file,omitempty"`

	// An https URL where the client publishes its public JWK Set for
	// private_key_jwt; fetched when needed and cached for a few minutes, so
	// the client can rotate keys without a config change.
	JWKSURI string `json:"jwks_uri,omitempty"`

	// Accept authorization requests from this client only through the
	// pushed authorization request endpoint (RFC 9126 §6).
	RequirePushedAuthorizationRequests bool `json:"require_pushed_authorization_requests,omitempty"`

	// Where the provider POSTs a logout token when one of the client's
	// users logs out (OpenID Connect Back-Channel Logout). https, or http
	// on a loopback host.
	BackchannelLogoutURI string `json:"backchannel_logout_uri,omitempty"`

	// The JWS algorithm of this client's ID tokens (and logout tokens),
	// for relying parties that expect one other than RS256 (OIDC
	// Registration §2 id_token_signed_response_alg). A `signing_key` of
	// that algorithm must be configured. Default: the algorithm of the
	// first signing key (RS256 unless configured otherwise).
	IDTokenSignedResponseAlg string `json:"id_token_signed_response_alg,omitempty"`

	// Put the claims of the granted scopes (name, email, ...: what the
	// userinfo endpoint returns) in this client's ID tokens too, for
	// applications that read them only there. Default: the ID token holds
	// only the authentication claims; userinfo serves the rest.
	ClaimsInIDToken bool `json:"claims_in_id_token,omitempty"`

	// Make this client a resource server that may introspect tokens issued
	// to other clients (RFC 7662 §4). Without it a client's introspection
	// requests see only its own tokens; any other token answers
	// {"active":false}.
	IntrospectAnyToken bool `json:"introspect_any_token,omitempty"`
}

// ResourceConfig is an API (an RFC 8707 resource) that accepts the
// provider's access tokens. A client that sends `resource=<identifier>` gets
// a token whose audience is the identifier.
type ResourceConfig struct {
	// The absolute URI clients send as the resource parameter, e.g.
	// `https://api.example.com/`. Required; no fragment.
	Identifier string `json:"identifier,omitempty"`

	// Scopes the resource understands; tokens for it carry only those.
	// Empty means any scope the client may have.
	Scopes []string `json:"scopes,omitempty"`

	// Format of access tokens for this resource: "opaque" or "jwt". Empty
	// means the client's format.
	AccessTokenFormat string `json:"access_token_format,omitempty"`
}

// RegistrationConfig configures dynamic client registration (RFC 7591) and
// client management (RFC 7592) at the `/register` endpoint.
type RegistrationConfig struct {
	// Who may register clients: "closed" (the default; no registration
	// endpoint), "open" (anyone), or "initial_access_token" (only requests
	// with a Bearer initial access token, configured below or minted by the
	// operator with `caddy oidc-initial-access-token`).
	Policy string `json:"policy,omitempty"`

	// Initial access tokens accepted for registration, each usable any
	// number of times until removed from the config. Use placeholders such
	// as `{env.REG_TOKEN}` to keep them out of the configuration; they are
	// resolved when the config loads, kept in memory only as hashes and
	// never logged. At least 16 characters; only with policy
	// initial_access_token.
	InitialAccessTokens []string `json:"initial_access_tokens,omitempty"`

	// Issue a new registration access token on every update of a client's
	// registration (RFC 7592 §2.2), invalidating the previous one.
	RotateRegistrationAccessToken bool `json:"rotate_registration_access_token,omitempty"`

	// The only scopes a registered client may hold (for the
	// client_credentials grant). A registration or update whose `scope`
	// names any other is refused; narrowing this list later narrows the
	// clients already registered. Empty: registered clients hold no scope.
	AllowedScopes []string `json:"allowed_scopes,omitempty"`

	// Private hosts that registered clients' back-channel logout and
	// jwks_uri URLs may reach: host names (e.g. `app`, reached whatever
	// address it resolves to), IP addresses, or networks in CIDR notation
	// (`10.0.0.0/8`); a back-channel logout URL on a listed name or address
	// may use http, jwks_uri stays https-only. By default
	// these URLs reach public addresses only, since anyone who can register
	// a client could otherwise make the provider send requests into its
	// own network (SSRF). List only what the applications use.
	AllowPrivateHosts []string `json:"allow_private_hosts,omitempty"`

	// How many registered clients may exist at once; a registration past it
	// gets 503 with Retry-After (10000). Counted in the database, so every
	// instance sharing it sees the same number.
	MaxClients int `json:"max_clients,omitempty"`

	// With policy open: how many registrations one client address (an IPv6
	// address by its /64) may make per `rate_window`; more get 429 with
	// Retry-After (100 per 1h). Kept in memory per process.
	RateLimit  int            `json:"rate_limit,omitempty"`
	RateWindow caddy.Duration `json:"rate_window,omitempty"`

	// A registered client that has not obtained a token this long after
	// registering is removed, with its registration access token (30d).
	UnusedClientTTL caddy.Duration `json:"unused_client_ttl,omitempty"`
}

// LoginThrottleConfig bounds password guessing. After `free_attempts`
// failures within `window` for one account (or one client address), each
// further attempt waits for a delay that doubles with every failure, from
// `base_delay` up to `max_delay`. Unset values take the defaults in
// parentheses.
type LoginThrottleConfig struct {
	// Wrong passwords checked per account (and per client address) within
	// the window; the last of them starts the delays (5). Attempts still
	// being checked count too, so concurrent guesses get no more.
	FreeAttempts int `json:"free_attempts,omitempty"`
	// How long failures are remembered (15m).
	Window caddy.Duration `json:"window,omitempty"`
	// The first delay (1s).
	BaseDelay caddy.Duration `json:"base_delay,omitempty"`
	// The longest delay (15m).
	MaxDelay caddy.Duration `json:"max_delay,omitempty"`
	// How many password checks may run at once across all users;
	// a login finding them all busy for ~2 s gets a 503 "try again" page
	// instead of queueing, so a login flood cannot take the CPU (number of CPUs).
	MaxConcurrentPasswordChecks int `json:"max_concurrent_password_checks,omitempty"`
}

func (t *LoginThrottleConfig) toProvider() provider.LoginThrottle {
	return provider.LoginThrottle{
		FreeAttempts: t.FreeAttempts,
		Window:       time.Duration(t.Window),
		BaseDelay:    time.Duration(t.BaseDelay),
		MaxDelay:     time.Duration(t.MaxDelay),
	}
}

// PendingLimitsConfig bounds the records that callers who have not
// authenticated can leave pending in storage: interactions (a login started
// at /authorize), pushed authorization requests of public clients, and
// device codes, each kind counted on its own. What is bounded is how many
// are unfinished and unexpired, not how fast they are made, so completed
// logins never count against anyone. Counts are kept in memory per process
// (approximate when several instances share the storage).
type PendingLimitsConfig struct {
	// Pending records one client address (an IPv6 address by its /64) may
	// hold; past it the address gets 429 with Retry-After (1000).
	PerAddress int `json:"per_address,omitempty"`
	// Pending records in all; past it everybody gets 503 with Retry-After
	// (100000).
	Total int `json:"total,omitempty"`
}

// UserConfig is one end-user. The same form is used in `users_file`.
type UserConfig struct {
	// What the user types on the login page (case-insensitive). Required.
	Login string `json:"login,omitempty"`

	// The stable subject identifier (`sub` claim). Default: the login.
	Subject string `json:"subject,omitempty"`

	// Hash of the password: an argon2id PHC string
	// (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) or a bcrypt hash, e.g. from
	// `caddy oidc-hash-password`. Parameters are bounded (bcrypt cost <= 16;
	// argon2id m <= 256 MiB, t <= 10, p <= 16). Give every user the same
	// algorithm and cost: a warning is logged when they differ.
	PasswordHash string `json:"password_hash,omitempty"`

	// Claims released according to the granted scopes: name, email,
	// email_verified, ...
	Claims map[string]any `json:"claims,omitempty"`

	// Groups the user belongs to: the `groups` claim (a list), released
	// with the `groups` scope; `oidc_protect` rules test it.
	Groups []string `json:"groups,omitempty"`

	// The user's second factor: a TOTP secret (RFC 6238) in base32, shared
	// with the user's authenticator app, e.g. from `caddy oidc-totp-secret`
	// (case, spaces and hyphens do not matter; at least 128 bits). It is a
	// secret like a password: give it as a placeholder, {env.ALICE_TOTP} or
	// {file./run/secrets/alice_totp}, resolved at provision like a client
	// secret (also in users_file); a literal one in the config draws the
	// literal-secret warning. A user with one can sign in at acr "mfa".
	TOTPSecret string `json:"totp_secret,omitempty"`
}

// BrandingConfig is what the pages show of the operator's service.
type BrandingConfig struct {
	// Name of the service on every page and in the page titles. Default:
	// the issuer's host name.
	Name string `json:"name,omitempty"`

	// Logo shown above each page: a path on this site ("/logo.svg") or an
	// https URL, whose origin is then allowed in the pages' CSP img-src.
	LogoURL string `json:"logo_url,omitempty"`

	// Colour of the primary buttons, "#rgb" or "#rrggbb"; the button text
	// is black or white, whichever contrasts more. Default: a blue that
	// meets WCAG AA in light and dark mode.
	PrimaryColor string `json:"primary_color,omitempty"`
}

func (b *BrandingConfig) toProvider() provider.Branding {
	if b == nil {
		return provider.Branding{}
	}
	return provider.Branding{Name: b.Name, LogoURL: b.LogoURL, PrimaryColor: b.PrimaryColor}
}

// CookieConfig sets attributes of the provider's cookies.
type CookieConfig struct {
	// Prefix of every cookie name. Default "oidcaddy".
	NamePrefix string `json:"name_prefix,omitempty"`

	// Force the Secure attribute on or off. Default: on when the issuer is
	// https.
	Secure *bool `json:"secure,omitempty"`

	// Domain attribute of the session cookie. Default: host-only, which is
	// what you want unless several hosts must share the login.
	Domain string `json:"domain,omitempty"`
}

const defaultSigningAlgorithm = "RS256"

// signingAlgorithms are the algorithms of the configured signing keys (the
// default key's when none is configured): what clients may ask ID tokens in.
func (h *Handler) signingAlgorithms() []string {
	if len(h.SigningKeys) == 0 {
		return []string{defaultSigningAlgorithm}
	}
	var algs []string
	for _, k := range h.SigningKeys {
		if alg := k.algorithm(); !slices.Contains(algs, alg) {
			algs = append(algs, alg)
		}
	}
	return algs
}

func (k SigningKeyConfig) algorithm() string {
	if k.Algorithm == "" {
		return defaultSigningAlgorithm
	}
	return k.Algorithm
}

// resolveClients turns the configured clients into the provider's, in
// order, resolving secrets and reading key sets (with repl nil, placeholders
// and files stand in for what Provision will resolve). The provider checks
// them (Config.Validate); a secret or key set that cannot be had is a
// problem of its setting.
func resolveClients(repl *caddy.Replacer, cfgs []ClientConfig) ([]*provider.Client, []provider.FieldError) {
	var problems []provider.FieldError
	clients := make([]*provider.Client, 0, len(cfgs))
	for i, cc := range cfgs {
		path := "clients[" + strconv.Itoa(i) + "]"
		c := &provider.Client{
			ID:                                 cc.ClientID,
			Name:                               cc.ClientName,
			RedirectURIs:                       cc.RedirectURIs,
			PostLogoutRedirectURIs:             cc.PostLogoutRedirectURIs,
			GrantTypes:                         expandGrantTypes(cc.GrantTypes),
			TokenEndpointAuthMethod:            cc.TokenEndpointAuthMethod,
			SkipConsent:                        cc.SkipConsent,
			AccessTokenFormat:                  cc.AccessTokenFormat,
			AllowedScopes:                      cc.AllowedScopes,
			AlwaysIssueRefreshToken:            cc.AlwaysIssueRefreshToken,
			DisableRefreshTokenRotation:        cc.DisableRefreshTokenRotation,
			JWKSURI:                            cc.JWKSURI,
			RequirePushedAuthorizationRequests: cc.RequirePushedAuthorizationRequests,
			BackchannelLogoutURI:               cc.BackchannelLogoutURI,
			IDTokenSignedResponseAlg:           cc.IDTokenSignedResponseAlg,
			ClaimsInIDToken:                    cc.ClaimsInIDToken,
			IntrospectAnyToken:                 cc.IntrospectAnyToken,
		}
		if cc.ClientSecret != "" {
			secret, err := resolveSecret(repl, cc.ClientSecret)
			if err != nil {
				problems = append(problems, provider.FieldError{Path: path + ".client_secret", Message: fmt.Sprintf("client %q: client_secret: %v", cc.ClientID, err)})
				secret = standInSecret
			}
			c.SetSecret(secret)
		}
		if cc.JWKSFile != "" {
			if repl == nil {
				c.JWKS = []byte(`{"keys":[]}`) // read at Provision
			} else if jwks, err := readClientJWKS(repl.ReplaceKnown(cc.JWKSFile, "")); err != nil {
				problems = append(problems, provider.FieldError{Path: path + ".jwks_file", Message: fmt.Sprintf("client %q: %v", cc.ClientID, err)})
			} else {
				c.JWKS = jwks
			}
		}
		if c.TokenEndpointAuthMethod == "" {
			switch {
			case cc.Public:
				c.TokenEndpointAuthMethod = provider.AuthMethodNone
			case cc.ClientSecret != "":
				// Not chosen: either secret method is accepted.
				c.TokenEndpointAuthMethod, c.AuthMethodDefaulted = provider.AuthMethodClientSecretBasic, true
			case cc.JWKSFile != "" || c.JWKSURI != "":
				c.TokenEndpointAuthMethod = provider.AuthMethodPrivateKeyJWT
			default:
				// No credentials: moduleProblems reports it. A stand-in
				// keeps the provider from reporting it again in its words.
				c.TokenEndpointAuthMethod = provider.AuthMethodClientSecretBasic
				c.SetSecret(standInSecret)
			}
		}
		clients = append(clients, c)
	}
	return clients, problems
}

// readClientJWKS reads a client's key set and checks it as the provider will
// use it: a public JWK Set. A private key found here is refused rather than
// stripped, since it means the client's private key has been handed out.
func readClientJWKS(path string) ([]byte, error) {
	if path == "" {
		return nil, errors.New("jwks_file: the path is empty")
	}
	doc, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("jwks_file: %w", err)
	}
	// ParseClientJWKS never quotes key material in its errors.
	if _, err := jose.ParseClientJWKS(doc); err != nil {
		return nil, fmt.Errorf("jwks_file %s: %w", path, err)
	}
	return doc, nil
}

func buildResources(cfgs []ResourceConfig) []provider.Resource {
	if len(cfgs) == 0 {
		return nil
	}
	out := make([]provider.Resource, 0, len(cfgs))
	for _, r := range cfgs {
		out = append(out, provider.Resource{
			Identifier:        r.Identifier,
			Scopes:            r.Scopes,
			AccessTokenFormat: r.AccessTokenFormat,
		})
	}
	return out
}

// buildRegistration resolves the initial access tokens (with repl nil,
// placeholders stand in for them). Problems never carry a token: they name
// its position.
func buildRegistration(repl *caddy.Replacer, rc *RegistrationConfig) (provider.RegistrationConfig, []provider.FieldError) {
	if rc == nil {
		return provider.RegistrationConfig{Policy: provider.RegistrationClosed}, nil
	}
	reg := provider.RegistrationConfig{
		Policy:                        rc.Policy,
		RotateRegistrationAccessToken: rc.RotateRegistrationAccessToken,
		AllowedScopes:                 slices.Clone(rc.AllowedScopes),
		AllowPrivateHosts:             slices.Clone(rc.AllowPrivateHosts),
		MaxClients:                    rc.MaxClients,
		RateLimit:                     rc.RateLimit,
		RateWindow:                    time.Duration(rc.RateWindow),
		UnusedClientTTL:               time.Duration(rc.UnusedClientTTL),
	}
	if reg.Policy == "" {
		reg.Policy = provider.RegistrationClosed
	}
	var problems []provider.FieldError
	for i, raw := range rc.InitialAccessTokens {
		tok, err := resolveSecret(repl, raw)
		if err != nil {
			problems = append(problems, provider.FieldError{Path: "registration.initial_access_tokens[" + strconv.Itoa(i) + "]",
				Message: fmt.Sprintf("registration: initial access token %d: %v", i+1, err)})
			tok = standInSecret
		}
		reg.InitialAccessTokens = append(reg.InitialAccessTokens, tok)
	}
	return reg, problems
}

// resolveSecret resolves placeholders in a secret without ever putting the
// secret into an error: the replacer's errors quote the placeholder, which
// for a literal secret containing braces would be part of the secret.
// With repl nil (nothing is resolved yet), a secret holding a placeholder
// is a stand-in.
func resolveSecret(repl *caddy.Replacer, raw string) (string, error) {
	if repl == nil {
		if strings.Contains(raw, "{") {
			return standInSecret, nil
		}
		return raw, nil
	}
	s, err := repl.ReplaceOrErr(raw, true, true)
	if err == nil {
		return s, nil
	}
	if isSinglePlaceholder(raw) {
		return "", fmt.Errorf("%w (is the environment variable set?)", err)
	}
	return "", errors.New("a placeholder in it is unknown or empty (is the environment variable set?)")
}

func isSinglePlaceholder(s string) bool {
	return len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}' &&
		strings.Count(s, "{") == 1 && strings.Count(s, "}") == 1
}

// collectUsers merges the inline users with those of users_file.
func (h *Handler) collectUsers(repl *caddy.Replacer) ([]provider.User, error) {
	all := slices.Clone(h.Users)
	if h.UsersFile != "" {
		path := repl.ReplaceKnown(h.UsersFile, "")
		fromFile, err := readUsersFile(path)
		if err != nil {
			return nil, err
		}
		all = append(all, fromFile...)
	}
	users := make([]provider.User, 0, len(all))
	for _, u := range all {
		totp := ""
		if u.TOTPSecret != "" {
			var err error
			// Resolved like a client secret: an unset variable or file
			// fails the load (a user silently without their second factor
			// would meet fewer rules than configured), and the error names
			// the placeholder, never a value.
			if totp, err = resolveSecret(repl, u.TOTPSecret); err != nil {
				return nil, fmt.Errorf("user %q: totp_secret: %w", u.Login, err)
			}
		}
		users = append(users, provider.User{
			Login:        u.Login,
			Subject:      u.Subject,
			PasswordHash: u.PasswordHash,
			Claims:       u.Claims,
			Groups:       u.Groups,
			TOTPSecret:   totp,
		})
	}
	return users, nil
}

func readUsersFile(path string) ([]UserConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("users_file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var users []UserConfig
	if err := dec.Decode(&users); err != nil {
		// The decoder's messages name fields and types and quote at most
		// one character, so no password hash ends up in the error.
		return nil, fmt.Errorf("users_file %s: expected a JSON array of users: %w", path, err)
	}
	for i, u := range users {
		if u.Login == "" {
			return nil, fmt.Errorf("users_file %s: user %d: login is required", path, i+1)
		}
	}
	return users, nil
}

// expandGrantTypes accepts "device_code" for the device grant's URN, which
// nobody types correctly twice.
func expandGrantTypes(in []string) []string {
	out := make([]string, len(in))
	for i, gt := range in {
		if gt == "device_code" {
			gt = provider.GrantTypeDeviceCode
		}
		out[i] = gt
	}
	return out
}
