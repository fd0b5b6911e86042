package caddymodule

import (
	"math"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"

	"github.com/oidcaddy/oidcaddy/provider"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("oidc_provider", parseCaddyfile)
	// Before respond, not before file_server: a catch-all `respond` in the
	// same site would otherwise answer the provider's requests.
	httpcaddyfile.RegisterDirectiveOrder("oidc_provider", httpcaddyfile.Before, "respond")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var handler Handler
	err := handler.UnmarshalCaddyfile(h.Dispenser)
	return &handler, err
}

// topLevelFields are the JSON names of the subdirectives that set one field
// (or a block of fields); lists (client, resource, user, signing_key) record
// each element themselves.
var topLevelFields = map[string]string{
	"lifetimes": "lifetimes", "registration": "registration", "login_throttle": "login_throttle",
	"pending_limits": "pending_limits", "branding": "branding", "cookie": "cookies", "templates": "templates_dir",
	"secret_key_file": "secret_key_file", "users_file": "users_file", "require_par": "require_pushed_authorization_requests",
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	oidc_provider {
//		issuer <url>
//		storage <dir>                 # shorthand for: storage badger { dir <dir> }
//		storage badger {
//			dir <dir>
//		}
//		storage postgres {
//			dsn             <connection string>
//			max_conns       <n>
//			simple_protocol
//			timeout         <duration>
//			reap_interval   <duration>
//		}
//		signing_key <algorithm> [<pem file>]
//		lifetimes {
//			authorization_code           <duration>
//			access_token                 <duration>
//			id_token                     <duration>
//			session                      <duration>
//			interaction                  <duration>
//			grant                        <duration>
//			refresh_token                <duration>
//			refresh_token_absolute       <duration>
//			refresh_token_reuse_grace    <duration>   # 0 for none
//			pushed_authorization_request <duration>
//			device_code                  <duration>
//		}
//		client <client_id> {
//			name <display name>
//			secret <secret>
//			redirect_uri <uri...>
//			post_logout_redirect_uri <uri...>
//			grant_types <type...>
//			auth_method client_secret_basic|client_secret_post|client_secret_jwt|private_key_jwt|none
//			public
//			skip_consent
//			access_token_format opaque|jwt
//			allowed_scopes <scope...>
//			always_issue_refresh_token
//			disable_refresh_token_rotation
//			jwks_file <path>
//			jwks_uri <https url>
//			require_par
//			backchannel_logout_uri <url>
//			id_token_signed_response_alg RS256|PS256|ES256|ES384|EdDSA
//			claims_in_id_token
//			introspect_any_token
//		}
//		resource <identifier uri> {
//			scopes <scope...>
//			access_token_format opaque|jwt
//		}
//		registration {
//			policy closed|open|initial_access_token
//			initial_access_token <token>
//			rotate_registration_access_token
//			allowed_scopes <scope...>
//			allow_private_hosts <host|ip|cidr...>
//			max_clients <n>
//			rate <n> <duration>
//			unused_client_ttl <duration>
//		}
//		require_par
//		secret_key_file <path>
//		key_encryption_secret <secret>
//		key_rotation {
//			rotate_every   <duration>|off
//			publish_before <duration>
//		}
//		login_throttle {
//			free_attempts <n>
//			window        <duration>
//			base_delay    <duration>
//			max_delay     <duration>
//			max_concurrent_password_checks <n>
//		}
//		pending_limits {
//			per_address <n>
//			total       <n>
//		}
//		max_body_size <size>
//		body_read_timeout <duration>
//		user <login> {
//			password_hash <argon2id or bcrypt hash>
//			subject <sub>
//			claim <name> <value>
//			groups <group>...
//			totp_secret <base32 secret or placeholder>
//		}
//		users_file <file>
//		cookie {
//			name_prefix <prefix>
//			secure on|off
//			domain <domain>
//		}
//		templates <dir>
//		branding {
//			name <service name>
//			logo_url <path or https url>
//			primary_color <#rgb or #rrggbb>
//		}
//		log_exporter otlp|console|none
//		span_events
//	}
//
// signing_key, client, resource, user, claim, redirect_uri,
// post_logout_redirect_uri, allowed_scopes (of a client or of registration),
// scopes, initial_access_token and allow_private_hosts may be repeated. The issuer is a subdirective, not an argument, because a
// first argument starting with "/" would be taken as a path matcher.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name; the dispenser was reset after matcher extraction
	if d.NextArg() {
		return d.Errf("oidc_provider takes no arguments; put the issuer inside the block: oidc_provider { issuer %s }", d.Val())
	}
	// The parser reads syntax and types; the rules are checked once all is
	// read, by the same code as for a JSON configuration, and each problem
	// is reported at the line its setting came from.
	pos := caddyfilePositions{}
	for d.NextBlock(0) {
		if field, ok := topLevelFields[d.Val()]; ok {
			pos.at(d, field)
		}
		switch sub := d.Val(); sub {
		case "issuer":
			if h.Issuer != "" {
				return d.Err("issuer already specified")
			}
			pos.at(d, "issuer")
			if err := oneArg(d, &h.Issuer); err != nil {
				return err
			}
		case "storage":
			if h.StorageRaw != nil {
				return d.Err("storage already specified")
			}
			if err := h.unmarshalStorage(d); err != nil {
				return err
			}
		case "signing_key":
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return d.Errf("usage: signing_key <%s> [<pem file>]", strings.Join(provider.SigningAlgorithms, "|"))
			}
			pos.at(d, "signing_keys["+strconv.Itoa(len(h.SigningKeys))+"]")
			k := SigningKeyConfig{Algorithm: args[0]}
			if len(args) == 2 {
				k.File = args[1]
			}
			h.SigningKeys = append(h.SigningKeys, k)
		case "lifetimes":
			if h.Lifetimes != nil {
				return d.Err("lifetimes already specified")
			}
			h.Lifetimes = new(LifetimesConfig)
			if err := h.Lifetimes.unmarshalCaddyfile(d, pos); err != nil {
				return err
			}
		case "client":
			var c ClientConfig
			if err := c.unmarshalCaddyfile(d, pos, "clients["+strconv.Itoa(len(h.Clients))+"]"); err != nil {
				return err
			}
			h.Clients = append(h.Clients, c)
		case "user":
			var u UserConfig
			path := "users[" + strconv.Itoa(len(h.Users)) + "]"
			pos.at(d, path)
			if err := u.unmarshalCaddyfile(d, pos, path); err != nil {
				return err
			}
			h.Users = append(h.Users, u)
		case "users_file":
			if h.UsersFile != "" {
				return d.Err("users_file already specified")
			}
			if err := oneArg(d, &h.UsersFile); err != nil {
				return err
			}
		case "cookie":
			if h.Cookies != nil {
				return d.Err("cookie already specified")
			}
			h.Cookies = new(CookieConfig)
			if err := h.Cookies.unmarshalCaddyfile(d); err != nil {
				return err
			}
		case "templates":
			if h.TemplatesDir != "" {
				return d.Err("templates already specified")
			}
			if err := oneArg(d, &h.TemplatesDir); err != nil {
				return err
			}
		case "branding":
			if h.Branding != nil {
				return d.Err("branding already specified")
			}
			h.Branding = new(BrandingConfig)
			if err := h.Branding.unmarshalCaddyfile(d, pos); err != nil {
				return err
			}
		case "log_exporter":
			pos.at(d, "log_exporter")
			if err := oneArg(d, &h.LogExporter); err != nil {
				return err
			}
			if h.LogExporter == "" {
				return d.ArgErr()
			}
		case "span_events":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.SpanEvents = true
		case "resource":
			var r ResourceConfig
			if err := r.unmarshalCaddyfile(d, pos, "resources["+strconv.Itoa(len(h.Resources))+"]"); err != nil {
				return err
			}
			h.Resources = append(h.Resources, r)
		case "registration":
			if h.Registration != nil {
				return d.Err("registration already specified")
			}
			h.Registration = new(RegistrationConfig)
			if err := h.Registration.unmarshalCaddyfile(d, pos); err != nil {
				return err
			}
		case "require_par":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.RequirePushedAuthorizationRequests = true
		case "secret_key_file":
			if h.SecretKeyFile != "" {
				return d.Err("secret_key_file already specified")
			}
			if err := oneArg(d, &h.SecretKeyFile); err != nil {
				return err
			}
		case "login_throttle":
			if h.LoginThrottle != nil {
				return d.Err("login_throttle already specified")
			}
			h.LoginThrottle = new(LoginThrottleConfig)
			if err := h.LoginThrottle.unmarshalCaddyfile(d, pos); err != nil {
				return err
			}
		case "pending_limits":
			if h.PendingLimits != nil {
				return d.Err("pending_limits already specified")
			}
			h.PendingLimits = new(PendingLimitsConfig)
			if err := h.PendingLimits.unmarshalCaddyfile(d, pos); err != nil {
				return err
			}
		case "max_body_size":
			if h.MaxBodySize != 0 {
				return d.Err("max_body_size already specified")
			}
			pos.at(d, "max_body_size")
			var raw string
			if err := oneArg(d, &raw); err != nil {
				return err
			}
			size, err := humanize.ParseBytes(raw)
			if err != nil || size > math.MaxInt64 {
				return d.Errf("max_body_size: invalid size %q (use e.g. 64KiB or 1MB)", raw)
			}
			h.MaxBodySize = int64(size)
		case "body_read_timeout":
			if h.BodyReadTimeout != 0 {
				return d.Err("body_read_timeout already specified")
			}
			pos.at(d, "body_read_timeout")
			dur, err := durationArg(d, "body_read_timeout", false)
			if err != nil {
				return err
			}
			h.BodyReadTimeout = dur
		case "key_encryption_secret", "key_rotation":
			if err := h.unmarshalSharedKeys(d, sub); err != nil {
				return err
			}
		default:
			return d.Errf("unrecognized oidc_provider subdirective %q (expected issuer, storage, signing_key, lifetimes, client, resource, registration, require_par, "+
				"secret_key_file, key_encryption_secret, key_rotation, login_throttle, pending_limits, max_body_size, body_read_timeout, user, users_file, cookie, templates, branding, log_exporter or span_events)", sub)
		}
	}
	// Problems of the whole block (a missing issuer) are reported at its end.
	pos.at(d, "")
	_, problems := h.problems(nil, false)
	return pos.errorAt(problems)
}

