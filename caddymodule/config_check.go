package caddymodule

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/oidcaddy/oidcaddy/provider"
)

// The configuration's rules are the provider's (provider.Config.Validate).
// This file turns the module's settings into a provider.Config, adds the
// checks only the module can make (its own settings: signing key files,
// jwks_file, the public flag, log_exporter, placeholders), and says where
// each problem is: the Caddyfile line when the Caddyfile is being parsed,
// the JSON path and Caddyfile directive otherwise.

// standInSecret replaces a secret or token that is still a placeholder
// before Provision resolves it: long enough for every length rule, so that
// only the resolved value is held to them. It never reaches an error.
const standInSecret = "placeholder-resolved-when-the-config-loads"

// settingsConfig is the provider configuration the module's settings make,
// without the components (store, signer, accounts, event sink). With repl
// nil nothing is resolved and no file is read (the Caddyfile adapter):
// placeholders stand in for values checked at Provision. With repl, the
// issuer is resolved; with resolve also secrets and tokens are, and jwks
// files read (Provision). Problems resolving are returned, under the path of
// their setting.
func (h *Handler) settingsConfig(repl *caddy.Replacer, resolve bool) (provider.Config, []provider.FieldError) {
	var problems []provider.FieldError
	cfg := provider.Config{
		Issuer:                             h.Issuer,
		Branding:                           h.Branding.toProvider(),
		Resources:                          buildResources(h.Resources),
		RequirePushedAuthorizationRequests: h.RequirePushedAuthorizationRequests,
		MaxBodyBytes:                       h.MaxBodySize,
		BodyReadTimeout:                    time.Duration(h.BodyReadTimeout),
	}
	switch {
	case repl == nil && strings.Contains(h.Issuer, "{"):
		cfg.Issuer = "https://issuer.invalid" // checked once resolved
	case repl != nil && h.Issuer != "":
		issuer, err := repl.ReplaceOrErr(h.Issuer, true, true)
		if err != nil {
			problems = append(problems, provider.FieldError{Path: "issuer", Message: "issuer: " + err.Error()})
			issuer = "https://issuer.invalid"
		}
		cfg.Issuer = issuer
	}
	if h.Lifetimes != nil {
		cfg.Lifetimes = h.Lifetimes.toProvider()
	}
	if h.PendingLimits != nil {
		cfg.PendingLimits = provider.PendingLimits{PerAddress: h.PendingLimits.PerAddress, Total: h.PendingLimits.Total}
	}
	if h.LoginThrottle != nil {
		cfg.Throttle = h.LoginThrottle.toProvider()
		cfg.MaxConcurrentPasswordChecks = h.LoginThrottle.MaxConcurrentPasswordChecks
	}
	if h.Cookies != nil {
		cfg.Cookies = provider.CookieConfig{NamePrefix: h.Cookies.NamePrefix, Secure: h.Cookies.Secure, Domain: h.Cookies.Domain}
	}
	if !resolve {
		repl = nil
	}
	var errs []provider.FieldError
	cfg.ConfiguredClients, errs = resolveClients(repl, h.Clients)
	problems = append(problems, errs...)
	cfg.Registration, errs = buildRegistration(repl, h.Registration)
	problems = append(problems, errs...)
	return cfg, problems
}

// problems is every problem of the configuration: resolving it, the
// module's own rules and the provider's. repl and resolve are as for
// settingsConfig. The ID token algorithms are checked against the
// configured signing keys, which need not be loaded for that.
func (h *Handler) problems(repl *caddy.Replacer, resolve bool) (provider.Config, []provider.FieldError) {
	cfg, problems := h.settingsConfig(repl, resolve)
	problems = append(problems, h.moduleProblems()...)
	cfg.Signer = keyPlan(h.signingAlgorithms())
	var verrs provider.ValidationErrors
	if err := cfg.Validate(); errors.As(err, &verrs) {
		problems = append(problems, verrs...)
	}
	cfg.Signer = nil
	return cfg, problems
}

var logExporters = []string{"", "otlp", "console", "none"}

