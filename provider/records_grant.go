package provider

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"
)

// grant records what a user consented to for one client. Every code and token
// issued under it carries its id, so it can be revoked as a whole.
type grant struct {
	ID        string   `json:"id"`
	AccountID string   `json:"sub"`
	ClientID  string   `json:"client_id"`
	Scopes    []string `json:"scopes"`
}

// grantRef is the grant's public reference: the gid claim of JWT access
// tokens, and the grant record's UID. It is a hash so tokens do not carry the
// internal handle, yet introspection can still find whether the grant lives.
func grantRef(grantID string) string {
	h := sha256.Sum256([]byte("grant:" + grantID))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

// grantStore keeps grants: a user's consent for one client, which every
// code and token issued under it names, so it can be revoked as a whole.
type grantStore struct{ records[grant] }

func (p *Provider) grants() grantStore { return grantStore{records[grant]{p, KindGrant}} }

// save stores a new or widened grant, findable by its reference (grantRef)
// too. Durable: it is the user's recorded consent. A registered client's
// grants are indexed by the client (owner is its id), so deleting the client
// finds them all (ofClient) without a list kept on the client's record.
func (s grantStore) save(ctx context.Context, g *grant, exp time.Time, owner string) error {
	return s.putOwned(ctx, g.ID, grantRef(g.ID), g.ID, owner, *g, exp, true)
}

// grantPageSize is how many grant ids ofClient reads at a time.
const grantPageSize = 256

// ofClient calls fn with the id of every grant indexed under the registered
// client clientID, a page at a time, so a client with many users costs
// memory for one page only.
func (s grantStore) ofClient(ctx context.Context, clientID string, fn func(grantID string) error) error {
	after := ""
	for {
		page, err := s.p.cfg.Store.ListByOwner(ctx, KindGrant, clientID, after, grantPageSize)
		if err != nil {
			return err
		}
		for _, rec := range page {
			if err := fn(rec.ID); err != nil {
				return err
			}
			after = rec.ID
		}
		if len(page) < grantPageSize {
			return nil
		}
	}
}

// extend keeps the grant alive at least until until. ErrNotFound when the
// grant is gone (revoked).
func (s grantStore) extend(ctx context.Context, grantID string, until time.Time) error {
	_, err := s.p.cfg.Store.Update(ctx, KindGrant, grantID, func(rec *Record) error {
		if rec.ExpiresAt.Before(until) {
			rec.ExpiresAt = until
		}
		return nil
	})
	return err
}

// stands reports whether the store still holds the grant: the check that a
// token does not outlive the grant it was issued under. (The store's own
// expiry decides, as the token's expiry is checked on its own.)
func (s grantStore) stands(ctx context.Context, grantID string) (bool, error) {
	_, err := s.p.cfg.Store.Get(ctx, KindGrant, grantID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// byRef returns the id of the grant with the public reference ref (a JWT
// access token's gid); ErrNotFound when it was revoked.
func (s grantStore) byRef(ctx context.Context, ref string) (string, error) {
	rec, err := s.p.cfg.Store.GetByUID(ctx, KindGrant, ref)
	return rec.ID, err
}

// revoke removes everything issued under a grant in one store operation
// (codes, access and refresh tokens, JWT revocation markers, the consent
// itself) and emits grant.revoked once, then a destroyed event per record.
func (s grantStore) revoke(ctx context.Context, grantID, clientID string) error {
	if grantID == "" {
		return nil
	}
	s.p.events.Emit(ctx, Event{Name: EventGrantRevoked, ClientID: clientID, GrantID: grantID})
	removed, err := s.p.cfg.Store.DeleteByGrant(ctx, grantID)
	for _, rec := range removed {
		s.p.recordRemoved(ctx, rec, clientID)
	}
	return err
}

// recordRemoved hands a record a revoked grant took with it to its store,
// for the store's destroyed event.
func (p *Provider) recordRemoved(ctx context.Context, rec Record, clientID string) {
	switch rec.Kind {
	case KindAuthorizationCode:
		p.codes().destroyed(ctx, clientID, rec.GrantID)
	case KindRefreshToken:
		p.refreshTokens().destroyed(ctx, clientID, rec.GrantID)
	case KindAccessToken:
		p.accessTokens().removed(ctx, rec, clientID)
	case KindReplayDetection:
		p.replayDetection().destroyed(ctx, clientID, rec.GrantID)
	case KindPushedAuthorizationRequest:
		p.pushedRequests().destroyed(ctx, clientID, rec.GrantID)
	default:
		return // grants and markers have no destroyed event of their own
	}
}