func (l *LifetimesConfig) unmarshalCaddyfile(d *caddyfile.Dispenser, pos caddyfilePositions) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	fields := map[string]*caddy.Duration{
		"authorization_code":           &l.AuthorizationCode,
		"access_token":                 &l.AccessToken,
		"id_token":                     &l.IDToken,
		"session":                      &l.Session,
		"interaction":                  &l.Interaction,
		"grant":                        &l.Grant,
		"refresh_token":                &l.RefreshToken,
		"refresh_token_absolute":       &l.RefreshTokenAbsolute,
		"pushed_authorization_request": &l.PushedAuthorizationRequest,
		"device_code":                  &l.DeviceCode,
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		pos.at(d, "lifetimes."+name)
		if name == "refresh_token_reuse_grace" {
			// The one lifetime where 0 means something: no grace.
			dur, err := durationArg(d, "lifetimes "+name, true)
			if err != nil {
				return err
			}
			l.RefreshTokenReuseGrace = &dur
			continue
		}
		field, ok := fields[name]
		if !ok {
			return d.Errf("unrecognized lifetimes subdirective %q (expected authorization_code, access_token, id_token, session, interaction, grant, "+
				"refresh_token, refresh_token_absolute, refresh_token_reuse_grace, pushed_authorization_request or device_code)", name)
		}
		dur, err := durationArg(d, "lifetimes "+name, false)
		if err != nil {
			return err
		}
		*field = dur
	}
	return nil
}

