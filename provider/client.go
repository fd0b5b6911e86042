package provider

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"slices"
	"strings"
)

// Client authentication methods (OIDC Core §9, RFC 7591 §2).
const (
	AuthMethodClientSecretBasic = "client_secret_basic"
	AuthMethodClientSecretPost  = "client_secret_post"
	AuthMethodClientSecretJWT   = "client_secret_jwt"
	AuthMethodPrivateKeyJWT     = "private_key_jwt"
	AuthMethodNone              = "none"
)

// Grant types.
const (
	GrantTypeAuthorizationCode = "authorization_code"
	GrantTypeRefreshToken      = "refresh_token"
	GrantTypeClientCredentials = "client_credentials"
	GrantTypeDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
)

// Client is a registered OAuth client (relying party).
type Client struct {
	ID   string
	Name string
	// secretHash is SHA-256 of the client secret; empty for public clients.
	secretHash []byte
	// hmacKey is the secret itself, kept (in memory only) for
	// client_secret_jwt, whose assertions are HMACs keyed by it.
	hmacKey []byte
	// RedirectURIs are compared exactly (OIDC Core §3.1.2.1, RFC 6749 §3.1.2.3).
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// GrantTypes the client may use; empty means authorization_code.
	GrantTypes []string
	// TokenEndpointAuthMethod; "none" makes the client public (PKCE required).
	TokenEndpointAuthMethod string
	// AuthMethodDefaulted: TokenEndpointAuthMethod was not chosen explicitly
	// (no auth_method in the Caddyfile, no token_endpoint_auth_method at
	// registration) but filled in as client_secret_basic for a client with a
	// secret. Such a client may then authenticate by either secret method.
	AuthMethodDefaulted bool
	// SkipConsent marks a first-party client whose requests need no consent
	// screen (the operator vouches for it).
	SkipConsent bool
	// AccessTokenFormat is TokenFormatOpaque (default) or TokenFormatJWT.
	AccessTokenFormat string
	// AllowedScopes bounds what the client may request with the
	// client_credentials grant; an empty scope parameter gets all of them.
	AllowedScopes []string
	// AlwaysIssueRefreshToken issues refresh tokens on code exchange even
	// without offline_access (the client must allow the refresh_token grant).
	AlwaysIssueRefreshToken bool
	// DisableRefreshTokenRotation keeps one refresh token for the life of the
	// grant instead of replacing it on every use (rotation is the default,
	// RFC 9700 §4.14.2).
	DisableRefreshTokenRotation bool
	// JWKS is the client's public JWK Set document for private_key_jwt.
	JWKS []byte
	// JWKSURI is where the client publishes it instead (fetched on use).
	JWKSURI string
	// RequirePushedAuthorizationRequests: authorization requests must come
	// through PAR (RFC 9126 §6).
	RequirePushedAuthorizationRequests bool
	// BackchannelLogoutURI receives logout tokens.
	BackchannelLogoutURI string
	// Resources lists the resource identifiers (Config.Resources) the client
	// may ask tokens for with the resource parameter (RFC 8707). For a
	// configured client, empty means every configured resource; a client
	// that registered itself may use none unless the operator lists them.
	Resources []string
	// IDTokenSignedResponseAlg is the JWS alg of the client's ID tokens
	// (OIDC Registration §2); it must be the alg of a configured signing
	// key. Empty means the active key's alg.
	IDTokenSignedResponseAlg string
	// ClaimsInIDToken puts the claims of the granted scopes (what userinfo
	// returns: name, email, ...) in the client's ID tokens too, for
	// applications that read them only there. OIDC Core §5.4 allows both;
	// by default they are served by userinfo only.
	ClaimsInIDToken bool
	// ClientURI is the application's home page (RFC 7591 client_uri): an
	// error page links back to it.
	ClientURI string
	// IntrospectAnyToken makes the client a resource server that may
	// introspect tokens issued to other clients (RFC 7662 §4 leaves to the
	// server which callers learn about which tokens). Without it a client
	// learns only about its own tokens; others' answer {"active":false}.
	// Only the operator sets it: registered clients never have it.
	IntrospectAnyToken bool

	dynamic     bool  // registered over RFC 7591, stored in the Store
	unusedUntil int64 // a registered client that has not yet obtained a token expires then (unix s)
}

