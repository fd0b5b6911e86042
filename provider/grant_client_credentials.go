package provider

import (
	"net/http"
	"slices"
	"strings"
)

// clientCredentials is RFC 6749 §4.4: a token for the client itself, within
// the scopes it is allowed, and never a refresh token (§4.4.3).
func (p *Provider) clientCredentials(r *http.Request, client *Client, form params) (*tokenResponse, error) {
	if client.Public() {
		return nil, newError(http.StatusBadRequest, ErrCodeUnauthorizedClient, "a public client cannot use client_credentials")
	}
	resource, rerr := p.resolveResource(client, form)
	if rerr != nil {
		return nil, rerr
	}
	allowed := client.AllowedScopes
	if resource != nil && len(resource.Scopes) > 0 {
		allowed = slices.DeleteFunc(slices.Clone(allowed), func(s string) bool { return !slices.Contains(resource.Scopes, s) })
	}
	scopes := allowed
	if s := form.get("scope"); s != "" {
		scopes = strings.Fields(s)
		if !coversScopes(allowed, scopes) {
			return nil, newError(http.StatusBadRequest, ErrCodeInvalidScope, "the client may not request this scope")
		}
		slices.Sort(scopes)
		scopes = slices.Compact(scopes)
	}
	return p.issueTokens(r, issued{client: client, scopes: scopes, resource: resource})
}
