package provider

import (
	"net/http"
	"slices"
	"strings"
)

// serveToken is the token endpoint (RFC 6749 §3.2).
func (p *Provider) serveToken(w http.ResponseWriter, r *http.Request) {
	client, form, ok := p.tokenEndpointClient(w, r, EventGrantError)
	if !ok {
		return
	}
	gt := form.get("grant_type")
	var resp *tokenResponse
	var grantID string
	var err error
	switch {
	case gt == "":
		err = errInvalidRequest("missing required parameter grant_type")
	case !slices.Contains(supportedGrantTypes, gt):
		err = newError(http.StatusBadRequest, ErrCodeUnsupportedGrantType, "unsupported grant_type")
	case !client.AllowsGrant(gt):
		err = newError(http.StatusBadRequest, ErrCodeUnauthorizedClient, "the client may not use this grant type")
	case gt == GrantTypeAuthorizationCode:
		resp, grantID, err = p.exchangeCode(r, client, form)
	case gt == GrantTypeRefreshToken:
		resp, grantID, err = p.refresh(r, client, form)
	case gt == GrantTypeClientCredentials:
		resp, err = p.clientCredentials(r, client, form)
	case gt == GrantTypeDeviceCode:
		resp, grantID, err = p.exchangeDeviceCode(r, client, form)
	}
	if err == nil && client.unusedUntil != 0 {
		// A registered client's first token makes it permanent
		// (RegistrationConfig.UnusedClientTTL).
		if merr := p.markClientUsed(r.Context(), client); merr != nil {
			err = errServer(merr)
		}
	}
	if err != nil {
		p.endpointError(w, r, EventGrantError, err, client.ID)
		return
	}
	p.emit(r, Event{Name: EventGrantSuccess, ClientID: client.ID, GrantID: grantID})
	noStore(w.Header())
	writeJSON(w, http.StatusOK, resp)
}

var supportedGrantTypes = []string{GrantTypeAuthorizationCode, GrantTypeRefreshToken, GrantTypeClientCredentials, GrantTypeDeviceCode}

// tokenEndpointClient does what the token, introspection and revocation
// endpoints share: POST, a form body, and client authentication.
func (p *Provider) tokenEndpointClient(w http.ResponseWriter, r *http.Request, event EventName) (*Client, params, bool) {
	if cors(w, r) {
		return nil, nil, false
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		p.endpointError(w, r, event, methodNotAllowed("POST"), "")
		return nil, nil, false
	}
	form, perr := p.readForm(w, r)
	if perr != nil {
		p.endpointError(w, r, event, perr, "")
		return nil, nil, false
	}
	client, claimedID, perr := p.authenticateClient(r, form)
	if perr != nil {
		if perr.Code == ErrCodeInvalidClient && strings.HasPrefix(r.Header.Get("Authorization"), "Basic") {
			w.Header().Set("WWW-Authenticate", `Basic realm="`+p.cfg.Issuer+`"`)
		}
		p.endpointError(w, r, event, perr, claimedID)
		return nil, nil, false
	}
	return client, form, true
}
