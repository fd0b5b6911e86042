package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// session is the server side of a browser login (one per session cookie).
type session struct {
	// SID identifies the session to relying parties (the ID token's sid claim,
	// back-channel logout); it is not the cookie value.
	SID       string `json:"sid"`
	AccountID string `json:"sub"`
	AuthTime  int64  `json:"auth_time"`
	// Grants maps client_id to the grant the user consented to in this session.
	Grants    map[string]string `json:"grants,omitempty"`
	ExpiresAt time.Time         `json:"-"`
	cookieID  string            // secretID of the cookie value
}

// grant records what a user consented to for one client. Every code and token
// issued under it carries its id, so it can be revoked as a whole.
type grant struct {
	ID        string   `json:"id"`
	AccountID string   `json:"sub"`
	ClientID  string   `json:"client_id"`
	Scopes    []string `json:"scopes"`
}

// interaction is a pending login or consent step of one authorization request.
type interaction struct {
	UID         string      `json:"uid"`
	Request     authRequest `json:"request"`
	Prompt      string      `json:"prompt"`
	CSRF        string      `json:"-"`       // form token derived from the binding cookie per request (interactionCSRF), never stored
	BindingID   string      `json:"binding"` // secretID of the browser-binding cookie
	LoginDone   bool        `json:"login_done,omitempty"`
	ConsentDone bool        `json:"consent_done,omitempty"`
	AccountID   string      `json:"sub,omitempty"`
	AuthTime    int64       `json:"auth_time,omitempty"`
	// SealedUserCode is the device flow's user code, for the consent page
	// to show; sealed under the binding cookie (sealUserCode).
	SealedUserCode []byte `json:"user_code,omitempty"`
	// LoginName and Notice carry a failed login across the POST-redirect-GET
	// to the login page: the name typed (never the password) and the
	// catalogue key of the message (login.error.<Notice>).
	LoginName string    `json:"login_name,omitempty"`
	Notice    string    `json:"notice,omitempty"`
	ExpiresAt time.Time `json:"-"`
	// wait goes into a throttled page's message; shown, never stored.
	wait time.Duration
}

func (in *interaction) noticeWait() time.Duration { return in.wait }

// authCode is what an authorization code stands for.
type authCode struct {
	ClientID      string   `json:"client_id"`
	RedirectURI   string   `json:"redirect_uri"`
	AccountID     string   `json:"sub"`
	Scopes        []string `json:"scopes"`
	Nonce         string   `json:"nonce,omitempty"`
	CodeChallenge string   `json:"code_challenge,omitempty"`
	AuthTime      int64    `json:"auth_time"`
	SID           string   `json:"sid,omitempty"`
	GrantID       string   `json:"grant_id"`
}

// accessToken is what an opaque access token stands for.
type accessToken struct {
	ClientID  string
	AccountID string // empty for client_credentials tokens
	Scopes    []string
	GrantID   string
	Audience  string
	IssuedAt  int64
	ExpiresAt int64
}

func (t *accessToken) clientCredentials() bool { return t.AccountID == "" }

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
	IssuedAt  int64
	// AbsoluteExpiry caps the whole rotation chain.
	AbsoluteExpiry int64
	// Successor is set when the token is consumed by rotation: the new
	// token, sealed for the reuse grace (successorSealer), so a duplicate
	// of the refresh gets the same one. Never logged.
	Successor []byte
}

func (p *Provider) put(ctx context.Context, kind Kind, id, uid, grantID string, v any, exp time.Time, durable bool) error {
	b, err := encodePayload(v)
	if err != nil {
		return err
	}
	return p.cfg.Store.Put(ctx, Record{Kind: kind, ID: id, UID: uid, GrantID: grantID, Payload: b, ExpiresAt: exp}, durable)
}

// load reads and decodes a live record; ErrNotFound passes through.
func (p *Provider) load(ctx context.Context, kind Kind, id string, v any) (Record, error) {
	rec, err := p.cfg.Store.Get(ctx, kind, id)
	if err != nil {
		return rec, err
	}
	if p.expired(rec) {
		return rec, ErrNotFound
	}
	return rec, decodeInto(rec.Payload, v)
}

// expired applies the provider's clock on top of the store's own expiry:
// stores may remove records late (Badger's TTL has one-second granularity),
// and the provider's notion of time is the one its tokens are stamped with.
func (p *Provider) expired(rec Record) bool {
	return !rec.ExpiresAt.IsZero() && !p.now().Before(rec.ExpiresAt)
}

// --- sessions ---

func (p *Provider) sessionCookieName() string {
	return p.cookieName("_session", p.cookiePath(""), p.cfg.Cookies.Domain)
}

// cookieName is the configured name prefix plus name, behind the prefix the
// cookie's attributes allow (RFC 6265bis §4.1.3): "__Host-" when it is Secure,
// host-only (no Domain) and for the path "/", so no sibling or parent domain
// and no other path can set or shadow it; "__Secure-" when it is only Secure,
// so no plain-http page can; none over plain http (development), where
// browsers would refuse a prefixed cookie.
func (p *Provider) cookieName(name, path, domain string) string {
	n := p.cfg.Cookies.NamePrefix + name
	switch {
	case !p.secureCookies:
		return n
	case domain == "" && path == "/":
		return "__Host-" + n
	default:
		return "__Secure-" + n
	}
}

// loadSession returns the live session of the request's cookie, or nil.
func (p *Provider) loadSession(r *http.Request) (*session, error) {
	c, err := r.Cookie(p.sessionCookieName())
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return nil, nil
	}
	var s session
	id := secretID(c.Value)
	rec, err := p.load(r.Context(), KindSession, id, &s)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.cookieID, s.ExpiresAt = id, rec.ExpiresAt
	return &s, nil
}

