package provider

import (
	"errors"
	"net/http"
	"strings"
)

// requestURIPrefix is the URN form of RFC 9126 §2.2.
const requestURIPrefix = "urn:ietf:params:oauth:request_uri:"

type parResponse struct {
	RequestURI string `json:"request_uri"`
	ExpiresIn  int64  `json:"expires_in"`
}

// servePAR is the pushed authorization request endpoint (RFC 9126 §2). The
// client authenticates as at the token endpoint; the parameters are validated
// exactly as the authorization endpoint would, and errors come back as JSON,
// not redirects (§2.3).
func (p *Provider) servePAR(w http.ResponseWriter, r *http.Request) {
	const ev = EventPushedAuthorizationRequestError
	client, form, ok := p.tokenEndpointClient(w, r, ev)
	if !ok {
		return
	}
	if form.get("request_uri") != "" {
		p.endpointError(w, r, ev, errInvalidRequest("request_uri must not be pushed"), client.ID)
		return
	}
	if id := form.get("client_id"); id != "" && id != client.ID {
		p.endpointError(w, r, ev, errInvalidRequest("client_id does not match the authenticated client"), client.ID)
		return
	}
	in := make(params, len(form))
	for k, v := range form {
		switch k {
		case "client_secret", "client_assertion", "client_assertion_type":
			continue // credentials are not part of the authorization request
		}
		in[k] = v
	}
	in["client_id"] = client.ID
	req, _, aerr := parseAuthRequest(r.Context(), p.clients, in)
	if aerr != nil {
		p.endpointError(w, r, ev, aerr.Error, client.ID)
		return
	}
	handle := newSecret()
	exp := p.now().Add(p.cfg.Lifetimes.PushedAuthorizationRequest)
	// A public client's pushes are anyone's: bounded like the other
	// records unauthenticated callers leave behind.
	if client.Public() {
		if e, wait := p.pending.par.acquire(p.clientIP(r), secretID(handle), exp, p.now()); e != nil {
			refusePending(w, wait)
			p.endpointError(w, r, ev, e, client.ID)
			return
		}
	}
	// Stored by hash like any bearer value; the client's own grant id ties
	// it to the client for deletion.
	if err := p.pushedRequests().save(r.Context(), secretID(handle), req, client.ID, exp); err != nil {
		p.pending.par.release(secretID(handle))
		p.endpointError(w, r, ev, errServer(err), client.ID)
		return
	}
	p.emit(r, Event{Name: EventPushedAuthorizationRequestSuccess, ClientID: client.ID})
	noStore(w.Header())
	writeJSON(w, http.StatusCreated, parResponse{RequestURI: requestURIPrefix + handle, ExpiresIn: int64(p.cfg.Lifetimes.PushedAuthorizationRequest.Seconds())})
}

// pushedRequest resolves an authorization request that names a request_uri
// (RFC 9126 §4): the pushed parameters are used, once; the request must come
// from the same client. Until the pushed request is found nothing about the
// redirect URI is trusted, so every error is shown on a page.
func (p *Provider) pushedRequest(r *http.Request, in params) (*authRequest, *Client, *authError) {
	fatal := func(code, desc string) *authError {
		return &authError{Error: newError(http.StatusBadRequest, code, desc)}
	}
	ref, ok := strings.CutPrefix(in.get("request_uri"), requestURIPrefix)
	if !ok || ref == "" || len(ref) > 128 {
		return nil, nil, fatal(ErrCodeInvalidRequestURI, "request_uri is not one this server issued")
	}
	clientID := in.get("client_id")
	if clientID == "" {
		return nil, nil, fatal(ErrCodeInvalidRequest, "missing required parameter client_id")
	}
	id := secretID(ref)
	// Single use: the record goes now, whatever happens next.
	req, used, err := p.pushedRequests().take(r.Context(), id, clientID)
	if used {
		p.pending.par.release(id)
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, nil, fatal(ErrCodeInvalidRequestURI, "request_uri is invalid, expired or already used")
	case err != nil:
		return nil, nil, &authError{Error: errServer(err)}
	}
	if req.ClientID != clientID {
		return nil, nil, fatal(ErrCodeInvalidRequestURI, "request_uri was pushed by another client")
	}
	client, err := p.clients.Client(r.Context(), clientID)
	if err != nil {
		return nil, nil, fatal(ErrCodeInvalidRequestURI, "request_uri is invalid, expired or already used")
	}
	return req, client, nil
}

// requiresPAR reports whether the client's authorization requests must be
// pushed (RFC 9126 §5, §6).
func (p *Provider) requiresPAR(c *Client) bool {
	return p.cfg.RequirePushedAuthorizationRequests || c.RequirePushedAuthorizationRequests
}