// durationArg reads one Caddy duration, which must be positive (or, with
// zeroOK, zero).
func durationArg(d *caddyfile.Dispenser, what string, zeroOK bool) (caddy.Duration, error) {
	var raw string
	if err := oneArg(d, &raw); err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(raw)
	if err != nil {
		return 0, d.Errf("%s: invalid duration %q (use e.g. 90s, 10m, 1h, 14d): %v", what, raw, err)
	}
	switch {
	case dur < 0 && zeroOK:
		return 0, d.Errf("%s: must not be negative, got %q", what, raw)
	case dur <= 0 && !zeroOK:
		return 0, d.Errf("%s: must be positive, got %q", what, raw)
	}
	return caddy.Duration(dur), nil
}

// clientFields are the JSON names of client subdirectives that differ.
var clientFields = map[string]string{
	"name": "client_name", "secret": "client_secret", "redirect_uri": "redirect_uris",
	"post_logout_redirect_uri": "post_logout_redirect_uris", "auth_method": "token_endpoint_auth_method",
	"require_par": "require_pushed_authorization_requests",
}

func (c *ClientConfig) unmarshalCaddyfile(d *caddyfile.Dispenser, pos caddyfilePositions, path string) error {
	if !d.NextArg() {
		return d.Err("usage: client <client_id> { ... }")
	}
	pos.at(d, path)
	c.ClientID = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		field, ok := clientFields[d.Val()]
		if !ok {
			field = d.Val()
		}
		pos.at(d, path+"."+field)
		// Each element of a list, too: clients[0].redirect_uris[1].
		list := func(have int, added []string) {
			for i := range added {
				pos.at(d, path+"."+field+"["+strconv.Itoa(have+i)+"]")
			}
		}
		switch sub := d.Val(); sub {
		case "name":
			if err := oneArg(d, &c.ClientName); err != nil {
				return err
			}
		case "secret":
			if err := oneArg(d, &c.ClientSecret); err != nil {
				return err
			}
		case "redirect_uri":
			uris := d.RemainingArgs()
			if len(uris) == 0 {
				return d.ArgErr()
			}
			list(len(c.RedirectURIs), uris)
			c.RedirectURIs = append(c.RedirectURIs, uris...)
		case "post_logout_redirect_uri":
			uris := d.RemainingArgs()
			if len(uris) == 0 {
				return d.ArgErr()
			}
			list(len(c.PostLogoutRedirectURIs), uris)
			c.PostLogoutRedirectURIs = append(c.PostLogoutRedirectURIs, uris...)
		case "grant_types":
			types := d.RemainingArgs()
			if len(types) == 0 {
				return d.ArgErr()
			}
			list(len(c.GrantTypes), types)
			c.GrantTypes = append(c.GrantTypes, types...)
		case "auth_method":
			if err := oneArg(d, &c.TokenEndpointAuthMethod); err != nil {
				return err
			}
		case "public":
			if err := flagArg(d, &c.Public); err != nil {
				return err
			}
		case "skip_consent":
			if err := flagArg(d, &c.SkipConsent); err != nil {
				return err
			}
		case "access_token_format":
			if err := oneArg(d, &c.AccessTokenFormat); err != nil {
				return err
			}
		case "allowed_scopes":
			scopes := d.RemainingArgs()
			if len(scopes) == 0 {
				return d.ArgErr()
			}
			list(len(c.AllowedScopes), scopes)
			c.AllowedScopes = append(c.AllowedScopes, scopes...)
		case "always_issue_refresh_token":
			if err := flagArg(d, &c.AlwaysIssueRefreshToken); err != nil {
				return err
			}
		case "disable_refresh_token_rotation":
			if err := flagArg(d, &c.DisableRefreshTokenRotation); err != nil {
				return err
			}
		case "jwks_file":
			if err := oneArg(d, &c.JWKSFile); err != nil {
				return err
			}
		case "jwks_uri":
			if err := oneArg(d, &c.JWKSURI); err != nil {
				return err
			}
		case "require_par":
			if err := flagArg(d, &c.RequirePushedAuthorizationRequests); err != nil {
				return err
			}
		case "backchannel_logout_uri":
			if err := oneArg(d, &c.BackchannelLogoutURI); err != nil {
				return err
			}
		case "id_token_signed_response_alg":
			if err := oneArg(d, &c.IDTokenSignedResponseAlg); err != nil {
				return err
			}
		case "claims_in_id_token":
			if err := flagArg(d, &c.ClaimsInIDToken); err != nil {
				return err
			}
		case "introspect_any_token":
			if err := flagArg(d, &c.IntrospectAnyToken); err != nil {
				return err
			}
		default:
			return d.Errf("unrecognized client subdirective %q (expected name, secret, redirect_uri, post_logout_redirect_uri, grant_types, auth_method, public, "+
				"skip_consent, access_token_format, allowed_scopes, always_issue_refresh_token, disable_refresh_token_rotation, jwks_file, jwks_uri, "+
				"require_par, backchannel_logout_uri, id_token_signed_response_alg, claims_in_id_token or introspect_any_token)", sub)
		}
	}
	return nil
}

