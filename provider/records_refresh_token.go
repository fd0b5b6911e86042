package provider

import (
	"context"
	"time"
)

// refreshToken is what a refresh token stands for. A rotated token is
// consumed, not deleted, so its reuse can be recognised (RFC 9700 §4.14.2).
type refreshToken struct {
	ClientID  string
	AccountID string
	Scopes    []string
	GrantID   string
	SID       string
	Resource  string
	AuthTime  int64
	// AMR of the login the chain started from (acr.go).
	AMR      []string
	IssuedAt int64
	// AbsoluteExpiry caps the whole rotation chain.
	AbsoluteExpiry int64
	// Successor is set when the token is consumed by rotation: the new
	// token, sealed for the reuse grace (successorSealer), so a duplicate
	// of the refresh gets the same one. Never logged.
	Successor []byte
}

func (t refreshToken) MarshalBinary() ([]byte, error) {
	w := newBinWriter()
	for _, s := range []string{t.ClientID, t.AccountID, t.GrantID, t.SID, t.Resource} {
		w.str(s)
	}
	w.strs(t.Scopes)
	w.int(t.AuthTime)
	w.int(t.IssuedAt)
	w.int(t.AbsoluteExpiry)
	// Optional trailers: only consumed tokens carry a sealed successor,
	// then the login's amr; records written before either existed end
	// early. An empty successor stands for none when amr follows.
	if len(t.Successor) > 0 || len(t.AMR) > 0 {
		w.str(string(t.Successor))
	}
	w.trailingStrs(t.AMR)
	return w.b, nil
}

func (t *refreshToken) UnmarshalBinary(b []byte) error {
	r := newBinReader(b)
	*t = refreshToken{ClientID: r.str(), AccountID: r.str(), GrantID: r.str(), SID: r.str(), Resource: r.str()}
	t.Scopes, t.AuthTime, t.IssuedAt, t.AbsoluteExpiry = r.strs(), r.int(), r.int(), r.int()
	if r.err == nil && len(r.b) > 0 {
		switch s := r.str(); {
		case s != "":
			t.Successor = []byte(s)
		case r.err == nil && len(r.b) == 0:
			r.err = errCorruptRecord // an empty successor is written only before amr
		}
	}
	t.AMR = r.trailingStrs()
	return r.done()
}

// refreshTokenStore keeps refresh tokens by hash. A rotated token is
// consumed, not deleted, so its reuse can be recognised.
type refreshTokenStore struct{ records[refreshToken] }

func (p *Provider) refreshTokens() refreshTokenStore {
	return refreshTokenStore{records[refreshToken]{p, KindRefreshToken}}
}

// write stores the token with value hash id under its grant, durably (a
// refresh token is a long-lived credential the client relies on), without
// the saved event: a rotation's candidate counts only once handed out.
func (s refreshTokenStore) write(ctx context.Context, id string, rt refreshToken, exp time.Time) error {
	return s.put(ctx, id, "", rt.GrantID, rt, exp, true)
}

// saved is refresh_token.saved, emitted once a written token is handed out.
func (s refreshTokenStore) saved(ctx context.Context, clientID, grantID string) {
	s.p.events.Emit(ctx, Event{Name: EventRefreshTokenSaved, ClientID: clientID, GrantID: grantID})
}

// load returns the live token with hash id and when it was consumed (zero:
// not yet).
func (s refreshTokenStore) load(ctx context.Context, id string) (refreshToken, time.Time, error) {
	rt, rec, err := s.get(ctx, id)
	return rt, rec.ConsumedAt, err
}

// use is the refresh grant's one read-modify-write of the token with hash
// id: decide sees the live token and when it was consumed (zero: not yet)
// and refuses with an error; when it accepts and rotate is set, the token
// is consumed now and keeps the sealed successor (refresh_token.consumed).
// A token expired by the provider's clock is ErrNotFound. The token read is
// returned with any error, so a refusal can name its grant.
func (s refreshTokenStore) use(ctx context.Context, id, clientID string, rotate bool, successor []byte, decide func(rt refreshToken, consumedAt time.Time) error) (refreshToken, error) {
	now := s.p.now()
	var read refreshToken
	_, err := s.update(ctx, id, func(rt *refreshToken, rec *Record) error {
		read = *rt
		if s.p.expired(*rec) {
			return ErrNotFound
		}
		if err := decide(*rt, rec.ConsumedAt); err != nil {
			return err
		}
		if rotate {
			rt.Successor, rec.ConsumedAt = successor, now
		}
		return nil
	})
	if err == nil && rotate {
		s.p.events.Emit(ctx, Event{Name: EventRefreshTokenConsumed, ClientID: clientID, GrantID: read.GrantID})
	}
	return read, err
}

// slide moves the idle expiry of a token that is not rotated.
func (s refreshTokenStore) slide(ctx context.Context, id string, exp time.Time) error {
	_, err := s.p.cfg.Store.Update(ctx, KindRefreshToken, id, func(rec *Record) error {
		rec.ExpiresAt = exp
		return nil
	})
	return err
}

// drop deletes a candidate successor nobody was given: no event, and a
// failure only leaves an unusable record until it expires.
func (s refreshTokenStore) drop(ctx context.Context, id string) {
	_ = s.delete(ctx, id)
}

// destroyed is refresh_token.destroyed, for a revoked grant's tokens.
func (s refreshTokenStore) destroyed(ctx context.Context, clientID, grantID string) {
	s.p.events.Emit(ctx, Event{Name: EventRefreshTokenDestroyed, ClientID: clientID, GrantID: grantID})
}
