package provider

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
)

// tokenRequestContext is what an access token is minted for.
type tokenSubject struct {
	client    *Client
	accountID string // empty for client_credentials
	scopes    []string
	grantID   string
	authTime  int64
	amr       []string // of the user's login (acr.go); nil for client_credentials
	resource  *Resource
}

// accessTokenFormat: a resource's own format wins over the client's.
func (s *tokenSubject) format() string {
	if s.resource != nil && s.resource.AccessTokenFormat != "" {
		return s.resource.AccessTokenFormat
	}
	if s.client.AccessTokenFormat == TokenFormatJWT {
		return TokenFormatJWT
	}
	return TokenFormatOpaque
}

// audience of a token without a resource indicator: the resource server
// that accepts it, this provider — its userinfo endpoint for a user's token,
// the issuer for a client's own. Never the client id, which is an ID token's
// audience: a JWT access token must not pass for an ID token (RFC 9068 §5).
func (s *tokenSubject) audience(issuer string) string {
	switch {
	case s.resource != nil:
		return s.resource.Identifier
	case s.accountID != "":
		return issuer + PathUserinfo
	default:
		return issuer
	}
}

// mintAccessToken issues an opaque token (stored by hash, accessTokenStore:
// access_token.saved or client_credentials.saved) or an RFC 9068 JWT (not
// stored: access_token.issued or client_credentials.issued, emitted here).
func (p *Provider) mintAccessToken(r *http.Request, s *tokenSubject) (string, time.Time, error) {
	now := p.now()
	exp := now.Add(p.cfg.Lifetimes.AccessToken)
	cc := s.accountID == ""
	if s.format() == TokenFormatJWT {
		sub := s.accountID
		if cc {
			sub = s.client.ID // RFC 9068 §2.2: sub is the client when no user is involved
		}
		claims := map[string]any{
			"iss": p.cfg.Issuer, "sub": sub, "aud": s.audience(p.cfg.Issuer), "client_id": s.client.ID,
			"iat": now.Unix(), "exp": exp.Unix(), "jti": newHandle(),
		}
		if len(s.scopes) > 0 {
			claims["scope"] = strings.Join(s.scopes, " ")
		}
		if !cc {
			// RFC 9068 §2.2.1: the authentication facts of the ID token.
			amr := amrOrPassword(s.amr)
			claims["auth_time"], claims["acr"], claims["amr"] = s.authTime, acrOf(amr), amr
		}
		if s.grantID != "" {
			claims["gid"] = grantRef(s.grantID)
		}
		tok, err := p.cfg.Signer.SignJWT(claims, "at+jwt")
		if err != nil {
			return "", exp, errServer(err)
		}
		name := EventAccessTokenIssued
		if cc {
			name = EventClientCredentialsIssued
		}
		p.emit(r, Event{Name: name, ClientID: s.client.ID, GrantID: s.grantID})
		return tok, exp, nil
	}
	token := newSecret()
	storeGrant := s.grantID
	if cc && s.client.dynamic {
		storeGrant = clientGrantID(s.client.ID) // deleting the client removes it
	}
	at := accessToken{ClientID: s.client.ID, AccountID: s.accountID, Scopes: s.scopes, GrantID: storeGrant, Audience: s.audience(p.cfg.Issuer), IssuedAt: now.Unix(), ExpiresAt: exp.Unix(), AuthTime: s.authTime, AMR: s.amr}
	if err := p.accessTokens().save(r.Context(), secretID(token), at, exp); err != nil {
		return "", exp, errServer(err)
	}
	return token, exp, nil
}

// mintRefreshToken stores a refresh token; its record expires at the idle
// lifetime or the chain's absolute expiry, whichever comes first. Durable: a
// refresh token is a long-lived credential the client relies on.
func (p *Provider) mintRefreshToken(r *http.Request, rt refreshToken) (string, error) {
	token := newSecret()
	if err := p.storeRefreshToken(r, token, rt); err != nil {
		return "", err
	}
	p.refreshTokens().saved(r.Context(), rt.ClientID, rt.GrantID)
	return token, nil
}

// storeRefreshToken writes the record of refresh token value token, without
// the saved event (rotation emits it only once the token is handed out).
func (p *Provider) storeRefreshToken(r *http.Request, token string, rt refreshToken) error {
	now := p.now()
	rt.IssuedAt, rt.Successor = now.Unix(), nil
	exp := now.Add(p.cfg.Lifetimes.RefreshToken)
	if abs := time.Unix(rt.AbsoluteExpiry, 0); abs.Before(exp) {
		exp = abs
	}
	if !exp.After(now) {
		return errInvalidGrant("the refresh token has reached its maximum lifetime")
	}
	// Keep the grant (the consent all these tokens hang on) alive as long as
	// the chain may run. This also proves the grant still exists before the
	// new token is written: a grant revoked meanwhile ends the chain here.
	if err := p.grants().extend(r.Context(), rt.GrantID, time.Unix(rt.AbsoluteExpiry, 0)); errors.Is(err, ErrNotFound) {
		return errInvalidGrant("the grant has been revoked")
	} else if err != nil {
		return errServer(err)
	}
	if err := p.refreshTokens().write(r.Context(), secretID(token), rt, exp); err != nil {
		return errServer(err)
	}
	return nil
}