func (r *ResourceConfig) unmarshalCaddyfile(d *caddyfile.Dispenser, pos caddyfilePositions, path string) error {
	if !d.NextArg() {
		return d.Err("usage: resource <identifier uri> { ... }")
	}
	r.Identifier = d.Val()
	pos.at(d, path)
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		pos.at(d, path+"."+d.Val())
		switch sub := d.Val(); sub {
		case "scopes":
			scopes := d.RemainingArgs()
			if len(scopes) == 0 {
				return d.ArgErr()
			}
			r.Scopes = append(r.Scopes, scopes...)
		case "access_token_format":
			if err := oneArg(d, &r.AccessTokenFormat); err != nil {
				return err
			}
		default:
			return d.Errf("unrecognized resource subdirective %q (expected scopes or access_token_format)", sub)
		}
	}
	return nil
}

func (rc *RegistrationConfig) unmarshalCaddyfile(d *caddyfile.Dispenser, pos caddyfilePositions) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		// Where each setting is (the rules are checked after parsing).
		switch sub := d.Val(); sub {
		case "initial_access_token":
			if len(rc.InitialAccessTokens) == 0 {
				pos.at(d, "registration.initial_access_tokens")
			}
			pos.at(d, "registration.initial_access_tokens["+strconv.Itoa(len(rc.InitialAccessTokens))+"]")
		case "rate":
			pos.at(d, "registration.rate_limit")
			pos.at(d, "registration.rate_window")
		case "allowed_scopes", "allow_private_hosts":
			have := len(rc.AllowedScopes)
			if sub == "allow_private_hosts" {
				have = len(rc.AllowPrivateHosts)
			}
			for i := range d.CountRemainingArgs() {
				pos.at(d, "registration."+sub+"["+strconv.Itoa(have+i)+"]")
			}
		default:
			pos.at(d, "registration."+sub)
		}
		switch sub := d.Val(); sub {
		case "policy":
			if rc.Policy != "" {
				return d.Err("registration policy already specified")
			}
			if err := oneArg(d, &rc.Policy); err != nil {
				return err
			}
		case "initial_access_token":
			// The error for a wrong count must not echo the line: it
			// holds a token.
			args := d.RemainingArgs()
			if len(args) != 1 {
				return d.Err("usage: initial_access_token <token> (one per line; use a placeholder such as {env.REG_TOKEN})")
			}
			rc.InitialAccessTokens = append(rc.InitialAccessTokens, args[0])
		case "rotate_registration_access_token":
			if err := flagArg(d, &rc.RotateRegistrationAccessToken); err != nil {
				return err
			}
		case "allowed_scopes":
			scopes := d.RemainingArgs()
			if len(scopes) == 0 {
				return d.ArgErr()
			}
			rc.AllowedScopes = append(rc.AllowedScopes, scopes...)
		case "allow_private_hosts":
			hosts := d.RemainingArgs()
			if len(hosts) == 0 {
				return d.ArgErr()
			}
			rc.AllowPrivateHosts = append(rc.AllowPrivateHosts, hosts...)
		case "max_clients":
			var raw string
			if err := oneArg(d, &raw); err != nil {
				return err
			}
			n, err := strconv.Atoi(raw)
			if err != nil || n < 1 {
				return d.Errf("registration max_clients must be a positive whole number, got %q", raw)
			}
			rc.MaxClients = n
		case "rate":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.Err("usage: rate <registrations> <per duration>, e.g. rate 100 1h")
			}
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 1 {
				return d.Errf("registration rate: the number of registrations must be a positive whole number, got %q", args[0])
			}
			window, err := caddy.ParseDuration(args[1])
			if err != nil || window <= 0 {
				return d.Errf("registration rate: invalid duration %q (use e.g. 1h)", args[1])
			}
			rc.RateLimit, rc.RateWindow = n, caddy.Duration(window)
		case "unused_client_ttl":
			dur, err := durationArg(d, "registration unused_client_ttl", false)
			if err != nil {
				return err
			}
			rc.UnusedClientTTL = dur
		default:
			return d.Errf("unrecognized registration subdirective %q (expected policy, initial_access_token, rotate_registration_access_token, allowed_scopes, "+
				"allow_private_hosts, max_clients, rate or unused_client_ttl)", sub)
		}
	}
	return nil
}

