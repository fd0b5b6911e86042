package provider

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"
)

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	IDToken      string `json:"id_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

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

// exchangeCode redeems an authorization code (RFC 6749 §4.1.3, OIDC Core
// §3.1.3). The code is consumed first, atomically, so of two concurrent
// redemptions exactly one can succeed; a consumed code that fails any later
// check is destroyed, since it is in the wrong hands.
func (p *Provider) exchangeCode(r *http.Request, client *Client, form params) (*tokenResponse, string, error) {
	ctx := r.Context()
	code := form.get("code")
	if code == "" {
		return nil, "", errInvalidRequest("missing required parameter code")
	}
	codeID := secretID(code)
	rec, err := p.cfg.Store.Consume(ctx, KindAuthorizationCode, codeID, p.now())
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, "", errInvalidGrant("the authorization code is invalid or expired")
	case errors.Is(err, ErrAlreadyConsumed):
		// RFC 6749 §4.1.2: a second use must fail, and the tokens already
		// issued from the code should be revoked: someone has a copy of it.
		p.destroyCode(r, codeID, rec.GrantID, client.ID)
		if err := p.revokeGrant(r, rec.GrantID, client.ID); err != nil {
			return nil, "", errServer(err)
		}
		return nil, "", errInvalidGrant("the authorization code has already been used")
	case err != nil:
		return nil, "", errServer(err)
	case p.expired(rec):
		return nil, "", errInvalidGrant("the authorization code is invalid or expired")
	}
	var ac authCode
	if err := decodePayload(rec, &ac); err != nil {
		return nil, "", errServer(err)
	}
	p.emit(r, Event{Name: EventAuthorizationCodeConsumed, ClientID: client.ID, GrantID: ac.GrantID})
	reject := func(desc string) (*tokenResponse, string, error) {
		p.destroyCode(r, codeID, ac.GrantID, client.ID)
		return nil, "", errInvalidGrant(desc)
	}
	if ac.ClientID != client.ID {
		return reject("the authorization code was issued to another client")
	}
	// redirect_uri must repeat the authorization request's (RFC 6749 §4.1.3).
	if form.get("redirect_uri") != ac.RedirectURI {
		return reject("redirect_uri does not match the authorization request")
	}
	verifier := form.get("code_verifier")
	switch {
	case ac.CodeChallenge != "" && verifier == "":
		return reject("code_verifier is required")
	case ac.CodeChallenge == "" && verifier != "":
		// A verifier without a challenge means the request was not the one
		// the client started (PKCE downgrade, RFC 9700 §4.8.2).
		return reject("code_verifier sent but no code_challenge was used")
	case ac.CodeChallenge != "" && !verifyS256(verifier, ac.CodeChallenge):
		return reject("PKCE verification failed")
	}
	acc, err := p.cfg.Accounts.Account(ctx, ac.AccountID)
	if errors.Is(err, ErrNotFound) {
		return reject("the user no longer exists")
	}
	if err != nil {
		return nil, "", errServer(err)
	}
	resource, rerr := p.resolveResource(client, form)
	if rerr != nil {
		return nil, "", rerr
	}
	resp, err := p.issueTokens(r, client, acc, ac, resource)
	return resp, ac.GrantID, err
}

// verifyS256 checks a PKCE verifier (RFC 7636 §4.1 syntax, §4.6 comparison).
func verifyS256(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	for i := 0; i < len(verifier); i++ {
		c := verifier[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

func (p *Provider) destroyCode(r *http.Request, codeID, grantID, clientID string) {
	if err := p.cfg.Store.Delete(r.Context(), KindAuthorizationCode, codeID); err == nil {
		p.emit(r, Event{Name: EventAuthorizationCodeDestroyed, ClientID: clientID, GrantID: grantID})
	}
}

// issueTokens answers a code exchange: an access token, a refresh token when
// wanted, and for openid requests the ID token.
func (p *Provider) issueTokens(r *http.Request, client *Client, acc *Account, ac authCode, resource *Resource) (*tokenResponse, error) {
	atScopes := scopesForResource(ac.Scopes, resource)
	subj := &tokenSubject{client: client, accountID: acc.Subject, scopes: atScopes, grantID: ac.GrantID, authTime: ac.AuthTime, resource: resource}
	token, _, err := p.mintAccessToken(r, subj)
	if err != nil {
		return nil, err
	}
	resp := &tokenResponse{AccessToken: token, TokenType: "Bearer", ExpiresIn: int64(p.cfg.Lifetimes.AccessToken.Seconds()), Scope: strings.Join(atScopes, " ")}
	if wantsRefreshToken(client, ac.Scopes) {
		abs := unixTime(ac.AuthTime).Add(p.cfg.Lifetimes.RefreshTokenAbsolute)
		rt := refreshToken{ClientID: client.ID, AccountID: acc.Subject, Scopes: ac.Scopes, GrantID: ac.GrantID, SID: ac.SID, AuthTime: ac.AuthTime, AbsoluteExpiry: abs.Unix()}
		if resource != nil {
			rt.Resource = resource.Identifier
		}
		if resp.RefreshToken, err = p.mintRefreshToken(r, rt); err != nil {
			return nil, err
		}
	}
	if slices.Contains(ac.Scopes, scopeOpenID) {
		idt, err := p.signIDToken(client, acc, idTokenFacts{authTime: ac.AuthTime, nonce: ac.Nonce, sid: ac.SID, scopes: ac.Scopes}, token)
		if err != nil {
			return nil, errServer(err)
		}
		resp.IDToken = idt
	}
	return resp, nil
}
