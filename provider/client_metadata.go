package provider

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// clientMetadata is the registrable metadata of RFC 7591 §2 and OpenID
// Connect Dynamic Client Registration 1.0 §2 that this provider honours.
// Unknown members are ignored (RFC 7591 §2), never stored.
type clientMetadata struct {
	RedirectURIs                       []string        `json:"redirect_uris,omitempty"`
	TokenEndpointAuthMethod            string          `json:"token_endpoint_auth_method,omitempty"`
	GrantTypes                         []string        `json:"grant_types,omitempty"`
	ResponseTypes                      []string        `json:"response_types"` // no omitempty: [] (no authorization endpoint use) is not "omitted"
	ApplicationType                    string          `json:"application_type,omitempty"`
	ClientName                         string          `json:"client_name,omitempty"`
	ClientURI                          string          `json:"client_uri,omitempty"`
	LogoURI                            string          `json:"logo_uri,omitempty"`
	PolicyURI                          string          `json:"policy_uri,omitempty"`
	TOSURI                             string          `json:"tos_uri,omitempty"`
	Contacts                           []string        `json:"contacts,omitempty"`
	Scope                              string          `json:"scope,omitempty"`
	JWKSURI                            string          `json:"jwks_uri,omitempty"`
	JWKS                               json.RawMessage `json:"jwks,omitempty"`
	PostLogoutRedirectURIs             []string        `json:"post_logout_redirect_uris,omitempty"`
	BackchannelLogoutURI               string          `json:"backchannel_logout_uri,omitempty"`
	BackchannelLogoutSessionRequired   bool            `json:"backchannel_logout_session_required,omitempty"`
	RequirePushedAuthorizationRequests bool            `json:"require_pushed_authorization_requests,omitempty"`
	SubjectType                        string          `json:"subject_type,omitempty"`
	IDTokenSignedResponseAlg           string          `json:"id_token_signed_response_alg,omitempty"`
	TokenEndpointAuthSigningAlg        string          `json:"token_endpoint_auth_signing_alg,omitempty"`
	SoftwareID                         string          `json:"software_id,omitempty"`
	SoftwareVersion                    string          `json:"software_version,omitempty"`
	// ClaimsInIDToken is this provider's own member (not in RFC 7591 or
	// OIDC Registration): Client.ClaimsInIDToken.
	ClaimsInIDToken bool `json:"claims_in_id_token,omitempty"`
}

// Bounds on registrable metadata: generous for real clients, and they keep a
// hostile registration from storing megabytes per client.
const (
	maxURIs        = 20
	maxContacts    = 10
	maxURILen      = 2048
	maxNameLen     = 256
	maxScopeLen    = 1024
	maxMetadataLen = 32 << 10
)

func errInvalidClientMetadata(desc string) *Error {
	return newError(http.StatusBadRequest, ErrCodeInvalidClientMetadata, desc)
}

func errInvalidRedirectURI(desc string) *Error {
	return newError(http.StatusBadRequest, ErrCodeInvalidRedirectURI, desc)
}

// parseClientMetadata decodes and validates a registration or update
// request body. Type errors name the member, never echo the value.
func (p *Provider) parseClientMetadata(body []byte) (*clientMetadata, *Error) {
	if len(body) > maxMetadataLen {
		return nil, errInvalidClientMetadata("the metadata document is too large")
	}
	if !utf8.Valid(body) {
		return nil, errInvalidClientMetadata("the metadata document is not valid UTF-8")
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, errInvalidClientMetadata("the metadata document must be a JSON object")
	}
	var m clientMetadata
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&m); err != nil {
		var te *json.UnmarshalTypeError
		if errorAs(err, &te) && te.Field != "" {
			return nil, errInvalidClientMetadata("metadata member " + safeParamName(te.Field) + " has the wrong type")
		}
		return nil, errInvalidClientMetadata("the metadata document is not valid JSON")
	}
	if dec.More() {
		return nil, errInvalidClientMetadata("trailing data after the metadata document")
	}
	if e := p.validateClientMetadata(&m); e != nil {
		return nil, e
	}
	return &m, nil
}