func (t *LoginThrottleConfig) unmarshalCaddyfile(d *caddyfile.Dispenser, pos caddyfilePositions) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	durations := map[string]*caddy.Duration{
		"window":     &t.Window,
		"base_delay": &t.BaseDelay,
		"max_delay":  &t.MaxDelay,
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		pos.at(d, "login_throttle."+name)
		if name == "free_attempts" || name == "max_concurrent_password_checks" {
			var raw string
			if err := oneArg(d, &raw); err != nil {
				return err
			}
			n, err := strconv.Atoi(raw)
			if err != nil || n < 1 {
				return d.Errf("login_throttle %s must be a positive whole number, got %q", name, raw)
			}
			if name == "free_attempts" {
				t.FreeAttempts = n
			} else {
				t.MaxConcurrentPasswordChecks = n
			}
			continue
		}
		field, ok := durations[name]
		if !ok {
			return d.Errf("unrecognized login_throttle subdirective %q (expected free_attempts, window, base_delay, max_delay or max_concurrent_password_checks)", name)
		}
		dur, err := durationArg(d, "login_throttle "+name, false)
		if err != nil {
			return err
		}
		*field = dur
	}
	return nil
}

func (l *PendingLimitsConfig) unmarshalCaddyfile(d *caddyfile.Dispenser, pos caddyfilePositions) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		pos.at(d, "pending_limits."+name)
		var field *int
		switch name {
		case "per_address":
			field = &l.PerAddress
		case "total":
			field = &l.Total
		default:
			return d.Errf("unrecognized pending_limits subdirective %q (expected per_address or total)", name)
		}
		var raw string
		if err := oneArg(d, &raw); err != nil {
			return err
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			return d.Errf("pending_limits %s must be a positive whole number, got %q", name, raw)
		}
		*field = n
	}
	return nil
}

