package provider

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
)

var (
	errRefreshReused  = errors.New("refresh token reused")
	errRefreshRace    = errors.New("refresh token rotated moments ago")
	errRefreshForeign = errors.New("refresh token of another client")
	errRefreshScope   = newError(http.StatusBadRequest, ErrCodeInvalidScope, "the requested scope exceeds the scope of the refresh token")
	errRefreshTarget  = newError(http.StatusBadRequest, ErrCodeInvalidTarget, "the refresh token is bound to another resource")
)

// refresh is the refresh_token grant (RFC 6749 §6). With rotation (the
// default) each use consumes the token and issues a new one; presenting a
// consumed token again means two parties hold it, so the whole grant is
// revoked (RFC 9700 §4.14.2).
func (p *Provider) refresh(r *http.Request, client *Client, form params) (*tokenResponse, string, error) {
	ctx := r.Context()
	raw := form.get("refresh_token")
	if raw == "" {
		return nil, "", errInvalidRequest("missing required parameter refresh_token")
	}
	id := secretID(raw)
	now := p.now()
	rotate := !client.DisableRefreshTokenRotation
	var asked []string
	if s := form.get("scope"); s != "" {
		asked = strings.Fields(s)
	}
	resource, rerr := p.resolveResource(client, form)
	if rerr != nil {
		return nil, "", rerr
	}
	var rt refreshToken
	// One read-modify-write decides ownership, scope and consumption
	// together: of concurrent refreshes exactly one wins, and a request that
	// fails validation (another client's, a wider scope) does not burn the
	// token. The closure may run more than once.
	_, err := p.cfg.Store.Update(ctx, KindRefreshToken, id, func(rec *Record) error {
		if err := decodeInto(rec.Payload, &rt); err != nil {
			return err
		}
		switch {
		case p.expired(*rec):
			return ErrNotFound
		case rt.ClientID != client.ID:
			return errRefreshForeign
		case !rec.ConsumedAt.IsZero() && now.Sub(rec.ConsumedAt) <= p.cfg.Lifetimes.RefreshTokenReuseGrace:
			return errRefreshRace
		case !rec.ConsumedAt.IsZero():
			return errRefreshReused
		case asked != nil && !coversScopes(rt.Scopes, asked):
			return errRefreshScope
		case resource != nil && rt.Resource != "" && resource.Identifier != rt.Resource:
			// RFC 8707 §2.2: a refresh token bound to one resource does not
			// become a token for another.
			return errRefreshTarget
		}
		if rotate {
			rec.ConsumedAt = now
		}
		return nil
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, "", errInvalidGrant("the refresh token is invalid or expired")
	case errors.Is(err, errRefreshForeign):
		return nil, "", errInvalidGrant("the refresh token was issued to another client")
	case errors.Is(err, errRefreshScope):
		return nil, "", errRefreshScope
	case errors.Is(err, errRefreshTarget):
		return nil, "", errRefreshTarget
	case errors.Is(err, errRefreshRace):
		return nil, "", errInvalidGrant("the refresh token has just been used")
	case errors.Is(err, errRefreshReused):
		if err := p.revokeGrant(r, rt.GrantID, client.ID); err != nil {
			return nil, "", errServer(err)
		}
		return nil, "", errInvalidGrant("the refresh token has already been used; the grant is revoked")
	case err != nil:
		return nil, "", errServer(err)
	}
	if rotate {
		p.emit(r, Event{Name: EventRefreshTokenConsumed, ClientID: client.ID, GrantID: rt.GrantID})
	}
	// Scope may narrow, never widen (RFC 6749 §6); checked in the closure.
	scopes := rt.Scopes
	if asked != nil {
		scopes = slices.DeleteFunc(slices.Clone(rt.Scopes), func(s string) bool { return !slices.Contains(asked, s) })
	}
	acc, err := p.cfg.Accounts.Account(ctx, rt.AccountID)
	if errors.Is(err, ErrNotFound) {
		return nil, "", errInvalidGrant("the user no longer exists")
	}
	if err != nil {
		return nil, "", errServer(err)
	}
	if resource == nil && rt.Resource != "" {
		resource, _ = p.resolveResource(client, params{"resource": rt.Resource})
	}
	if !rotate {
		// Nothing below re-reads the grant (rotation does, when it writes the
		// successor): a grant revoked meanwhile must end the chain here.
		if _, err := p.cfg.Store.Get(ctx, KindGrant, rt.GrantID); errors.Is(err, ErrNotFound) {
			return nil, "", errInvalidGrant("the grant has been revoked")
		} else if err != nil {
			return nil, "", errServer(err)
		}
	}
	scopes = scopesForResource(scopes, resource)
	subj := &tokenSubject{client: client, accountID: acc.Subject, scopes: scopes, grantID: rt.GrantID, authTime: rt.AuthTime, resource: resource}
	token, _, err := p.mintAccessToken(r, subj)
	if err != nil {
		return nil, "", err
	}
	resp := &tokenResponse{AccessToken: token, TokenType: "Bearer", ExpiresIn: int64(p.cfg.Lifetimes.AccessToken.Seconds()), Scope: strings.Join(scopes, " ")}
	if rotate {
		// The new token keeps the original scope: narrowing applies to this
		// access token only (RFC 6749 §6 "identical to the original").
		if resp.RefreshToken, err = p.mintRefreshToken(r, rt); err != nil {
			return nil, "", err
		}
	} else {
		// Without rotation the same token slides its idle expiry.
		exp := min(now.Add(p.cfg.Lifetimes.RefreshToken).Unix(), rt.AbsoluteExpiry)
		if _, err := p.cfg.Store.Update(ctx, KindRefreshToken, id, func(rec *Record) error {
			rec.ExpiresAt = time.Unix(exp, 0)
			return nil
		}); err != nil {
			return nil, "", errServer(err)
		}
	}
	if slices.Contains(scopes, scopeOpenID) {
		idt, err := p.signIDToken(client, acc, idTokenFacts{authTime: rt.AuthTime, sid: rt.SID, scopes: scopes}, token)
		if err != nil {
			return nil, "", errServer(err)
		}
		resp.IDToken = idt
	}
	return resp, rt.GrantID, nil
}

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
	token, _, err := p.mintAccessToken(r, &tokenSubject{client: client, scopes: scopes, resource: resource})
	if err != nil {
		return nil, err
	}
	return &tokenResponse{AccessToken: token, TokenType: "Bearer", ExpiresIn: int64(p.cfg.Lifetimes.AccessToken.Seconds()), Scope: strings.Join(scopes, " ")}, nil
}
