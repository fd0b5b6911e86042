package provider

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
)

// exchangeCode redeems an authorization code (RFC 6749 §4.1.3, OIDC Core
// §3.1.3) with redeemCode and answers with tokens.
func (p *Provider) exchangeCode(r *http.Request, client *Client, form params) (*tokenResponse, string, error) {
	ac, acc, err := p.redeemCode(r.Context(), client, form.get("code"), form.get("redirect_uri"), form.get("code_verifier"))
	if err != nil {
		return nil, "", err
	}
	resource, rerr := p.resolveResource(client, form)
	if rerr != nil {
		return nil, "", rerr
	}
	resp, err := p.issueTokens(r, issued{client: client, account: acc, granted: ac.Scopes, scopes: scopesForResource(ac.Scopes, resource),
		grantID: ac.GrantID, sid: ac.SID, authTime: ac.AuthTime, amr: ac.AMR, nonce: ac.Nonce, resource: resource, refresh: refreshIfWanted})
	return resp, ac.GrantID, err
}

// redeemCode consumes an authorization code for client and checks it
// against the token request's redirect_uri and PKCE verifier: the part of
// the code exchange shared by the token endpoint and the gate's callback
// (gate.go). The code is consumed first, atomically, so of two concurrent
// redemptions exactly one can succeed; a consumed code that fails any later
// check is destroyed, since it is in the wrong hands.
func (p *Provider) redeemCode(ctx context.Context, client *Client, code, redirectURI, verifier string) (authCode, *Account, error) {
	if code == "" {
		return authCode{}, nil, errInvalidRequest("missing required parameter code")
	}
	codeID := secretID(code)
	codes := p.codes()
	ac, usedGrant, err := codes.redeem(ctx, codeID, client.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		return authCode{}, nil, errInvalidGrant("the authorization code is invalid or expired")
	case errors.Is(err, ErrAlreadyConsumed):
		// RFC 6749 §4.1.2: a second use must fail, and the tokens already
		// issued from the code should be revoked: someone has a copy of it.
		codes.destroy(ctx, codeID, usedGrant, client.ID)
		if err := p.grants().revoke(ctx, usedGrant, client.ID); err != nil {
			return authCode{}, nil, errServer(err)
		}
		return authCode{}, nil, errInvalidGrant("the authorization code has already been used")
	case err != nil:
		return authCode{}, nil, errServer(err)
	}
	reject := func(desc string) (authCode, *Account, error) {
		codes.destroy(ctx, codeID, ac.GrantID, client.ID)
		return authCode{}, nil, errInvalidGrant(desc)
	}
	if ac.ClientID != client.ID {
		return reject("the authorization code was issued to another client")
	}
	// redirect_uri must repeat the authorization request's (RFC 6749 §4.1.3).
	if redirectURI != ac.RedirectURI {
		return reject("redirect_uri does not match the authorization request")
	}
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
		return authCode{}, nil, errServer(err)
	}
	return ac, acc, nil
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