// flagArg reads a subdirective that takes no argument.
func flagArg(d *caddyfile.Dispenser, dst *bool) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	*dst = true
	return nil
}

func (u *UserConfig) unmarshalCaddyfile(d *caddyfile.Dispenser, pos caddyfilePositions, path string) error {
	if !d.NextArg() {
		return d.Err("usage: user <login> { ... }")
	}
	u.Login = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch sub := d.Val(); sub {
		case "password_hash":
			if err := oneArg(d, &u.PasswordHash); err != nil {
				return err
			}
		case "subject":
			if err := oneArg(d, &u.Subject); err != nil {
				return err
			}
		case "claim":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.Err("usage: claim <name> <value>")
			}
			if u.Claims == nil {
				u.Claims = map[string]any{}
			}
			u.Claims[args[0]] = claimValue(args[1])
		case "groups":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.Err("usage: groups <group>...")
			}
			u.Groups = append(u.Groups, args...)
		case "totp_secret":
			if u.TOTPSecret != "" {
				return d.Err("totp_secret already specified")
			}
			pos.at(d, path+".totp_secret")
			// Authenticator apps show secrets in groups of four; the
			// groups may be written as they are shown. Joining them also
			// keeps the dispenser's argument-count error, which quotes
			// the extra token, from printing part of the secret.
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.Err("usage: totp_secret <base32 secret or placeholder>")
			}
			u.TOTPSecret = strings.Join(args, " ")
		default:
			return d.Errf("unrecognized user subdirective %q (expected password_hash, subject, claim, groups or totp_secret)", sub)
		}
	}
	return nil
}

