package provider

import (
	"errors"
	"net/http"
	"slices"
	"strings"
)

// serveUserinfo is the UserInfo endpoint (OIDC Core §5.3), GET or POST, with
// the access token as a Bearer header or a form body parameter (RFC 6750
// §2.1, §2.2). Errors follow RFC 6750 §3.
func (p *Provider) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	if cors(w, r) {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		p.bearerError(w, r, methodNotAllowed("GET", "POST"), "")
		return
	}
	token, e := p.bearerToken(w, r)
	if e != nil {
		p.bearerError(w, r, e, "")
		return
	}
	if token == "" {
		// §3.1: a request without credentials gets a bare challenge, no code.
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+p.cfg.Issuer+`"`)
		p.userinfoError(r, newError(http.StatusUnauthorized, ErrCodeInvalidRequest, "no access token"), "")
		noStore(w.Header())
		writeJSON(w, http.StatusUnauthorized, errorBody{Error: ErrCodeInvalidRequest, ErrorDescription: "an access token is required"})
		return
	}
	info, err := p.lookupAccessToken(r.Context(), token)
	if err != nil {
		p.bearerError(w, r, errServer(err), "")
		return
	}
	if info == nil || info.expiresAt <= p.now().Unix() {
		p.bearerError(w, r, newError(http.StatusUnauthorized, ErrCodeInvalidToken, "the access token is invalid or expired"), "")
		return
	}
	if info.audience != p.cfg.Issuer+PathUserinfo {
		// A token for another resource server is not for this one (RFC 9068
		// §4, RFC 8707): the audience check every resource server makes.
		p.bearerError(w, r, newError(http.StatusUnauthorized, ErrCodeInvalidToken, "the access token is not meant for the userinfo endpoint"), info.clientID)
		return
	}
	if !slices.Contains(info.scopes, scopeOpenID) || info.accountID == "" {
		p.bearerError(w, r, newError(http.StatusForbidden, ErrCodeInsufficientScope, "the access token lacks the openid scope"), info.clientID)
		return
	}
	acc, err := p.cfg.Accounts.Account(r.Context(), info.accountID)
	if errors.Is(err, ErrNotFound) {
		p.bearerError(w, r, newError(http.StatusUnauthorized, ErrCodeInvalidToken, "the access token's user no longer exists"), info.clientID)
		return
	}
	if err != nil {
		p.bearerError(w, r, errServer(err), info.clientID)
		return
	}
	noStore(w.Header())
	writeJSON(w, http.StatusOK, claimsForScopes(acc, info.scopes))
}

// bearerToken extracts the token from exactly one place (RFC 6750 §2: a client
// must not use more than one method).
func (p *Provider) bearerToken(w http.ResponseWriter, r *http.Request) (string, *Error) {
	var token string
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return "", errInvalidRequest("the Authorization header must use the Bearer scheme")
		}
		token = strings.TrimSpace(rest)
		if token == "" {
			return "", errInvalidRequest("empty Bearer token")
		}
	}
	if r.URL.Query().Has("access_token") {
		// §2.3 URI query tokens leak into logs; this provider does not accept them.
		return "", errInvalidRequest("access tokens in the URL query are not accepted")
	}
	if r.Method == http.MethodPost && r.Header.Get("Content-Type") != "" {
		form, e := p.readForm(w, r)
		if e != nil {
			return "", e
		}
		if bt := form.get("access_token"); bt != "" {
			if token != "" {
				return "", errInvalidRequest("the access token must be sent by one method only")
			}
			token = bt
		}
	}
	if len(token) > 4096 {
		return "", newError(http.StatusUnauthorized, ErrCodeInvalidToken, "the access token is invalid or expired")
	}
	return token, nil
}

// bearerError answers with the RFC 6750 §3 challenge carrying the error.
func (p *Provider) bearerError(w http.ResponseWriter, r *http.Request, e *Error, clientID string) {
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Status == http.StatusBadRequest {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+p.cfg.Issuer+`", error="`+e.Code+`", error_description="`+e.Description+`"`)
	}
	p.userinfoError(r, e, clientID)
	writeError(w, e)
}

// userinfoError is the one emission point of userinfo.error (server_error
// for a fault).
func (p *Provider) userinfoError(r *http.Request, e *Error, clientID string) {
	p.emitError(r, EventUserinfoError, e, clientID)
}