// SetSecret stores only a hash of secret; the plaintext is not kept.
func (c *Client) SetSecret(secret string) {
	if secret == "" {
		c.secretHash = nil
		return
	}
	h := sha256.Sum256([]byte(secret))
	c.secretHash = h[:]
	c.hmacKey = []byte(secret)
}

// HasSecret reports whether a secret is configured.
func (c *Client) HasSecret() bool { return len(c.secretHash) > 0 }

// CheckSecret compares in constant time.
func (c *Client) CheckSecret(secret string) bool {
	if len(c.secretHash) == 0 {
		return false
	}
	h := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(h[:], c.secretHash) == 1
}

// acceptsAuthMethod reports whether the client may authenticate by method.
// An explicit method pins the client to it. A client whose method was only
// defaulted accepts both ways of sending its secret, client_secret_basic and
// client_secret_post: discovery advertises both, and relying parties pick
// differently (openid-client posts the secret, zitadel's rp sends it in the
// header at login and in the body at refresh). JWT methods and "none" are
// never defaulted into one another. One method per request (RFC 6749 §2.3)
// is enforced by the caller.
func (c *Client) acceptsAuthMethod(method string) bool {
	if method == c.TokenEndpointAuthMethod {
		return true
	}
	return c.AuthMethodDefaulted && isSecretAuthMethod(method) && isSecretAuthMethod(c.TokenEndpointAuthMethod)
}

func isSecretAuthMethod(m string) bool {
	return m == AuthMethodClientSecretBasic || m == AuthMethodClientSecretPost
}

// Public reports whether the client cannot keep a secret.
func (c *Client) Public() bool { return c.TokenEndpointAuthMethod == AuthMethodNone }

// AllowsGrant reports whether the client may use grant type gt.
func (c *Client) AllowsGrant(gt string) bool {
	if len(c.GrantTypes) == 0 {
		return gt == GrantTypeAuthorizationCode
	}
	return slices.Contains(c.GrantTypes, gt)
}

// Validate checks the client's configuration for consistency and returns
// every problem found (ValidationErrors; paths relative to the client).
func (c *Client) Validate() error {
	return ValidationErrors(c.fieldErrors("", nil)).orNil()
}

var authMethods = []string{AuthMethodClientSecretBasic, AuthMethodClientSecretPost, AuthMethodClientSecretJWT, AuthMethodPrivateKeyJWT, AuthMethodNone}