func (p *Provider) validateClientMetadata(m *clientMetadata) *Error {
	if m.ApplicationType == "" {
		m.ApplicationType = "web"
	}
	if m.ApplicationType != "web" && m.ApplicationType != "native" {
		return errInvalidClientMetadata("application_type must be web or native")
	}
	// RFC 7591 §2: the defaults of response_types (["code"]) and
	// grant_types (["authorization_code"]) apply only when the member is
	// omitted (decoded as nil, as is null); an explicit [] is a value.
	if m.GrantTypes == nil {
		m.GrantTypes = []string{GrantTypeAuthorizationCode}
	}
	if len(m.GrantTypes) == 0 {
		return errInvalidClientMetadata("grant_types must name at least one grant type")
	}
	if m.ResponseTypes == nil {
		m.ResponseTypes = []string{"code"}
		// A pure machine client (client_credentials, device) that leaves
		// the member out means "no authorization endpoint", not "code".
		machine := slices.Contains(m.GrantTypes, GrantTypeClientCredentials) || slices.Contains(m.GrantTypes, GrantTypeDeviceCode)
		if machine && !slices.Contains(m.GrantTypes, GrantTypeAuthorizationCode) && len(m.RedirectURIs) == 0 {
			m.ResponseTypes = []string{}
		}
	}
	if len(m.ResponseTypes) > 4 || len(m.GrantTypes) > 4 {
		return errInvalidClientMetadata("too many response_types or grant_types")
	}
	for _, rt := range m.ResponseTypes {
		if rt != "code" {
			return errInvalidClientMetadata("only the code response type is supported")
		}
	}
	for _, gt := range m.GrantTypes {
		if !slices.Contains(supportedGrantTypes, gt) {
			return errInvalidClientMetadata("unsupported grant type")
		}
	}
	// RFC 7591 §2.1: response_types and grant_types must agree; the code
	// response type and the authorization_code grant go together.
	codeResponse, codeGrant := slices.Contains(m.ResponseTypes, "code"), slices.Contains(m.GrantTypes, GrantTypeAuthorizationCode)
	if codeResponse && !codeGrant {
		return errInvalidClientMetadata("response type code needs the authorization_code grant type")
	}
	if codeGrant && !codeResponse {
		return errInvalidClientMetadata("the authorization_code grant type needs the code response type")
	}
	if m.TokenEndpointAuthMethod == "" {
		m.TokenEndpointAuthMethod = AuthMethodClientSecretBasic
	}
	switch m.TokenEndpointAuthMethod {
	case AuthMethodClientSecretBasic, AuthMethodClientSecretPost, AuthMethodNone, AuthMethodPrivateKeyJWT:
	case AuthMethodClientSecretJWT:
		if len(p.cfg.SecretKey) == 0 {
			return errInvalidClientMetadata("client_secret_jwt is not available on this provider")
		}
	default:
		return errInvalidClientMetadata("unsupported token_endpoint_auth_method")
	}
	if m.TokenEndpointAuthMethod == AuthMethodNone && slices.Contains(m.GrantTypes, GrantTypeClientCredentials) {
		return errInvalidClientMetadata("a public client cannot use client_credentials")
	}
	if m.JWKSURI != "" && len(m.JWKS) > 0 {
		return errInvalidClientMetadata("jwks and jwks_uri are mutually exclusive")
	}
	jwtAuth := m.TokenEndpointAuthMethod == AuthMethodPrivateKeyJWT || m.TokenEndpointAuthMethod == AuthMethodClientSecretJWT
	if (jwtAuth || len(m.JWKS) > 0) && p.cfg.Assertions == nil {
		return errInvalidClientMetadata("JWT client authentication is not available on this provider")
	}
	if len(m.JWKS) > 0 {
		if err := p.cfg.Assertions.CheckClientJWKS(m.JWKS); err != nil {
			return errInvalidClientMetadata("jwks is not a valid public JWK Set")
		}
	}
	if m.JWKSURI != "" {
		if e := p.checkOutboundURI(m.JWKSURI, "jwks_uri", true); e != nil {
			return e
		}
	}
	if m.TokenEndpointAuthMethod == AuthMethodPrivateKeyJWT && len(m.JWKS) == 0 && m.JWKSURI == "" {
		return errInvalidClientMetadata("private_key_jwt needs jwks or jwks_uri")
	}
	if slices.Contains(m.GrantTypes, GrantTypeAuthorizationCode) && len(m.RedirectURIs) == 0 {
		return errInvalidRedirectURI("redirect_uris is required for the authorization_code grant")
	}
	if len(m.RedirectURIs) > maxURIs || len(m.PostLogoutRedirectURIs) > maxURIs {
		return errInvalidClientMetadata("too many redirect URIs")
	}
	for _, u := range m.RedirectURIs {
		if e := checkRedirectURI(u, m.ApplicationType); e != nil {
			return e
		}
	}
	for _, u := range m.PostLogoutRedirectURIs {
		if e := checkRedirectURI(u, m.ApplicationType); e != nil {
			return errInvalidClientMetadata("post_logout_redirect_uris: " + e.Description)
		}
	}
	if m.BackchannelLogoutURI != "" {
		if e := p.checkOutboundURI(m.BackchannelLogoutURI, "backchannel_logout_uri", false); e != nil {
			return e
		}
	}
	for name, v := range map[string]string{"client_uri": m.ClientURI, "logo_uri": m.LogoURI, "policy_uri": m.PolicyURI, "tos_uri": m.TOSURI} {
		if v != "" {
			if e := checkWebURI(v, name, false); e != nil {
				return e
			}
		}
	}
	if len(m.ClientName) > maxNameLen || len(m.SoftwareID) > maxNameLen || len(m.SoftwareVersion) > maxNameLen {
		return errInvalidClientMetadata("client_name, software_id and software_version are limited to 256 bytes")
	}
	if len(m.Contacts) > maxContacts {
		return errInvalidClientMetadata("too many contacts")
	}
	for _, c := range m.Contacts {
		if len(c) > maxNameLen {
			return errInvalidClientMetadata("a contact is too long")
		}
		if _, err := mail.ParseAddress(c); err != nil {
			return errInvalidClientMetadata("contacts must be e-mail addresses")
		}
	}
	if len(m.Scope) > maxScopeLen {
		return errInvalidClientMetadata("scope is too long")
	}
	// A registered client holds only scopes the operator lets registered
	// clients hold: anyone able to register must not mint tokens with
	// scopes of their choosing (the value is not echoed). The OpenID scopes
	// are the exception: they only say what the client will ask users for,
	// and each user's consent decides; relying parties routinely send them.
	for _, s := range strings.Fields(m.Scope) {
		if !slices.Contains(supportedScopes, s) && !slices.Contains(p.cfg.Registration.AllowedScopes, s) {
			return errInvalidClientMetadata("scope names a scope registered clients may not hold")
		}
	}
	if m.SubjectType != "" && m.SubjectType != "public" {
		return errInvalidClientMetadata("only the public subject type is supported")
	}
	// OIDC Registration §2: any alg of a configured key (the value is not
	// echoed); "none" never, as no key has it.
	if err := p.checkIDTokenAlg(m.IDTokenSignedResponseAlg); err != nil {
		return errInvalidClientMetadata(err.Error())
	}
	return nil
}

