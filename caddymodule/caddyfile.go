package caddymodule

import (
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
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

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	oidc_provider {
//		issuer <url>
//		storage <dir>
//		signing_key <algorithm> [<pem file>]
//		lifetimes {
//			authorization_code <duration>
//			access_token       <duration>
//			id_token           <duration>
//			session            <duration>
//			interaction        <duration>
//			grant              <duration>
//		}
//		client <client_id> {
//			name <display name>
//			secret <secret>
//			redirect_uri <uri...>
//			post_logout_redirect_uri <uri...>
//			grant_types <type...>
//			auth_method client_secret_basic|client_secret_post|none
//			public
//			skip_consent
//		}
//		user <login> {
//			password_hash <bcrypt hash>
//			subject <sub>
//			claim <name> <value>
//		}
//		users_file <file>
//		cookie {
//			name_prefix <prefix>
//			secure on|off
//			domain <domain>
//		}
//		templates <dir>
//		log_exporter otlp|console|none
//	}
//
// signing_key, client, user, claim, redirect_uri and
// post_logout_redirect_uri may be repeated. The issuer is a subdirective, not
// an argument, because a first argument starting with "/" would be taken as
// a path matcher.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name; the dispenser was reset after matcher extraction
	if d.NextArg() {
		return d.Errf("oidc_provider takes no arguments; put the issuer inside the block: oidc_provider { issuer %s }", d.Val())
	}
	for d.NextBlock(0) {
		switch sub := d.Val(); sub {
		case "issuer":
			if h.Issuer != "" {
				return d.Err("issuer already specified")
			}
			if err := oneArg(d, &h.Issuer); err != nil {
				return err
			}
		case "storage":
			if h.Storage != nil {
				return d.Err("storage already specified")
			}
			h.Storage = new(StorageConfig)
			if err := oneArg(d, &h.Storage.Dir); err != nil {
				return err
			}
		case "signing_key":
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return d.Errf("usage: signing_key <%s> [<pem file>]", strings.Join(signingAlgorithms, "|"))
			}
			if !slices.Contains(signingAlgorithms, args[0]) {
				return d.Errf("signing_key: unsupported algorithm %q (supported: %s)", args[0], strings.Join(signingAlgorithms, ", "))
			}
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
			if err := h.Lifetimes.unmarshalCaddyfile(d); err != nil {
				return err
			}
		case "client":
			var c ClientConfig
			if err := c.unmarshalCaddyfile(d); err != nil {
				return err
			}
			h.Clients = append(h.Clients, c)
		case "user":
			var u UserConfig
			if err := u.unmarshalCaddyfile(d); err != nil {
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
		case "log_exporter":
			if err := oneArg(d, &h.LogExporter); err != nil {
				return err
			}
			if h.LogExporter == "" || !slices.Contains(logExporters, h.LogExporter) {
				return d.Errf("log_exporter must be otlp, console or none, got %q", h.LogExporter)
			}
		default:
			return d.Errf("unrecognized oidc_provider subdirective %q (expected issuer, storage, signing_key, lifetimes, client, user, users_file, cookie, templates or log_exporter)", sub)
		}
	}
	if h.Issuer == "" {
		return d.Err("oidc_provider: issuer is required, e.g. issuer https://auth.example.com")
	}
	return nil
}

func (l *LifetimesConfig) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	fields := map[string]*caddy.Duration{
		"authorization_code": &l.AuthorizationCode,
		"access_token":       &l.AccessToken,
		"id_token":           &l.IDToken,
		"session":            &l.Session,
		"interaction":        &l.Interaction,
		"grant":              &l.Grant,
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		field, ok := fields[name]
		if !ok {
			return d.Errf("unrecognized lifetimes subdirective %q (expected authorization_code, access_token, id_token, session, interaction or grant)", name)
		}
		var raw string
		if err := oneArg(d, &raw); err != nil {
			return err
		}
		dur, err := caddy.ParseDuration(raw)
		if err != nil {
			return d.Errf("lifetimes %s: invalid duration %q (use e.g. 90s, 10m, 1h, 14d): %v", name, raw, err)
		}
		if dur <= 0 {
			return d.Errf("lifetimes %s: must be positive, got %q", name, raw)
		}
		*field = caddy.Duration(dur)
	}
	return nil
}

func (c *ClientConfig) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.Err("usage: client <client_id> { ... }")
	}
	c.ClientID = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
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
			c.RedirectURIs = append(c.RedirectURIs, uris...)
		case "post_logout_redirect_uri":
			uris := d.RemainingArgs()
			if len(uris) == 0 {
				return d.ArgErr()
			}
			c.PostLogoutRedirectURIs = append(c.PostLogoutRedirectURIs, uris...)
		case "grant_types":
			types := d.RemainingArgs()
			if len(types) == 0 {
				return d.ArgErr()
			}
			c.GrantTypes = append(c.GrantTypes, types...)
		case "auth_method":
			if err := oneArg(d, &c.TokenEndpointAuthMethod); err != nil {
				return err
			}
			if !slices.Contains(authMethods, c.TokenEndpointAuthMethod) {
				return d.Errf("client %s: auth_method must be one of %s, got %q", c.ClientID, strings.Join(authMethods, ", "), c.TokenEndpointAuthMethod)
			}
		case "public":
			if d.NextArg() {
				return d.ArgErr()
			}
			c.Public = true
		case "skip_consent":
			if d.NextArg() {
				return d.ArgErr()
			}
			c.SkipConsent = true
		default:
			return d.Errf("unrecognized client subdirective %q (expected name, secret, redirect_uri, post_logout_redirect_uri, grant_types, auth_method, public or skip_consent)", sub)
		}
	}
	return nil
}

func (u *UserConfig) unmarshalCaddyfile(d *caddyfile.Dispenser) error {
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
		default:
			return d.Errf("unrecognized user subdirective %q (expected password_hash, subject or claim)", sub)
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