// moduleProblems checks the settings that exist only in the module: files,
// the public flag, the JSON form of the reuse grace, log export.
func (h *Handler) moduleProblems() []provider.FieldError {
	var problems []provider.FieldError
	add := func(path, format string, args ...any) {
		problems = append(problems, provider.FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if !slices.Contains(logExporters, h.LogExporter) {
		add("log_exporter", "log_exporter must be otlp, console or none, got %q", h.LogExporter)
	}
	defaultFiles := map[string]bool{}
	for i, k := range h.SigningKeys {
		path := "signing_keys[" + strconv.Itoa(i) + "]"
		alg := k.algorithm()
		if !slices.Contains(provider.SigningAlgorithms, alg) {
			add(path+".algorithm", "signing key %d: unsupported algorithm %q (supported: %s)", i+1, k.Algorithm, strings.Join(provider.SigningAlgorithms, ", "))
			continue
		}
		if k.File == "" {
			if defaultFiles[alg] {
				add(path+".file", "signing key %d: a second %s key without a file would share the default file; give it a file", i+1, alg)
			}
			defaultFiles[alg] = true
		}
	}
	// Lifetimes other than this one are the provider's to check; here 0
	// means "none", which the provider spells as a negative value.
	if l := h.Lifetimes; l != nil && l.RefreshTokenReuseGrace != nil && *l.RefreshTokenReuseGrace < 0 {
		add("lifetimes.refresh_token_reuse_grace", "lifetimes: refresh_token_reuse_grace must not be negative")
	}
	for i, c := range h.Clients {
		path := "clients[" + strconv.Itoa(i) + "]"
		if m := c.TokenEndpointAuthMethod; c.Public && m != "" && m != provider.AuthMethodNone {
			add(path+".token_endpoint_auth_method", "client %q: a public client authenticates with method none, not %s", c.ClientID, m)
		}
		if c.JWKSFile != "" && c.JWKSURI != "" {
			add(path+".jwks_uri", "client %q: jwks_file and jwks_uri are mutually exclusive", c.ClientID)
		}
		if c.TokenEndpointAuthMethod == "" && !c.Public && c.ClientSecret == "" && c.JWKSFile == "" && c.JWKSURI == "" {
			add(path, "client %q: set a client_secret, a jwks_file or jwks_uri, or mark the client public", c.ClientID)
		}
	}
	for i, u := range h.Users {
		if u.Login == "" {
			add("users["+strconv.Itoa(i)+"].login", "user %d: login is required", i+1)
		}
		// A literal secret can be checked now, and so at its Caddyfile
		// line; one behind a placeholder is checked once resolved.
		// ParseTOTPKey's errors never quote the secret.
		if u.TOTPSecret != "" && !strings.Contains(u.TOTPSecret, "{") {
			if _, err := provider.ParseTOTPKey(u.TOTPSecret); err != nil {
				add("users["+strconv.Itoa(i)+"].totp_secret", "user %q: totp_secret: %v", u.Login, err)
			}
		}
	}
	return problems
}

// checkStatic finds the mistakes that need no file and no secret (the
// Caddyfile adapter makes the same check, naming lines). Errors name the
// JSON path and the Caddyfile directive.
func (h *Handler) checkStatic() error {
	_, problems := h.problems(caddy.NewReplacer(), false)
	return h.describe(problems)
}

// describe turns problems into one error whose lines each name the JSON
// path and the Caddyfile directive of a problem.
func (h *Handler) describe(problems []provider.FieldError) error {
	if len(problems) == 0 {
		return nil
	}
	lines := make([]error, len(problems))
	for i, p := range problems {
		if d := h.caddyfileDirective(p.Path); d != "" {
			lines[i] = fmt.Errorf("%s (Caddyfile: %s)", p.Error(), d)
		} else {
			lines[i] = p
		}
	}
	return errors.Join(lines...)
}

var pathSegment = regexp.MustCompile(`^([a-z_]+)(?:\[(\d+|"[^"]*")\])?(?:\[(\d+)\])?$`)

// caddyfileNames are the Caddyfile's names for JSON fields that differ.
var caddyfileNames = map[string]string{
	"clients": "client", "resources": "resource", "signing_keys": "signing_key", "users": "user", "cookies": "cookie",
	"client_name": "name", "client_secret": "secret", "redirect_uris": "redirect_uri",
	"post_logout_redirect_uris": "post_logout_redirect_uri", "token_endpoint_auth_method": "auth_method",
	"require_pushed_authorization_requests": "require_par", "initial_access_tokens": "initial_access_token",
	"rate_limit": "rate", "rate_window": "rate", "templates_dir": "templates",
	"identifier": "", "login": "", "algorithm": "", "file": "",
}

// caddyfileDirective names the Caddyfile directive of a JSON path, e.g.
// clients[2].redirect_uris[0] is `client app { redirect_uri }`.
func (h *Handler) caddyfileDirective(path string) string {
	if path == "" {
		return ""
	}
	var words []string
	for _, seg := range strings.Split(path, ".") {
		m := pathSegment.FindStringSubmatch(seg)
		if m == nil {
			return ""
		}
		name, ok := caddyfileNames[m[1]]
		if !ok {
			name = m[1]
		}
		if name == "" {
			continue
		}
		if i, err := strconv.Atoi(m[2]); err == nil && len(words) == 0 {
			switch m[1] {
			case "clients":
				if i < len(h.Clients) {
					name += " " + h.Clients[i].ClientID
				}
			case "resources":
				if i < len(h.Resources) {
					name += " " + h.Resources[i].Identifier
				}
			case "users":
				if i < len(h.Users) {
					name += " " + h.Users[i].Login
				}
			}
		}
		words = append(words, name)
	}
	if len(words) == 0 {
		return ""
	}
	return strings.Join(words, " { ") + strings.Repeat(" }", len(words)-1)
}

// caddyfilePositions records, while the Caddyfile is parsed, where each
// setting came from: JSON path to "file:line". Settings in a list record
// each element (clients[0].redirect_uris[1]) as well as the list's
// directive.
type caddyfilePositions map[string]string

// at records the dispenser's current line for path.
func (p caddyfilePositions) at(d interface{ WrapErr(error) error }, path string) {
	// WrapErr is the dispenser's own "file:line (import chain)" suffix.
	p[path] = strings.TrimPrefix(d.WrapErr(errors.New("")).Error(), ", at ")
}

// of is the recorded position of path, or of the nearest enclosing setting
// (clients[0].redirect_uris[3] falls back to clients[0].redirect_uris, then
// clients[0]); the end of the oidc_provider block is recorded as "".
func (p caddyfilePositions) of(path string) string {
	for {
		if pos, ok := p[path]; ok {
			return pos
		}
		cut := max(strings.LastIndexByte(path, '.'), strings.LastIndexByte(path, '['))
		if cut < 0 {
			if path == "" {
				return ""
			}
			path = ""
			continue
		}
		path = path[:cut]
	}
}

// errorAt reports problems found at the end of parsing the Caddyfile, each
// at the line of its setting.
func (p caddyfilePositions) errorAt(problems []provider.FieldError) error {
	if len(problems) == 0 {
		return nil
	}
	problems = slices.Clone(problems)
	// In the order of the file.
	slices.SortStableFunc(problems, func(a, b provider.FieldError) int {
		return lineOf(p.of(a.Path)) - lineOf(p.of(b.Path))
	})
	lines := make([]error, len(problems))
	for i, pr := range problems {
		msg := pr.Message
		if pr.Path != "" {
			msg += " (" + pr.Path + ")"
		}
		lines[i] = fmt.Errorf("%s, at %s", msg, p.of(pr.Path))
	}
	return errors.Join(lines...)
}

// lineOf is the line number of a "file:line ..." position.
func lineOf(pos string) int {
	pos, _, _ = strings.Cut(pos, " ")
	n, _ := strconv.Atoi(pos[strings.LastIndexByte(pos, ':')+1:])
	return n
}

// keyPlan is the configured signing keys before they are loaded: their
// algorithms are all that validation needs. It signs nothing.
type keyPlan []string

var errKeysNotLoaded = errors.New("signing keys are not loaded yet")

func (k keyPlan) SignJWT(map[string]any, string) (string, error) { return "", errKeysNotLoaded }
func (k keyPlan) SignJWTWithAlg(string, map[string]any, string) (string, error) {
	return "", errKeysNotLoaded
}
func (k keyPlan) Algorithm() string                                { return k[0] }
func (k keyPlan) PublicJWKS() []byte                               { return nil }
func (k keyPlan) Algorithms() []string                             { return k }
func (k keyPlan) VerifyJWT(string, string) (map[string]any, error) { return nil, errKeysNotLoaded }
