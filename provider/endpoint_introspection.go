package provider

import (
	"net/http"
	"strings"
)

// introspectionResponse is RFC 7662 §2.2.
type introspectionResponse struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Aud       string `json:"aud,omitempty"`
	Iss       string `json:"iss,omitempty"`
	Jti       string `json:"jti,omitempty"`
	// The user's authentication, for a resource server's step-up decision
	// (RFC 9470 §6.2: auth_time and acr; amr as in the ID token, RFC 8176).
	AuthTime int64    `json:"auth_time,omitempty"`
	ACR      string   `json:"acr,omitempty"`
	AMR      []string `json:"amr,omitempty"`
}

// serveIntrospection is the introspection endpoint (RFC 7662). Callers must
// authenticate as a confidential client (§2.1 requires authorization; a
// public client could otherwise probe tokens). Anything that is not a live
// token of this provider, issued to the caller or (for a resource server,
// Client.IntrospectAnyToken) to anyone, is {"active":false} and nothing
// more (§2.2).
func (p *Provider) serveIntrospection(w http.ResponseWriter, r *http.Request) {
	client, form, ok := p.tokenEndpointClient(w, r, EventIntrospectionError)
	if !ok {
		return
	}
	if client.Public() {
		p.endpointError(w, r, EventIntrospectionError, errInvalidClient("introspection requires client authentication"), client.ID)
		return
	}
	token := form.get("token")
	if token == "" {
		p.endpointError(w, r, EventIntrospectionError, errInvalidRequest("missing required parameter token"), client.ID)
		return
	}
	info, err := p.lookupToken(r.Context(), token, form.get("token_type_hint"))
	if err != nil {
		p.endpointError(w, r, EventIntrospectionError, errServer(err), client.ID)
		return
	}
	resp := introspectionResponse{}
	// A token of another client is none of this client's business unless
	// the operator made it a resource server (RFC 7662 §4): answering
	// "inactive" rather than an error reveals nothing about the token.
	if info != nil && info.clientID != client.ID && !client.IntrospectAnyToken {
		info = nil
	}
	if info != nil {
		resp = introspectionResponse{Active: true, Scope: strings.Join(info.scopes, " "), ClientID: info.clientID, Sub: info.accountID,
			Exp: info.expiresAt, Iat: info.issuedAt, TokenType: "Bearer", Aud: info.audience, Iss: p.cfg.Issuer, Jti: info.jti}
		if resp.Sub == "" {
			resp.Sub = info.clientID // client_credentials: the client is the subject
		}
		if info.refresh {
			resp.TokenType = "refresh_token"
		}
		if info.accountID != "" && info.authTime > 0 {
			amr := amrOrPassword(info.amr)
			resp.AuthTime, resp.ACR, resp.AMR = info.authTime, acrOf(amr), amr
		}
	}
	noStore(w.Header())
	writeJSON(w, http.StatusOK, resp)
}