// wantsRefreshToken: offline_access granted (OIDC Core §11; the consent page
// names it) or the client is configured for refresh tokens, and in both cases
// the client may use the refresh_token grant.
func wantsRefreshToken(c *Client, scopes []string) bool {
	if !c.AllowsGrant(GrantTypeRefreshToken) {
		return false
	}
	return c.AlwaysIssueRefreshToken || slices.Contains(scopes, scopeOfflineAccess)
}

// resolveResource looks the RFC 8707 resource parameter up and checks the
// client may ask for it: a configured client with no Resources list may use
// every configured resource, any other client only those it lists (so a
// client that registered itself gets none unless the operator says so).
func (p *Provider) resolveResource(client *Client, form params) (*Resource, *Error) {
	id := form.get("resource")
	if id == "" {
		return nil, nil
	}
	for i := range p.cfg.Resources {
		if p.cfg.Resources[i].Identifier != id {
			continue
		}
		if slices.Contains(client.Resources, id) || (len(client.Resources) == 0 && !client.dynamic) {
			return &p.cfg.Resources[i], nil
		}
		return nil, newError(http.StatusBadRequest, ErrCodeInvalidTarget, "the client may not ask tokens for this resource")
	}
	return nil, newError(http.StatusBadRequest, ErrCodeInvalidTarget, "unknown resource")
}

// scopesForResource narrows a user token's scopes to what the resource
// understands; OIDC scopes that only make sense at this provider (openid,
// profile, …) are dropped too, since the token is for the resource.
func scopesForResource(scopes []string, res *Resource) []string {
	if res == nil || len(res.Scopes) == 0 {
		return scopes
	}
	return slices.DeleteFunc(slices.Clone(scopes), func(s string) bool { return !slices.Contains(res.Scopes, s) })
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	IDToken      string `json:"id_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// issued is what a grant has established when it answers with tokens; every
// grant hands it to issueTokens, the one place a token response is built
// (RFC 6749 §5.1, OIDC Core §3.1.3.3).
type issued struct {
	client  *Client
	account *Account // nil for client_credentials: the client's own token
	// granted is the scope the user granted: a new refresh token keeps it
	// whole, and it decides the ID token and its claims.
	granted []string
	// scopes is the access token's scope (and the response's): granted,
	// narrowed to the request and to the resource.
	scopes   []string
	grantID  string
	sid      string
	authTime int64
	amr      []string // of the login (acr.go)
	nonce    string   // only from an authorization request (OIDC Core §12.2: not on refresh)
	resource *Resource
	refresh  refreshIssue
	// successor is the rotated refresh token (refreshRotated), already stored.
	successor string
}

// refreshIssue says where the response's refresh token comes from.
type refreshIssue int

const (
	// refreshNone: no refresh token (client_credentials, RFC 6749 §4.4.3;
	// a refresh grant without rotation, whose token stays the same).
	refreshNone refreshIssue = iota
	// refreshIfWanted: a new chain when the client wants one
	// (wantsRefreshToken): the code and device grants.
	refreshIfWanted
	// refreshRotated: the refresh grant's successor, handed out as is.
	refreshRotated
)

// issueTokens mints the access token, the refresh token when due and, for
// openid grants with a user, the ID token, and builds the token response.
func (p *Provider) issueTokens(r *http.Request, is issued) (*tokenResponse, error) {
	subj := &tokenSubject{client: is.client, scopes: is.scopes, grantID: is.grantID, authTime: is.authTime, amr: is.amr, resource: is.resource}
	if is.account != nil {
		subj.accountID = is.account.Subject
	}
	token, _, err := p.mintAccessToken(r, subj)
	if err != nil {
		return nil, err
	}
	resp := &tokenResponse{AccessToken: token, TokenType: "Bearer", ExpiresIn: int64(p.cfg.Lifetimes.AccessToken.Seconds()), Scope: strings.Join(is.scopes, " ")}
	if is.account == nil {
		return resp, nil
	}
	switch {
	case is.refresh == refreshRotated:
		resp.RefreshToken = is.successor
	case is.refresh == refreshIfWanted && wantsRefreshToken(is.client, is.granted):
		abs := unixTime(is.authTime).Add(p.cfg.Lifetimes.RefreshTokenAbsolute)
		rt := refreshToken{ClientID: is.client.ID, AccountID: is.account.Subject, Scopes: is.granted, GrantID: is.grantID, SID: is.sid, AuthTime: is.authTime, AMR: is.amr, AbsoluteExpiry: abs.Unix()}
		if is.resource != nil {
			rt.Resource = is.resource.Identifier
		}
		if resp.RefreshToken, err = p.mintRefreshToken(r, rt); err != nil {
			return nil, err
		}
	}
	if slices.Contains(is.granted, scopeOpenID) {
		idt, err := p.signIDToken(is.client, is.account, idTokenFacts{authTime: is.authTime, amr: is.amr, nonce: is.nonce, sid: is.sid, scopes: is.granted}, token)
		if err != nil {
			return nil, errServer(err)
		}
		resp.IDToken = idt
	}
	return resp, nil
}
