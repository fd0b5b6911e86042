package provider

import (
	"context"
	"time"
)

// gateSession is the server side of one gate cookie (gate.go): a browser
// signed in to one protected site. It stands for nothing by itself: it is
// valid only while the provider session it was started from (SID) lives,
// which is how every way a session ends (logout, a relying party's logout
// with an id_token_hint, expiry) ends the gate session at the same moment.
type gateSession struct {
	Origin    string
	SID       string
	AccountID string
	Scopes    []string
	GrantID   string
	AuthTime  int64
	// AMR of the login the gate session began with (acr.go); written
	// last, absent in older records.
	AMR []string
}

func (g gateSession) MarshalBinary() ([]byte, error) {
	w := newBinWriter()
	w.str(g.Origin)
	w.str(g.SID)
	w.str(g.AccountID)
	w.strs(g.Scopes)
	w.str(g.GrantID)
	w.int(g.AuthTime)
	w.trailingStrs(g.AMR)
	return w.b, nil
}

func (g *gateSession) UnmarshalBinary(b []byte) error {
	r := newBinReader(b)
	*g = gateSession{Origin: r.str(), SID: r.str(), AccountID: r.str(), Scopes: r.strs(), GrantID: r.str(), AuthTime: r.int()}
	g.AMR = r.trailingStrs()
	return r.done()
}

// gateSessionStore keeps gate sessions by the hash of the cookie value
// (the cookie is a bearer secret), filed under the grant of the gate's
// client, so revoking that grant removes them (Store.DeleteByGrant), and
// indexed by the provider session's sid (Owner), so a logout finds them.
// Gate sessions have no catalogued lifecycle events.
type gateSessionStore struct{ records[gateSession] }

func (p *Provider) gateSessions() gateSessionStore {
	return gateSessionStore{records[gateSession]{p, KindGateSession}}
}

// save writes the gate session with cookie hash id. Durable: like a login,
// it is few per user and worth an fsync.
func (s gateSessionStore) save(ctx context.Context, id string, g gateSession, exp time.Time) error {
	return s.putOwned(ctx, id, "", g.GrantID, g.SID, g, exp, true)
}

// load returns the live gate session with cookie hash id.
func (s gateSessionStore) load(ctx context.Context, id string) (gateSession, error) {
	g, _, err := s.get(ctx, id)
	return g, err
}

// destroy removes one gate session; one already gone is not an error.
func (s gateSessionStore) destroy(ctx context.Context, id string) error {
	return ignoreNotFound(s.delete(ctx, id))
}

// endOfSession removes every gate session started from the provider
// session sid, a page at a time. (They are dead already, as their session
// is; this frees the records at once instead of at their expiry.)
func (s gateSessionStore) endOfSession(ctx context.Context, sid string) error {
	for {
		page, err := s.p.cfg.Store.ListByOwner(ctx, KindGateSession, sid, "", grantPageSize)
		if err != nil {
			return err
		}
		for _, rec := range page {
			if err := s.destroy(ctx, rec.ID); err != nil {
				return err
			}
		}
		if len(page) < grantPageSize {
			return nil
		}
	}
}