// fieldErrors checks the client, naming its fields below path. With algs
// (the signing keys' algorithms) it also checks the ID token alg has a key.
func (c *Client) fieldErrors(path string, algs []string) []FieldError {
	var p problems
	at := func(field string) string {
		if path == "" {
			return field
		}
		return path + "." + field
	}
	if c.ID == "" {
		p.add(at("client_id"), "client_id is required")
	}
	who := fmt.Sprintf("client %q", c.ID)
	switch c.TokenEndpointAuthMethod {
	case AuthMethodNone:
		if c.HasSecret() {
			p.add(at("client_secret"), "%s: a public client must not have a secret (auth method none)", who)
		}
	case AuthMethodClientSecretBasic, AuthMethodClientSecretPost, AuthMethodClientSecretJWT:
		switch {
		case !c.HasSecret():
			p.add(at("client_secret"), "%s: auth method %s needs a secret", who, c.TokenEndpointAuthMethod)
		case c.TokenEndpointAuthMethod == AuthMethodClientSecretJWT && len(c.hmacKey) < 32:
			p.add(at("client_secret"), "%s: client_secret_jwt needs a secret of at least 32 bytes (HS256 key size)", who)
		}
	case AuthMethodPrivateKeyJWT:
		if len(c.JWKS) == 0 && c.JWKSURI == "" {
			p.add(at("token_endpoint_auth_method"), "%s: private_key_jwt needs jwks or jwks_uri", who)
		}
	default:
		p.add(at("token_endpoint_auth_method"), "%s: token_endpoint_auth_method must be one of %s, got %q", who, strings.Join(authMethods, ", "), c.TokenEndpointAuthMethod)
	}
	for i, gt := range c.GrantTypes {
		if !slices.Contains(supportedGrantTypes, gt) {
			p.add(index(at("grant_types"), i), "%s: unsupported grant type %q (supported: %s)", who, gt, strings.Join(supportedGrantTypes, ", "))
		}
	}
	p.accessTokenFormat(at("access_token_format"), who, c.AccessTokenFormat)
	if c.IntrospectAnyToken && c.Public() {
		p.add(at("introspect_any_token"), "%s: a public client cannot introspect tokens, so it cannot be a resource server (introspect_any_token)", who)
	}
	if c.AllowsGrant(GrantTypeClientCredentials) && c.Public() {
		p.add(at("grant_types"), "%s: a public client cannot use client_credentials", who)
	}
	if c.AllowsGrant(GrantTypeAuthorizationCode) && len(c.RedirectURIs) == 0 {
		p.add(at("redirect_uris"), "%s: at least one redirect URI is required for the authorization_code grant", who)
	}
	for i, u := range c.RedirectURIs {
		if err := validateRedirectURI(u); err != nil {
			p.add(index(at("redirect_uris"), i), "%s: %s", who, err)
		}
	}
	if c.JWKSURI != "" {
		if err := CheckJWKSURI(c.JWKSURI); err != nil {
			p.add(at("jwks_uri"), "%s: %s", who, err)
		}
	}
	if c.BackchannelLogoutURI != "" {
		if err := CheckBackchannelLogoutURI(c.BackchannelLogoutURI); err != nil {
			p.add(at("backchannel_logout_uri"), "%s: %s", who, err)
		}
	}
	p.idTokenAlg(at("id_token_signed_response_alg"), who, c.IDTokenSignedResponseAlg, algs)
	return p
}

// idTokenAlg: a client may ask for an alg the provider signs with, and, once
// the keys are known (algs), one a configured key has.
func (p *problems) idTokenAlg(path, who, alg string, algs []string) {
	switch {
	case alg == "":
	case !slices.Contains(SigningAlgorithms, alg):
		p.add(path, "%s: id_token_signed_response_alg must be one of %s, got %q", who, strings.Join(SigningAlgorithms, ", "), alg)
	case algs != nil && !slices.Contains(algs, alg):
		p.add(path, "%s: id_token_signed_response_alg %s needs a signing_key of that algorithm (configured: %s)", who, alg, strings.Join(algs, ", "))
	}
}

// ClientStore looks clients up by id. It returns ErrNotFound for unknown ids.
type ClientStore interface {
	Client(ctx context.Context, id string) (*Client, error)
}

// StaticClients is a ClientStore of clients fixed at configuration time.
type StaticClients map[string]*Client

// NewStaticClients validates and indexes clients; problems are named
// clients[i], i the position in the arguments.
func NewStaticClients(clients ...*Client) (StaticClients, error) {
	var p problems
	p.clients(clients, nil, nil)
	if len(p) > 0 {
		return nil, ValidationErrors(p)
	}
	return indexClients(clients), nil
}

func indexClients(clients []*Client) StaticClients {
	m := make(StaticClients, len(clients))
	for _, c := range clients {
		m[c.ID] = c
	}
	return m
}

// Client implements ClientStore.
func (s StaticClients) Client(_ context.Context, id string) (*Client, error) {
	if c, ok := s[id]; ok {
		return c, nil
	}
	return nil, ErrNotFound
}
