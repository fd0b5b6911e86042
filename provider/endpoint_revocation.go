package provider

import (
	"net/http"
)

// serveRevocation is the revocation endpoint (RFC 7009). Public clients may
// revoke their own tokens (§2.1 identifies them by client_id). Unknown or
// already invalid tokens get 200, as §2.2 requires: the client's goal, that
// the token not work, is met.
func (p *Provider) serveRevocation(w http.ResponseWriter, r *http.Request) {
	client, form, ok := p.tokenEndpointClient(w, r, EventRevocationError)
	if !ok {
		return
	}
	token := form.get("token")
	if token == "" {
		p.endpointError(w, r, EventRevocationError, errInvalidRequest("missing required parameter token"), client.ID)
		return
	}
	info, err := p.lookupToken(r.Context(), token, form.get("token_type_hint"))
	if err != nil {
		p.endpointError(w, r, EventRevocationError, errServer(err), client.ID)
		return
	}
	if info != nil {
		if info.clientID != client.ID {
			// §2.1: the server verifies the token was issued to the caller.
			p.endpointError(w, r, EventRevocationError, errInvalidGrant("the token was not issued to this client"), client.ID)
			return
		}
		if err := p.revoke(r, info); err != nil {
			p.endpointError(w, r, EventRevocationError, errServer(err), client.ID)
			return
		}
	}
	noStore(w.Header())
	w.WriteHeader(http.StatusOK)
}

// revoke invalidates one token. A refresh token takes its whole grant with it
// (§2.1: access tokens of the same grant SHOULD go too); an access token goes
// alone; a JWT, which is not stored, is remembered by jti until it expires.
func (p *Provider) revoke(r *http.Request, info *tokenInfo) error {
	ctx := r.Context()
	switch {
	case info.refresh:
		return p.grants().revoke(ctx, info.grantID, info.clientID)
	case info.jwt:
		return p.revokedJTIs().revoke(ctx, info.jti, info.grantID, info.expiry(), info.accountID == "", info.clientID)
	default:
		return p.accessTokens().destroy(ctx, info.recID, info.clientID)
	}
}
