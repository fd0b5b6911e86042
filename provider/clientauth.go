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
// are identified but not authenticated). A client must use exactly the
// method it is registered with, and only one method per request (§2.3).
// The returned client id is what the request claimed, for events, even when
// authentication failed.
func (p *Provider) authenticateClient(r *http.Request, form params) (*Client, string, *Error) {
	id, secret, basic, perr := basicCredentials(r)
	if perr != nil {
		return nil, "", perr
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
	if client.TokenEndpointAuthMethod != method {
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
