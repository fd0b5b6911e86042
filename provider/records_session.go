package provider

import (
	"context"
	"time"
)

// session is the server side of a browser login (one per session cookie).
type session struct {
	// SID identifies the session to relying parties (the ID token's sid claim,
	// back-channel logout); it is not the cookie value.
	SID       string `json:"sid"`
	AccountID string `json:"sub"`
	AuthTime  int64  `json:"auth_time"`
	// AMR are the methods of the session's authentication (RFC 8176; acr.go):
	// ["pwd"], or ["pwd","otp","mfa"] after a second factor. Absent in
	// sessions from before levels: a password login.
	AMR []string `json:"amr,omitempty"`
	// Grants maps client_id to the grant the user consented to in this session.
	Grants    map[string]string `json:"grants,omitempty"`
	ExpiresAt time.Time         `json:"-"`
	cookieID  string            // secretID of the cookie value
}

// sessionStore keeps browser sessions, by the hash of the cookie value and
// by sid.
type sessionStore struct{ records[session] }

func (p *Provider) sessions() sessionStore { return sessionStore{records[session]{p, KindSession}} }

// load returns the live session with cookie hash id.
func (s sessionStore) load(ctx context.Context, id string) (*session, error) {
	sess, rec, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	sess.cookieID, sess.ExpiresAt = id, rec.ExpiresAt
	return &sess, nil
}

// bySID returns the live session with sid.
func (s sessionStore) bySID(ctx context.Context, sid string) (*session, error) {
	sess, rec, err := s.getByUID(ctx, sid)
	if err != nil {
		return nil, err
	}
	sess.cookieID, sess.ExpiresAt = rec.ID, rec.ExpiresAt
	return &sess, nil
}

// save writes the session. Durable: losing a login costs the user a
// password entry, nothing worse, but sessions are few (one per login) so the
// fsync is affordable.
func (s sessionStore) save(ctx context.Context, sess *session) error {
	if err := s.put(ctx, sess.cookieID, sess.SID, "", *sess, sess.ExpiresAt, true); err != nil {
		return err
	}
	s.saved(ctx)
	return nil
}

// link records the client's grant in the stored session with a
// read-modify-write, merging into the Grants the session has now, and
// returns the merged map. A session that ended meanwhile, or is not the one
// sess was read from, is ErrNotFound.
func (s sessionStore) link(ctx context.Context, sess *session, clientID, grantID string) (map[string]string, error) {
	cur, err := s.update(ctx, sess.cookieID, func(cur *session, rec *Record) error {
		if s.p.expired(*rec) {
			return ErrNotFound
		}
		if cur.SID != sess.SID || cur.AccountID != sess.AccountID {
			return ErrNotFound // not the session this request started from
		}
		if cur.Grants == nil {
			cur.Grants = map[string]string{}
		}
		cur.Grants[clientID] = grantID
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.saved(ctx)
	return cur.Grants, nil
}

func (s sessionStore) saved(ctx context.Context) {
	s.p.events.Emit(ctx, Event{Name: EventSessionSaved})
}

// destroy deletes the session and reports whether this call ended it
// (false when it was already gone, say ended by a concurrent logout).
func (s sessionStore) destroy(ctx context.Context, sess *session) bool {
	if err := s.delete(ctx, sess.cookieID); err != nil {
		return false
	}
	s.p.events.Emit(ctx, Event{Name: EventSessionDestroyed})
	return true
}
