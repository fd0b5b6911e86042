package provider

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// authenticateClient implements RFC 6749 §2.3 for the token endpoint:
// client_secret_basic, client_secret_post and none (public clients, which
// are identified but not authenticated). A client must use the method it is
// registered with (either secret method when that was only defaulted, see
// Client.acceptsAuthMethod), and only one method per request (§2.3).
// The returned client id is what the request claimed, for events, even when
// authentication failed.
func (p *Provider) authenticateClient(r *http.Request, form params) (*Client, string, *Error) {
	id, secret, basic, perr := basicCredentials(r)
	if perr != nil {
		return nil, "", perr
	}
	assertionType, assertion := form.get("client_assertion_type"), form.get("client_assertion")
	if assertionType != "" || assertion != "" {
		return p.authenticateByAssertion(r, form, basic, assertionType, assertion)
	}
	method := AuthMethodClientSecretBasic
	if basic {
		if form.get("client_secret") != "" {
			return nil, id, errInvalidRequest("client credentials must be sent by one method only")
		}
		if bodyID := form.get("client_id"); bodyID != "" && bodyID != id {
			return nil, id, errInvalidRequest("client_id in the body does not match the authenticated client")
		}
	} else {
		id, secret = form.get("client_id"), form.get("client_secret")
		method = AuthMethodClientSecretPost
		if secret == "" {
			method = AuthMethodNone
		}
	}
	if id == "" {
		return nil, "", errInvalidClient("client authentication is required")
	}
	if len(id) > maxParamLen {
		return nil, "", errInvalidClient("client authentication failed")
	}
	client, err := p.clients.Client(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		return nil, id, errInvalidClient("client authentication failed")
	}
	if err != nil {
		return nil, id, errServer(err)
	}
	if !client.acceptsAuthMethod(method) {
		return nil, id, errInvalidClient("the client must authenticate with " + client.TokenEndpointAuthMethod)
	}
	if method != AuthMethodNone && !client.CheckSecret(secret) {
		return nil, id, errInvalidClient("client authentication failed")
	}
	return client, id, nil
}

// basicCredentials decodes an Authorization: Basic header. RFC 6749 §2.3.1
// form-encodes client_id and client_secret before they are joined.
func basicCredentials(r *http.Request) (id, secret string, ok bool, e *Error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", "", false, nil
	}
	scheme, rest, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false, errInvalidClient("unsupported Authorization scheme")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return "", "", false, errInvalidClient("malformed Basic credentials")
	}
	u, p, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false, errInvalidClient("malformed Basic credentials")
	}
	if id, err = url.QueryUnescape(u); err != nil {
		return "", "", false, errInvalidClient("malformed Basic credentials")
	}
	if secret, err = url.QueryUnescape(p); err != nil {
		return "", "", false, errInvalidClient("malformed Basic credentials")
	}
	return id, secret, true, nil
}

// authenticateByAssertion handles client_assertion (RFC 7521 §4.2, RFC 7523
// §2.2): exactly one authentication method, the JWT bearer assertion type,
// and client_id, when sent, naming the assertion's subject.
func (p *Provider) authenticateByAssertion(r *http.Request, form params, basic bool, assertionType, assertion string) (*Client, string, *Error) {
	if basic || form.get("client_secret") != "" {
		return nil, "", errInvalidRequest("client credentials must be sent by one method only")
	}
	if assertionType != clientAssertionTypeJWT {
		return nil, "", errInvalidClient("client_assertion_type must be " + clientAssertionTypeJWT)
	}
	if assertion == "" || len(assertion) > maxTokenLen {
		return nil, "", errInvalidClient("client_assertion is missing or too long")
	}
	id := assertedClientID(assertion)
	if id == "" || len(id) > maxParamLen {
		return nil, "", errInvalidClient("the client assertion names no client")
	}
	if cid := form.get("client_id"); cid != "" && cid != id {
		return nil, "", errInvalidClient("client_id does not match the client assertion")
	}
	client, err := p.clients.Client(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		return nil, id, errInvalidClient("client authentication failed")
	}
	if err != nil {
		return nil, id, errServer(err)
	}
	if e := p.verifyClientAssertion(r, client, assertion); e != nil {
		return nil, id, e
	}
	return client, id, nil
}