// checkRedirectURI applies RFC 6749 §3.1.2 and OIDC Registration §2
// (application_type): web clients use https, or http only on a loopback
// host; native clients use a private-use scheme, https, or http loopback
// (RFC 8252 §7). Schemes that run code in the browser are never allowed.
func checkRedirectURI(raw, appType string) *Error {
	if len(raw) > maxURILen {
		return errInvalidRedirectURI("a redirect URI is too long")
	}
	if strings.Contains(raw, "#") {
		return errInvalidRedirectURI("redirect URIs must not contain a fragment")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return errInvalidRedirectURI("redirect URIs must be absolute URIs")
	}
	scheme := strings.ToLower(u.Scheme)
	switch scheme {
	case "javascript", "data", "vbscript", "file", "about", "blob", "filesystem":
		return errInvalidRedirectURI("redirect URI scheme " + scheme + " is not allowed")
	case "https":
		if u.Host == "" {
			return errInvalidRedirectURI("https redirect URIs need a host")
		}
	case "http":
		if !isLoopback(u.Hostname()) {
			return errInvalidRedirectURI("http redirect URIs are allowed only on loopback hosts; use https")
		}
	default:
		if appType != "native" {
			return errInvalidRedirectURI("web clients must use https redirect URIs")
		}
		// RFC 8252 §7.1: private-use schemes are reverse domain names.
		if !strings.Contains(scheme, ".") {
			return errInvalidRedirectURI("private-use URI schemes must be reverse domain names (RFC 8252 §7.1)")
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkWebURI: an absolute https URL (http on loopback allowed when
// loopbackHTTP is false? no: only https for keys) without fragment.
func checkWebURI(raw, member string, httpsOnly bool) *Error {
	if len(raw) > maxURILen {
		return errInvalidClientMetadata(member + " is too long")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" || strings.Contains(raw, "#") {
		return errInvalidClientMetadata(member + " must be an absolute URL without fragment")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if httpsOnly || !isLoopback(u.Hostname()) {
			return errInvalidClientMetadata(member + " must use https")
		}
	default:
		return errInvalidClientMetadata(member + " must use https")
	}
	return nil
}

// checkOutboundURI checks a URL the provider will call for a registered
// client (jwks_uri, backchannel_logout_uri): an absolute https URL without
// fragment, not naming a private host (an IP literal or localhost) unless
// the operator allows that host (RegistrationConfig.AllowPrivateHosts).
// http is accepted only for an allowed host's logout URL: keys, which
// decide who the client is, are fetched over https only. Names are
// checked again when dialled (outbound.go).
func (p *Provider) checkOutboundURI(raw, member string, keys bool) *Error {
	if len(raw) > maxURILen {
		return errInvalidClientMetadata(member + " is too long")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" || strings.Contains(raw, "#") {
		return errInvalidClientMetadata(member + " must be an absolute URL without fragment")
	}
	allowed := p.privateAllow.allowsHost(u.Hostname())
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if keys || !allowed {
			return errInvalidClientMetadata(member + " must use https")
		}
	default:
		return errInvalidClientMetadata(member + " must use https")
	}
	if !allowed && isPrivateHost(u.Hostname()) {
		return errInvalidClientMetadata(member + " must name a public host; the operator can allow private hosts")
	}
	return nil
}
