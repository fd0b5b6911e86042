package provider

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The rules of the configuration live here, once. The Caddy module hands the
// operator's settings to Config.Validate and maps each FieldError's Path back
// to the Caddyfile line or JSON field it came from, adding only checks of
// its own settings (files, placeholders, module loading).
//
// Paths use the field names of the Caddy module's JSON configuration
// (`clients[2].redirect_uris[0]`, `lifetimes.access_token`,
// `registration.rate_limit`), which is how operators name the settings.

// FieldError is one configuration problem.
type FieldError struct {
	// Path is the setting at fault, e.g. "clients[2].redirect_uris[0]";
	// empty for a problem of the configuration as a whole.
	Path string
	// Message says what is wrong. It never holds a secret.
	Message string
}

func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// ValidationErrors is every problem found in a configuration, in the order of
// the configuration's fields.
type ValidationErrors []FieldError

func (v ValidationErrors) Error() string {
	parts := make([]string, len(v))
	for i, e := range v {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// orNil returns v as an error, or nil when there is no problem.
func (v ValidationErrors) orNil() error {
	if len(v) == 0 {
		return nil
	}
	return v
}

// SigningAlgorithms are the JWS algorithms the provider signs with (ID
// tokens, logout tokens, JWT access tokens).
var SigningAlgorithms = []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"}

// MinMaxBodyBytes is the smallest MaxBodyBytes accepted: no login form fits in
// less, and a unitless "64" in a configuration meant something else.
const MinMaxBodyBytes = 1 << 10

// minInitialAccessTokenLen: shorter registration tokens are guessable.
const minInitialAccessTokenLen = 16

// problems collects FieldErrors.
type problems ValidationErrors

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Validate checks everything an operator configures and returns every
// problem found (as ValidationErrors), not just the first. It needs no
// Store, Accounts or Signer; with a Signer it also checks that clients' ID
// token algorithms have a key. New calls it.
//
// Lifetimes and bounds: zero means the default, a negative value is an error
// (except Lifetimes.RefreshTokenReuseGrace, where negative means none).
func (c *Config) Validate() error {
	var p problems
	p.issuer(c.Issuer)
	p.lifetimes(c.Lifetimes)
	p.throttle(c.Throttle, c.MaxConcurrentPasswordChecks)
	if c.PendingLimits.PerAddress < 0 || c.PendingLimits.Total < 0 {
		p.add("pending_limits", "pending_limits: per_address and total must not be negative")
	}
	if c.BodyReadTimeout < 0 {
		p.add("body_read_timeout", "body_read_timeout must not be negative")
	}
	if c.MaxBodyBytes < 0 || c.MaxBodyBytes > 0 && c.MaxBodyBytes < MinMaxBodyBytes {
		p.add("max_body_size", "max_body_size must be at least %d bytes, got %d (less than 1KiB; give a unit, e.g. 64KiB)", MinMaxBodyBytes, c.MaxBodyBytes)
	}
	p.branding(c.Branding)
	p.registration(c.Registration)
	p.resources(c.Resources)
	var algs []string
	if c.Signer != nil {
		algs = c.Signer.Algorithms()
	}
	p.clients(c.ConfiguredClients, c.Clients, algs)
	return ValidationErrors(p).orNil()
}

// issuer: OIDC Discovery §3 (https, no query or fragment); http is accepted
// for development.
func (p *problems) issuer(issuer string) {
	if issuer == "" {
		p.add("issuer", "issuer is required")
		return
	}
	u, err := url.Parse(issuer)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		p.add("issuer", "issuer must be an absolute https (or, for development, http) URL, got %q", issuer)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.Contains(issuer, "#") || strings.Contains(issuer, "?"):
		p.add("issuer", "issuer must be a URL with a host and no query, fragment or user info, got %q", issuer)
	case strings.HasSuffix(u.Path, "/"):
		p.add("issuer", "issuer must not end with a slash, got %q", issuer)
	}
}

func (p *problems) lifetimes(l Lifetimes) {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"authorization_code", l.AuthorizationCode}, {"access_token", l.AccessToken}, {"id_token", l.IDToken},
		{"session", l.Session}, {"interaction", l.Interaction}, {"grant", l.Grant},
		{"refresh_token", l.RefreshToken}, {"refresh_token_absolute", l.RefreshTokenAbsolute},
		{"pushed_authorization_request", l.PushedAuthorizationRequest}, {"device_code", l.DeviceCode},
	} {
		if f.d < 0 {
			p.add("lifetimes."+f.name, "lifetimes: %s must not be negative", f.name)
		}
	}
}