// claimValue makes true and false booleans, because email_verified and
// phone_number_verified are booleans in OIDC Core §5.1 and relying parties
// reject the strings. Everything else stays a string.
func claimValue(v string) any {
	switch v {
	case "true":
		return true
	case "false":
		return false
	}
	return v
}

func (b *BrandingConfig) unmarshalCaddyfile(d *caddyfile.Dispenser, pos caddyfilePositions) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var dst *string
		switch sub := d.Val(); sub {
		case "name":
			dst = &b.Name
		case "logo_url":
			dst = &b.LogoURL
		case "primary_color":
			dst = &b.PrimaryColor
		default:
			return d.Errf("unrecognized branding subdirective %q (expected name, logo_url or primary_color)", sub)
		}
		sub := d.Val()
		pos.at(d, "branding."+sub)
		if *dst != "" {
			return d.Errf("branding %s already specified", sub)
		}
		if sub == "primary_color" && !d.NextArg() {
			// An unquoted #0b5fff is a Caddyfile comment.
			return d.Err(`branding primary_color needs a colour; # starts a comment in a Caddyfile, so quote it ("#0b5fff") or leave the # out (0b5fff)`)
		} else if sub == "primary_color" {
			d.Prev()
		}
		if err := oneArg(d, dst); err != nil {
			return err
		}
		if sub == "primary_color" && !strings.HasPrefix(*dst, "#") {
			*dst = "#" + *dst
		}
	}
	return nil
}

func (c *CookieConfig) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch sub := d.Val(); sub {
		case "name_prefix":
			if err := oneArg(d, &c.NamePrefix); err != nil {
				return err
			}
		case "secure":
			var raw string
			if err := oneArg(d, &raw); err != nil {
				return err
			}
			var b bool
			switch raw {
			case "on", "true":
				b = true
			case "off", "false":
				b = false
			default:
				return d.Errf("cookie secure must be on or off, got %q", raw)
			}
			c.Secure = &b
		case "domain":
			if err := oneArg(d, &c.Domain); err != nil {
				return err
			}
		default:
			return d.Errf("unrecognized cookie subdirective %q (expected name_prefix, secure or domain)", sub)
		}
	}
	return nil
}

// oneArg reads exactly one argument on the current line into dst.
func oneArg(d *caddyfile.Dispenser, dst *string) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
