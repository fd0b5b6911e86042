package caddymodule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/oidcaddy/oidcaddy/provider"
)

// StorageConfig says where the provider keeps its state.
type StorageConfig struct {
	// Directory of the Badger database. Relative paths are relative to
	// Caddy's working directory. Configurations (and reloads) naming the
	// same directory share one open database. Default:
	// `<Caddy data dir>/oidc_provider/<issuer host and path>`.
	// Placeholders are resolved.
	Dir string `json:"dir,omitempty"`
}

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
}

func (l *LifetimesConfig) toProvider() provider.Lifetimes {
	return provider.Lifetimes{
		AuthorizationCode: time.Duration(l.AuthorizationCode),
		AccessToken:       time.Duration(l.AccessToken),
		IDToken:           time.Duration(l.IDToken),
		Session:           time.Duration(l.Session),
		Interaction:       time.Duration(l.Interaction),
		Grant:             time.Duration(l.Grant),
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
	// refresh_token, client_credentials.
	GrantTypes []string `json:"grant_types,omitempty"`

	// How the client authenticates at the token endpoint:
	// client_secret_basic, client_secret_post or none. Default:
	// client_secret_basic when a secret is set, none for public clients.
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method,omitempty"`

	// A public client (single-page or native app) has no secret and must
	// use PKCE.
	Public bool `json:"public,omitempty"`

	// Skip the consent page for this client: for first-party applications
	// whose access the operator approves on the users' behalf.
	SkipConsent bool `json:"skip_consent,omitempty"`
}

// UserConfig is one end-user. The same form is used in `users_file`.
type UserConfig struct {
	// What the user types on the login page (case-insensitive). Required.
	Login string `json:"login,omitempty"`

	// The stable subject identifier (`sub` claim). Default: the login.
	Subject string `json:"subject,omitempty"`

	// bcrypt hash of the password, e.g. from
	// `caddy hash-password --algorithm bcrypt` (argon2id hashes are not
	// accepted).
	PasswordHash string `json:"password_hash,omitempty"`

	// Claims released according to the granted scopes: name, email,
	// email_verified, ...
	Claims map[string]any `json:"claims,omitempty"`
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

var (
	signingAlgorithms = []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"}
	authMethods       = []string{provider.AuthMethodClientSecretBasic, provider.AuthMethodClientSecretPost, provider.AuthMethodNone}
	logExporters      = []string{"", "otlp", "console", "none"}
)

const defaultSigningAlgorithm = "RS256"

// checkStatic finds mistakes that need no resolved placeholder and no I/O,
// so that Validate and the start of Provision can share it.
func (h *Handler) checkStatic() error {
	if h.Issuer == "" {
		return errors.New("issuer is required")
	}
	if !slices.Contains(logExporters, h.LogExporter) {
		return fmt.Errorf("log_exporter must be one of otlp, console or none, got %q", h.LogExporter)
	}
	defaultFiles := map[string]bool{}
	for i, k := range h.SigningKeys {
		alg := k.algorithm()
		if !slices.Contains(signingAlgorithms, alg) {
			return fmt.Errorf("signing key %d: unsupported algorithm %q (supported: %s)", i+1, k.Algorithm, strings.Join(signingAlgorithms, ", "))
		}
		if k.File == "" {
			if defaultFiles[alg] {
				return fmt.Errorf("signing key %d: a second %s key without a file would share the default file; give it a file", i+1, alg)
			}
			defaultFiles[alg] = true
		}
	}
	if l := h.Lifetimes; l != nil {
		for name, d := range map[string]caddy.Duration{
			"authorization_code": l.AuthorizationCode, "access_token": l.AccessToken, "id_token": l.IDToken,
			"session": l.Session, "interaction": l.Interaction, "grant": l.Grant,
		} {
			if d < 0 {
				return fmt.Errorf("lifetimes: %s must not be negative", name)
			}
		}
	}
	seen := map[string]bool{}
	for i, c := range h.Clients {
		if c.ClientID == "" {
			return fmt.Errorf("client %d: client_id is required", i+1)
		}
		if seen[c.ClientID] {
			return fmt.Errorf("client %q defined twice", c.ClientID)
		}
		seen[c.ClientID] = true
		if m := c.TokenEndpointAuthMethod; m != "" && !slices.Contains(authMethods, m) {
			return fmt.Errorf("client %q: token_endpoint_auth_method must be one of %s, got %q", c.ClientID, strings.Join(authMethods, ", "), m)
		}
		if c.Public {
			if c.ClientSecret != "" {
				return fmt.Errorf("client %q: a public client must not have a secret", c.ClientID)
			}
			if m := c.TokenEndpointAuthMethod; m != "" && m != provider.AuthMethodNone {
				return fmt.Errorf("client %q: a public client authenticates with method none, not %s", c.ClientID, m)
			}
		}
	}
	for i, u := range h.Users {
		if u.Login == "" {
			return fmt.Errorf("user %d: login is required", i+1)
		}
	}
	return nil
}

func (k SigningKeyConfig) algorithm() string {
	if k.Algorithm == "" {
		return defaultSigningAlgorithm
	}
	return k.Algorithm
}

// buildClients resolves secrets and turns the configuration into the
// provider's client registry, which validates each client.
func buildClients(repl *caddy.Replacer, cfgs []ClientConfig) (provider.StaticClients, error) {
	clients := make([]*provider.Client, 0, len(cfgs))
	for _, cc := range cfgs {
		c := &provider.Client{
			ID:                      cc.ClientID,
			Name:                    cc.ClientName,
			RedirectURIs:            cc.RedirectURIs,
			PostLogoutRedirectURIs:  cc.PostLogoutRedirectURIs,
			GrantTypes:              cc.GrantTypes,
			TokenEndpointAuthMethod: cc.TokenEndpointAuthMethod,
			SkipConsent:             cc.SkipConsent,
		}
		if cc.ClientSecret != "" {
			secret, err := resolveSecret(repl, cc.ClientSecret)
			if err != nil {
				return nil, fmt.Errorf("client %q: client_secret: %w", cc.ClientID, err)
			}
			c.SetSecret(secret)
		}
		if c.TokenEndpointAuthMethod == "" {
			switch {
			case cc.Public:
				c.TokenEndpointAuthMethod = provider.AuthMethodNone
			case c.HasSecret():
				c.TokenEndpointAuthMethod = provider.AuthMethodClientSecretBasic
			default:
				return nil, fmt.Errorf("client %q: set a client_secret, or mark the client public", cc.ClientID)
			}
		}
		clients = append(clients, c)
	}
	return provider.NewStaticClients(clients...)
}

// resolveSecret resolves placeholders in a secret without ever putting the
// secret into an error: the replacer's errors quote the placeholder, which
// for a literal secret containing braces would be part of the secret.
func resolveSecret(repl *caddy.Replacer, raw string) (string, error) {
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
		users = append(users, provider.User{
			Login:        u.Login,
			Subject:      u.Subject,
			PasswordHash: u.PasswordHash,
			Claims:       u.Claims,
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
