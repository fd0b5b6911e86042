package provider

import (
	"encoding/json"
	"net/http"
)

// discoveryDocument is OIDC Discovery 1.0 §3 / RFC 8414 §2 metadata. Only
// what is true of this provider is advertised.
type discoveryDocument struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	UserinfoEndpoint                           string   `json:"userinfo_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	RegistrationEndpoint                       string   `json:"registration_endpoint,omitempty"`
	PushedAuthorizationRequestEndpoint         string   `json:"pushed_authorization_request_endpoint"`
	EndSessionEndpoint                         string   `json:"end_session_endpoint"`
	DeviceAuthorizationEndpoint                string   `json:"device_authorization_endpoint"`
	BackchannelLogoutSupported                 bool     `json:"backchannel_logout_supported"`
	BackchannelLogoutSessionSupported          bool     `json:"backchannel_logout_session_supported"`
	RequirePushedAuthorizationRequests         bool     `json:"require_pushed_authorization_requests"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported,omitempty"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	SubjectTypesSupported                      []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported           []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	ClaimsSupported                            []string `json:"claims_supported"`
	ACRValuesSupported                         []string `json:"acr_values_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	PromptValuesSupported                      []string `json:"prompt_values_supported"`
	ClaimsParameterSupported                   bool     `json:"claims_parameter_supported"`
	RequestParameterSupported                  bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported               bool     `json:"request_uri_parameter_supported"` // Discovery §3 defaults this to true: say false explicitly
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
}

func (p *Provider) buildDiscovery() ([]byte, error) {
	claims := []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "at_hash", "sid"}
	for _, s := range []string{"profile", "email", "address", "phone"} {
		claims = append(claims, scopeClaims[s]...)
	}
	doc := discoveryDocument{
		Issuer:                p.cfg.Issuer,
		AuthorizationEndpoint: p.cfg.Issuer + PathAuthorization,
		TokenEndpoint:         p.cfg.Issuer + PathToken,
		UserinfoEndpoint:      p.cfg.Issuer + PathUserinfo,
		JWKSURI:               p.cfg.Issuer + PathJWKS,
		IntrospectionEndpoint: p.cfg.Issuer + PathIntrospection,
		RevocationEndpoint:    p.cfg.Issuer + PathRevocation,
		IntrospectionEndpointAuthMethodsSupported:  []string{AuthMethodClientSecretBasic, AuthMethodClientSecretPost},
		RevocationEndpointAuthMethodsSupported:     []string{AuthMethodClientSecretBasic, AuthMethodClientSecretPost, AuthMethodNone},
		ScopesSupported:                            supportedScopes,
		ResponseTypesSupported:                     []string{"code"},
		ResponseModesSupported:                     []string{responseModeQuery, responseModeFormPost},
		GrantTypesSupported:                        supportedGrantTypes,
		SubjectTypesSupported:                      []string{"public"},
		IDTokenSigningAlgValuesSupported:           p.cfg.Signer.Algorithms(),
		TokenEndpointAuthMethodsSupported:          []string{AuthMethodClientSecretBasic, AuthMethodClientSecretPost, AuthMethodNone},
		ClaimsSupported:                            claims,
		ACRValuesSupported:                         acrValuesSupported,
		CodeChallengeMethodsSupported:              []string{"S256"},
		PromptValuesSupported:                      []string{promptNone, promptLogin, promptConsent},
		AuthorizationResponseIssParameterSupported: true,
	}
	if p.registrationEnabled() {
		doc.RegistrationEndpoint = p.cfg.Issuer + PathRegistration
	}
	doc.PushedAuthorizationRequestEndpoint = p.cfg.Issuer + PathPAR
	doc.EndSessionEndpoint = p.cfg.Issuer + PathEndSession
	doc.DeviceAuthorizationEndpoint = p.cfg.Issuer + PathDeviceAuth
	doc.BackchannelLogoutSupported, doc.BackchannelLogoutSessionSupported = true, true
	doc.RequirePushedAuthorizationRequests = p.cfg.RequirePushedAuthorizationRequests
	if p.cfg.Assertions != nil {
		jwtMethods := []string{AuthMethodClientSecretJWT, AuthMethodPrivateKeyJWT}
		doc.TokenEndpointAuthMethodsSupported = append(doc.TokenEndpointAuthMethodsSupported, jwtMethods...)
		doc.IntrospectionEndpointAuthMethodsSupported = append(doc.IntrospectionEndpointAuthMethodsSupported, jwtMethods...)
		doc.RevocationEndpointAuthMethodsSupported = append(doc.RevocationEndpointAuthMethodsSupported, jwtMethods...)
		doc.TokenEndpointAuthSigningAlgValuesSupported = []string{"RS256", "PS256", "ES256", "ES384", "EdDSA", "HS256", "HS384", "HS512"}
	}
	return json.Marshal(doc)
}

func (p *Provider) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	if cors(w, r) {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		p.endpointError(w, r, EventDiscoveryError, methodNotAllowed("GET"), "")
		return
	}
	writeCacheable(w, "application/json; charset=utf-8", p.discovery)
}

// writeCacheable serves public metadata. A short max-age lets relying parties
// and CDNs cache it while key rotation still propagates within minutes.
func writeCacheable(w http.ResponseWriter, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}