// startSession logs the account in on this browser. The cookie value is always
// new (no session fixation); grants of the previous session carry over only
// when the same account logs in again, and so does its sid: re-authenticating
// (prompt=login, max_age) does not start another session of the user agent
// in the sense of the sid claim (OIDC Back-Channel Logout 1.0 §2.1), and the
// relying parties know the session by the sid of the ID tokens they hold, for
// back-channel logout and for logging out with an id_token_hint.
func (p *Provider) startSession(w http.ResponseWriter, r *http.Request, prev *session, accountID string, authTime time.Time) (*session, error) {
	value := newSecret()
	s := &session{SID: newHandle(), AccountID: accountID, AuthTime: authTime.Unix(), ExpiresAt: authTime.Add(p.cfg.Lifetimes.Session), cookieID: secretID(value)}
	if prev != nil && prev.AccountID == accountID {
		s.SID, s.Grants = prev.SID, prev.Grants
	}
	if err := p.saveSession(r, s); err != nil {
		return nil, err
	}
	if prev != nil {
		p.destroySession(r, prev)
	}
	http.SetCookie(w, &http.Cookie{
		Name: p.sessionCookieName(), Value: value, Path: p.cookiePath(""), Domain: p.cfg.Cookies.Domain,
		Expires: s.ExpiresAt, HttpOnly: true, Secure: p.secureCookies, SameSite: http.SameSiteLaxMode,
	})
	return s, nil
}

func (p *Provider) saveSession(r *http.Request, s *session) error {
	// Durable: losing a login costs the user a password entry, nothing worse,
	// but sessions are few (one per login) so the fsync is affordable.
	if err := p.put(r.Context(), KindSession, s.cookieID, s.SID, "", s, s.ExpiresAt, true); err != nil {
		return err
	}
	p.emit(r, Event{Name: EventSessionSaved})
	return nil
}

// destroySession deletes the session and reports whether this call ended it
// (false when it was already gone, say ended by a concurrent logout).
func (p *Provider) destroySession(r *http.Request, s *session) bool {
	if err := p.cfg.Store.Delete(r.Context(), KindSession, s.cookieID); err != nil {
		return false
	}
	p.emit(r, Event{Name: EventSessionDestroyed})
	return true
}

// cookiePath scopes cookies to the issuer's path.
func (p *Provider) cookiePath(sub string) string {
	path := p.prefix + sub
	if path == "" {
		return "/"
	}
	return path
}

// --- grants ---

// loadGrant returns the session's live grant for the client, or nil.
func (p *Provider) loadGrant(ctx context.Context, s *session, clientID string) (*grant, error) {
	if s == nil || s.Grants[clientID] == "" {
		return nil, nil
	}
	var g grant
	_, err := p.load(ctx, KindGrant, s.Grants[clientID], &g)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if g.AccountID != s.AccountID || g.ClientID != clientID {
		return nil, nil
	}
	return &g, nil
}

// saveGrant stores a new grant or widens an existing one, and links it to the
// session. Durable: it is the user's recorded consent.
func (p *Provider) saveGrant(r *http.Request, s *session, existing *grant, client *Client, scopes []string) (*grant, error) {
	clientID := client.ID
	g := existing
	if g == nil {
		g = &grant{ID: newHandle(), AccountID: s.AccountID, ClientID: clientID}
		if err := p.rememberGrant(r.Context(), client, g.ID); err != nil {
			return nil, err
		}
	}
	for _, sc := range scopes {
		if !coversScopes(g.Scopes, []string{sc}) {
			g.Scopes = append(g.Scopes, sc)
		}
	}
	exp := p.now().Add(p.cfg.Lifetimes.Grant)
	if err := p.put(r.Context(), KindGrant, g.ID, grantRef(g.ID), g.ID, g, exp, true); err != nil {
		return nil, err
	}
	if s.Grants[clientID] != g.ID {
		if err := p.linkGrant(r, s, clientID, g.ID); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// errSessionEnded: the session was logged out (or expired) while a grant was
// being linked to it.
var errSessionEnded = fmt.Errorf("the session has ended: %w", ErrNotFound)

// linkGrant records the client's grant in the stored session with a
// read-modify-write, merging into the Grants the session has now: two
// consents of one session at the same time must both stay linked, or the
// client whose link was lost would miss the back-channel logout. A session
// that ended meanwhile stays ended (errSessionEnded). s.Grants becomes the
// merged map.
func (p *Provider) linkGrant(r *http.Request, s *session, clientID, grantID string) error {
	var merged map[string]string
	_, err := p.cfg.Store.Update(r.Context(), KindSession, s.cookieID, func(rec *Record) error {
		if p.expired(*rec) {
			return ErrNotFound
		}
		var cur session
		if err := decodeInto(rec.Payload, &cur); err != nil {
			return err
		}
		if cur.SID != s.SID || cur.AccountID != s.AccountID {
			return ErrNotFound // not the session this request started from
		}
		if cur.Grants == nil {
			cur.Grants = map[string]string{}
		}
		cur.Grants[clientID] = grantID
		b, err := encodePayload(&cur)
		if err != nil {
			return err
		}
		rec.Payload, merged = b, cur.Grants
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return errSessionEnded
	}
	if err != nil {
		return err
	}
	s.Grants = merged
	p.emit(r, Event{Name: EventSessionSaved})
	return nil
}
