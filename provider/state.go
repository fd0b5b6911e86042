package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

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
	s, err := p.sessions().load(r.Context(), secretID(c.Value))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return s, err
}

// startSession logs the account in on this browser. The cookie value is always
// new (no session fixation); grants of the previous session carry over only
// when the same account logs in again, and so does its sid: re-authenticating
// (prompt=login, max_age) does not start another session of the user agent
// in the sense of the sid claim (OIDC Back-Channel Logout 1.0 §2.1), and the
// relying parties know the session by the sid of the ID tokens they hold, for
// back-channel logout and for logging out with an id_token_hint.
func (p *Provider) startSession(w http.ResponseWriter, r *http.Request, prev *session, accountID string, authTime time.Time, amr []string) (*session, error) {
	value := newSecret()
	s := &session{SID: newHandle(), AccountID: accountID, AuthTime: authTime.Unix(), AMR: storedAMR(amr), ExpiresAt: authTime.Add(p.cfg.Lifetimes.Session), cookieID: secretID(value)}
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
	return p.sessions().save(r.Context(), s)
}

// destroySession deletes the session and reports whether this call ended it
// (false when it was already gone, say ended by a concurrent logout).
func (p *Provider) destroySession(r *http.Request, s *session) bool {
	return p.sessions().destroy(r.Context(), s)
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
	g, _, err := p.grants().get(ctx, s.Grants[clientID])
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
	isNew := g == nil
	if isNew {
		g = &grant{ID: newHandle(), AccountID: s.AccountID, ClientID: clientID}
	}
	for _, sc := range scopes {
		if !coversScopes(g.Scopes, []string{sc}) {
			g.Scopes = append(g.Scopes, sc)
		}
	}
	exp := p.now().Add(p.cfg.Lifetimes.Grant)
	owner := ""
	if client.dynamic {
		owner = clientID
	}
	if err := p.grants().save(r.Context(), g, exp, owner); err != nil {
		return nil, err
	}
	if isNew && client.dynamic {
		if err := p.checkClientOutlivesGrant(r.Context(), clientID, g.ID); err != nil {
			return nil, err
		}
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
	merged, err := p.sessions().link(r.Context(), s, clientID, grantID)
	if errors.Is(err, ErrNotFound) {
		return errSessionEnded
	}
	if err != nil {
		return err
	}
	s.Grants = merged
	return nil
}
