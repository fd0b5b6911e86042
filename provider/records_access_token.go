package provider

import (
	"context"
	"errors"
	"time"
)

// accessToken is what an opaque access token stands for.
type accessToken struct {
	ClientID  string
	AccountID string // empty for client_credentials tokens
	Scopes    []string
	GrantID   string
	Audience  string
	IssuedAt  int64
	ExpiresAt int64
	// AuthTime of the user's login (0 for client_credentials): a protected
	// site's max_age rule checks it (RFC 9470 §4). Written last; a record
	// from before it has none and reads as 0 (unknown, never fresh).
	AuthTime int64
	// AMR of the user's authentication (acr.go), after AuthTime; absent in
	// older records and in a client's own token.
	AMR []string
}

func (t *accessToken) clientCredentials() bool { return t.AccountID == "" }

func (t accessToken) MarshalBinary() ([]byte, error) {
	w := newBinWriter()
	w.str(t.ClientID)
	w.str(t.AccountID)
	w.strs(t.Scopes)
	w.str(t.GrantID)
	w.str(t.Audience)
	w.int(t.IssuedAt)
	w.int(t.ExpiresAt)
	w.int(t.AuthTime)
	w.trailingStrs(t.AMR)
	return w.b, nil
}

func (t *accessToken) UnmarshalBinary(b []byte) error {
	r := newBinReader(b)
	*t = accessToken{ClientID: r.str(), AccountID: r.str(), Scopes: r.strs(), GrantID: r.str(), Audience: r.str(), IssuedAt: r.int(), ExpiresAt: r.int()}
	if r.err == nil && len(r.b) > 0 {
		t.AuthTime = r.int()
	}
	t.AMR = r.trailingStrs()
	return r.done()
}

// accessTokenStore keeps opaque access tokens by hash (JWT access tokens
// are not stored; a revoked one leaves a revokedJTIStore marker).
type accessTokenStore struct{ records[accessToken] }

func (p *Provider) accessTokens() accessTokenStore {
	return accessTokenStore{records[accessToken]{p, KindAccessToken}}
}

// save stores the token with value hash id under at.GrantID. Not durable: a
// token lost in a crash only makes the client ask again, and an fsync per
// token would cap the whole machine's token rate.
func (s accessTokenStore) save(ctx context.Context, id string, at accessToken, exp time.Time) error {
	if err := s.put(ctx, id, "", at.GrantID, at, exp, false); err != nil {
		return err
	}
	// A client's own token is filed under the client's grant id when the
	// client registered itself; its event names no grant.
	name, grantID := EventAccessTokenSaved, at.GrantID
	if at.clientCredentials() {
		name, grantID = EventClientCredentialsSaved, ""
	}
	s.p.events.Emit(ctx, Event{Name: name, ClientID: at.ClientID, GrantID: grantID})
	return nil
}

// destroy deletes the stored token with hash id; a token already gone is
// not an error (revocation's goal is met).
func (s accessTokenStore) destroy(ctx context.Context, id, clientID string) error {
	rec, err := s.p.cfg.Store.Get(ctx, KindAccessToken, id)
	if err != nil {
		return ignoreNotFound(err)
	}
	if err := s.delete(ctx, id); err != nil {
		return ignoreNotFound(err)
	}
	s.removed(ctx, rec, clientID)
	return nil
}

// removed emits the destroyed event of a deleted token record.
func (s accessTokenStore) removed(ctx context.Context, rec Record, clientID string) {
	var at accessToken
	cc := decodeInto(rec.Payload, &at) == nil && at.clientCredentials()
	s.destroyed(ctx, cc, clientID, rec.GrantID)
}

// destroyed is access_token.destroyed, or client_credentials.destroyed for
// a client's own token (cc), whether stored or a revoked JWT.
func (s accessTokenStore) destroyed(ctx context.Context, cc bool, clientID, grantID string) {
	name := EventAccessTokenDestroyed
	if cc {
		name = EventClientCredentialsDestroyed
	}
	s.p.events.Emit(ctx, Event{Name: name, ClientID: clientID, GrantID: grantID})
}

// revokedJTIStore remembers revoked JWT access tokens by jti until they
// expire: a JWT is not stored, so revoking it leaves a marker instead.
type revokedJTIStore struct{ records[struct{}] }

func (p *Provider) revokedJTIs() revokedJTIStore {
	return revokedJTIStore{records[struct{}]{p, KindRevokedJTI}}
}

// revoke marks the JWT with jti revoked until exp; the marker belongs to the
// token's grant, so revoking the grant removes it too. The token's
// destroyed event follows (cc: a client's own token).
func (s revokedJTIStore) revoke(ctx context.Context, jti, grantID string, exp time.Time, cc bool, clientID string) error {
	rec := Record{Kind: KindRevokedJTI, ID: jti, GrantID: grantID, Payload: []byte{}, ExpiresAt: exp}
	if err := s.p.cfg.Store.Put(ctx, rec, true); err != nil {
		return err
	}
	s.p.accessTokens().destroyed(ctx, cc, clientID, grantID)
	return nil
}

// revoked reports whether the JWT with jti was revoked. (The token's own
// exp, checked first, bounds the marker's life.)
func (s revokedJTIStore) revoked(ctx context.Context, jti string) (bool, error) {
	_, err := s.p.cfg.Store.Get(ctx, KindRevokedJTI, jti)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func ignoreNotFound(err error) error {
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
