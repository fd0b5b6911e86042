package provider

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
)

var (
	errRefreshReused  = errors.New("refresh token reused")
	errRefreshRace    = errors.New("refresh token rotated moments ago")
	errNoSuccessor    = errors.New("refresh token rotated without a prepared successor")
	errRefreshForeign = errors.New("refresh token of another client")
	errRefreshScope   = newError(http.StatusBadRequest, ErrCodeInvalidScope, "the requested scope exceeds the scope of the refresh token")
	errRefreshTarget  = newError(http.StatusBadRequest, ErrCodeInvalidTarget, "the refresh token is bound to another resource")
)

// refresh is the refresh_token grant (RFC 6749 §6). With rotation (the
// default) each use consumes the token and issues a new one; presenting a
// consumed token again means two parties hold it, so the whole grant is
// revoked (RFC 9700 §4.14.2). Except within the reuse grace: a client racing
// itself (a page and its favicon behind oauth2-proxy refreshing at once)
// gets the successor the first request got, with an access token of its
// own, so every racer ends up on one live chain.
func (p *Provider) refresh(r *http.Request, client *Client, form params) (*tokenResponse, string, error) {
	ctx := r.Context()
	raw := form.get("refresh_token")
	if raw == "" {
		return nil, "", errInvalidRequest("missing required parameter refresh_token")
	}
	id := secretID(raw)
	now := p.now()
	rotate := !client.DisableRefreshTokenRotation
	grace := p.cfg.Lifetimes.RefreshTokenReuseGrace
	var asked []string
	if s := form.get("scope"); s != "" {
		asked = strings.Fields(s)
	}
	resource, rerr := p.resolveResource(client, form)
	if rerr != nil {
		return nil, "", rerr
	}
	// With rotation, this request's candidate successor is written before
	// the old token is consumed, and the winner seals its candidate into the
	// consumed record in the same update: so a duplicate that sees the token
	// consumed always finds the successor already stored (there is no window
	// where it is promised but not yet written). Losers delete their own
	// candidate, which nobody ever saw.
	var next string
	var sealedNext []byte
	if rotate {
		var e *Error
		if next, sealedNext, e = p.prepareSuccessor(r, client, id); e != nil {
			return nil, "", e
		}
	}
	// One read-modify-write decides ownership, scope and consumption
	// together: of concurrent refreshes exactly one wins, and a request that
	// fails validation (another client's, a wider scope) does not burn the
	// token. The closure may run more than once.
	refreshTokens := p.refreshTokens()
	rt, err := refreshTokens.use(ctx, id, client.ID, rotate, sealedNext, func(rt refreshToken, consumedAt time.Time) error {
		consumed := !consumedAt.IsZero()
		switch {
		case rt.ClientID != client.ID:
			return errRefreshForeign
		case consumed && now.Sub(consumedAt) > grace:
			return errRefreshReused
		case asked != nil && !coversScopes(rt.Scopes, asked):
			return errRefreshScope
		case resource != nil && rt.Resource != "" && resource.Identifier != rt.Resource:
			// RFC 8707 §2.2: a refresh token bound to one resource does not
			// become a token for another.
			return errRefreshTarget
		case consumed:
			return errRefreshRace
		case rotate && next == "":
			return errNoSuccessor
		}
		return nil
	})
	raced := errors.Is(err, errRefreshRace)
	if err != nil && next != "" {
		// Not the winner: this candidate was never handed out.
		p.dropCandidate(r, next)
	}
	if raced {
		// Within the grace: answer with the live successor. The grant must
		// still stand (checked below, as for non-rotating tokens).
		if next, err = p.liveSuccessor(ctx, client.ID, id, rt.Successor); errors.Is(err, ErrNotFound) {
			return nil, "", errInvalidGrant("the refresh token has just been used")
		} else if err != nil {
			return nil, "", errServer(err)
		}
	}
	switch {
	case raced:
	case errors.Is(err, ErrNotFound):
		return nil, "", errInvalidGrant("the refresh token is invalid or expired")
	case errors.Is(err, errRefreshForeign):
		return nil, "", errInvalidGrant("the refresh token was issued to another client")
	case errors.Is(err, errRefreshScope):
		return nil, "", errRefreshScope
	case errors.Is(err, errRefreshTarget):
		return nil, "", errRefreshTarget
	case errors.Is(err, errRefreshReused):
		if err := p.grants().revoke(ctx, rt.GrantID, client.ID); err != nil {
			return nil, "", errServer(err)
		}
		return nil, "", errInvalidGrant("the refresh token has already been used; the grant is revoked")
	case err != nil:
		var e *Error
		if errors.As(err, &e) {
			return nil, "", e
		}
		return nil, "", errServer(err)
	case rotate:
		refreshTokens.saved(ctx, client.ID, rt.GrantID)
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
	if !rotate || raced {
		// Nothing below re-reads the grant (the winner of a rotation proved
		// it alive when it wrote the successor): a grant revoked meanwhile
		// must end the chain here.
		if ok, err := p.grants().stands(ctx, rt.GrantID); err != nil {
			return nil, "", errServer(err)
		} else if !ok {
			return nil, "", errInvalidGrant("the grant has been revoked")
		}
	}
	scopes = scopesForResource(scopes, resource)
	// With rotation the new token keeps the original scope: narrowing
	// applies to this access token (and ID token) only (RFC 6749 §6
	// "identical to the original"). No nonce: OIDC Core §12.2.
	is := issued{client: client, account: acc, granted: scopes, scopes: scopes, grantID: rt.GrantID, sid: rt.SID, authTime: rt.AuthTime, amr: rt.AMR, resource: resource}
	if rotate {
		is.refresh, is.successor = refreshRotated, next
	}
	resp, err := p.issueTokens(r, is)
	if err != nil {
		return nil, "", err
	}
	if !rotate {
		// Without rotation the same token slides its idle expiry.
		exp := min(now.Add(p.cfg.Lifetimes.RefreshToken).Unix(), rt.AbsoluteExpiry)
		if err := refreshTokens.slide(ctx, id, time.Unix(exp, 0)); err != nil {
			return nil, "", errServer(err)
		}
	}
	return resp, rt.GrantID, nil
}

// prepareSuccessor writes this request's candidate successor of the refresh
// token with id consumedID, and seals it for duplicates. It answers "" when
// the token is not live and unconsumed for this client: the update that
// follows then gives the precise answer (not found, another client's,
// reused, raced) without a useless write.
func (p *Provider) prepareSuccessor(r *http.Request, client *Client, consumedID string) (string, []byte, *Error) {
	cur, consumedAt, err := p.refreshTokens().load(r.Context(), consumedID)
	switch {
	case errors.Is(err, ErrNotFound):
		return "", nil, errInvalidGrant("the refresh token is invalid or expired")
	case err != nil:
		return "", nil, errServer(err)
	case !consumedAt.IsZero() || cur.ClientID != client.ID:
		return "", nil, nil
	}
	next := newSecret()
	if err := p.storeRefreshToken(r, next, cur); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return "", nil, e
		}
		return "", nil, errServer(err)
	}
	var sealed []byte
	if p.cfg.Lifetimes.RefreshTokenReuseGrace > 0 {
		sealed = p.successors.seal(r.Context(), next, consumedID, p.now())
	}
	return next, sealed, nil
}

// dropCandidate deletes a candidate successor that lost the race or was
// refused; nobody holds its value, so failing to delete it only leaves an
// unusable record until it expires.
func (p *Provider) dropCandidate(r *http.Request, token string) {
	p.refreshTokens().drop(context.WithoutCancel(r.Context()), secretID(token))
}

// maxSuccessorHops bounds how far a duplicate follows a chain that rotated
// on within the grace.
const maxSuccessorHops = 4

// liveSuccessor returns the live refresh token that succeeded the consumed
// token consumedID, whose record held sealed. If that successor was itself
// rotated within the grace, the chain is followed to its live end: the
// duplicate joins the chain where it stands now. ErrNotFound when the chain
// ends (revoked, expired, or its sealed successor no longer opens).
func (p *Provider) liveSuccessor(ctx context.Context, clientID, consumedID string, sealed []byte) (string, error) {
	now := p.now()
	for range maxSuccessorHops {
		if len(sealed) == 0 {
			return "", ErrNotFound
		}
		raw, err := p.successors.open(ctx, sealed, consumedID, now)
		if err != nil {
			return "", ErrNotFound
		}
		next, consumedAt, err := p.refreshTokens().load(ctx, secretID(raw))
		if err != nil {
			return "", err
		}
		if next.ClientID != clientID {
			return "", ErrNotFound
		}
		if consumedAt.IsZero() {
			return raw, nil
		}
		if now.Sub(consumedAt) > p.cfg.Lifetimes.RefreshTokenReuseGrace {
			return "", ErrNotFound
		}
		sealed, consumedID = next.Successor, secretID(raw)
	}
	return "", ErrNotFound
}
