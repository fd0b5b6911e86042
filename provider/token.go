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
	if cors(w, r) {
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		p.endpointError(w, r, EventGrantError, methodNotAllowed("POST"), "")
		return
	}
	form, perr := p.readForm(w, r)
	if perr != nil {
		p.endpointError(w, r, EventGrantError, perr, "")
		return
	}
	client, claimedID, perr := p.authenticateClient(r, form)
	if perr != nil {
		if perr.Code == ErrCodeInvalidClient && strings.HasPrefix(r.Header.Get("Authorization"), "Basic") {
			w.Header().Set("WWW-Authenticate", `Basic realm="`+p.cfg.Issuer+`"`)
		}
		p.endpointError(w, r, EventGrantError, perr, claimedID)
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
	}
	if err != nil {
		p.endpointError(w, r, EventGrantError, err, client.ID)
		return
	}
	p.emit(r, Event{Name: EventGrantSuccess, ClientID: client.ID, GrantID: grantID})
	noStore(w.Header())
	writeJSON(w, http.StatusOK, resp)
}

var supportedGrantTypes = []string{GrantTypeAuthorizationCode}

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
		// RFC 6749 §4.1.2: a second use must fail (and the tokens already
		// issued from it should be revoked: the cascade comes with grants).
		p.destroyCode(r, codeID, rec.GrantID, client.ID)
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
	resp, err := p.issueTokens(r, client, acc, ac)
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

// issueTokens mints the opaque access token (stored hashed) and, for openid
// requests, the ID token.
func (p *Provider) issueTokens(r *http.Request, client *Client, acc *Account, ac authCode) (*tokenResponse, error) {
	now := p.now()
	exp := now.Add(p.cfg.Lifetimes.AccessToken)
	token := newSecret()
	at := accessToken{ClientID: client.ID, AccountID: acc.Subject, Scopes: ac.Scopes, GrantID: ac.GrantID, IssuedAt: now.Unix(), ExpiresAt: exp.Unix()}
	// Not durable: a token lost in a crash only makes the client log in again,
	// and an fsync per token would cap the whole machine's token rate.
	if err := p.put(r.Context(), KindAccessToken, secretID(token), "", ac.GrantID, at, exp, false); err != nil {
		return nil, errServer(err)
	}
	p.emit(r, Event{Name: EventAccessTokenSaved, ClientID: client.ID, GrantID: ac.GrantID})
	resp := &tokenResponse{AccessToken: token, TokenType: "Bearer", ExpiresIn: int64(p.cfg.Lifetimes.AccessToken.Seconds()), Scope: strings.Join(ac.Scopes, " ")}
	if slices.Contains(ac.Scopes, scopeOpenID) {
		idt, err := p.signIDToken(client, acc, ac, token)
		if err != nil {
			return nil, errServer(err)
		}
		resp.IDToken = idt
	}
	return resp, nil
}