func (p *problems) throttle(t LoginThrottle, maxChecks int) {
	if t.FreeAttempts < 0 {
		p.add("login_throttle.free_attempts", "login_throttle: free_attempts must not be negative")
	}
	if maxChecks < 0 {
		p.add("login_throttle.max_concurrent_password_checks", "login_throttle: max_concurrent_password_checks must not be negative")
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"window", t.Window}, {"base_delay", t.BaseDelay}, {"max_delay", t.MaxDelay}} {
		if f.d < 0 {
			p.add("login_throttle."+f.name, "login_throttle: %s must not be negative", f.name)
		}
	}
	if t.BaseDelay > 0 && t.MaxDelay > 0 && t.BaseDelay > t.MaxDelay {
		p.add("login_throttle.base_delay", "login_throttle: base_delay must not exceed max_delay")
	}
}

// branding checks each field on its own, so that each problem names its
// field.
func (p *problems) branding(b Branding) {
	for _, f := range []struct {
		name string
		b    Branding
	}{{"name", Branding{Name: b.Name}}, {"logo_url", Branding{LogoURL: b.LogoURL}}, {"primary_color", Branding{PrimaryColor: b.PrimaryColor}}} {
		if err := f.b.Validate(); err != nil {
			p.add("branding."+f.name, "%s", err)
		}
	}
}

var registrationPolicies = []string{RegistrationClosed, RegistrationOpen, RegistrationInitialAccessToken}

// registration never quotes an initial access token: problems name its
// position (counted from 1 in the message, as operators count lines).
func (p *problems) registration(rc RegistrationConfig) {
	if rc.Policy != "" && !slices.Contains(registrationPolicies, rc.Policy) {
		p.add("registration.policy", "registration: policy must be one of %s, got %q", strings.Join(registrationPolicies, ", "), rc.Policy)
	}
	if len(rc.InitialAccessTokens) > 0 && rc.Policy != RegistrationInitialAccessToken {
		p.add("registration.initial_access_tokens", "registration: initial_access_tokens are only used with policy initial_access_token")
	}
	for i, t := range rc.InitialAccessTokens {
		if len(t) < minInitialAccessTokenLen {
			p.add(index("registration.initial_access_tokens", i), "registration: initial access token %d is shorter than %d characters", i+1, minInitialAccessTokenLen)
		}
	}
	for i, s := range rc.AllowedScopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			p.add(index("registration.allowed_scopes", i), "registration: allowed_scopes must be single non-empty scope tokens, got %q", s)
		}
	}
	for i, h := range rc.AllowPrivateHosts {
		if err := CheckAllowPrivateHosts([]string{h}); err != nil {
			p.add(index("registration.allow_private_hosts", i), "registration: %s", err)
		}
	}
	for _, f := range []struct {
		name     string
		negative bool
	}{
		{"max_clients", rc.MaxClients < 0}, {"rate_limit", rc.RateLimit < 0},
		{"rate_window", rc.RateWindow < 0}, {"unused_client_ttl", rc.UnusedClientTTL < 0},
	} {
		if f.negative {
			p.add("registration."+f.name, "registration: %s must not be negative", f.name)
		}
	}
}

var tokenFormats = []string{TokenFormatOpaque, TokenFormatJWT}

func (p *problems) accessTokenFormat(path, owner, format string) {
	if format != "" && !slices.Contains(tokenFormats, format) {
		p.add(path, "%s: access_token_format must be opaque or jwt, got %q", owner, format)
	}
}

// resources: RFC 8707 §2 asks for absolute URIs without a fragment.
func (p *problems) resources(rs []Resource) {
	seen := map[string]bool{}
	for i, r := range rs {
		path := index("resources", i)
		if r.Identifier == "" {
			p.add(path+".identifier", "resource %d: identifier is required", i+1)
			continue
		}
		if u, err := url.Parse(r.Identifier); err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(r.Identifier, "#") {
			p.add(path+".identifier", "resource %d: identifier must be an absolute URI without fragment, got %q", i+1, r.Identifier)
		}
		if seen[r.Identifier] {
			p.add(path+".identifier", "resource %q defined twice", r.Identifier)
		}
		seen[r.Identifier] = true
		p.accessTokenFormat(path+".access_token_format", fmt.Sprintf("resource %q", r.Identifier), r.AccessTokenFormat)
	}
}

// clients checks the configured clients. A StaticClients store was checked
// when it was made (NewStaticClients); only what needs the keys is checked
// here, naming its clients by id, since a map has no order.
func (p *problems) clients(list []*Client, store ClientStore, algs []string) {
	seen := map[string]bool{}
	for i, c := range list {
		path := index("clients", i)
		*p = append(*p, c.fieldErrors(path, algs)...)
		if c.ID != "" && seen[c.ID] {
			p.add(path+".client_id", "client %q defined twice", c.ID)
		}
		seen[c.ID] = true
	}
	if static, ok := store.(StaticClients); ok {
		for _, id := range slices.Sorted(maps.Keys(static)) {
			p.idTokenAlg("clients["+strconv.Quote(id)+"].id_token_signed_response_alg", fmt.Sprintf("client %q", id), static[id].IDTokenSignedResponseAlg, algs)
		}
	}
}

// index is path[i].
func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }
