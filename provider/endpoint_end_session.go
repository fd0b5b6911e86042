package provider

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// logoutRequest is a validated RP-Initiated Logout request.
type logoutRequest struct {
	client      *Client
	redirectURI string
	state       string
	hintSID     string // sid of a valid id_token_hint
	hintSub     string // its sub
}

// serveEndSession is the end_session_endpoint of OpenID Connect RP-Initiated
// Logout 1.0. The user confirms on a CSRF-protected page unless the relying
// party proves, by an id_token_hint of this very session, that the request
// is its own: otherwise any site could log users out (§2, §6).
func (p *Provider) serveEndSession(w http.ResponseWriter, r *http.Request) {
	in, perr := p.readGetOrPost(w, r)
	if perr != nil {
		p.logoutFailed(w, r, perr)
		return
	}
	confirming := in.get("decision") != ""
	if confirming {
		// The confirmation form carries the original request in logout_state.
		orig, err := url.ParseQuery(in.get("logout_state"))
		if err != nil {
			p.logoutFailed(w, r, errInvalidRequest("malformed logout_state"))
			return
		}
		for _, k := range []string{"client_id", "post_logout_redirect_uri", "state"} {
			if v := orig.Get(k); v != "" {
				in[k] = v
			}
		}
	}
	lr, e := p.parseLogoutRequest(r.Context(), in)
	if e != nil {
		p.logoutFailed(w, r, e)
		return
	}
	sess, err := p.loadSession(r)
	if err != nil {
		p.logoutFailed(w, r, errServer(err))
		return
	}
	stayed := false // the person chose "Stay signed in" on the confirmation
	switch {
	case sess == nil && lr.hintSID != "":
		// No cookie: the relying party's back end, or a browser whose
		// cookie a cross-site POST did not carry. The hint names the session.
		if e := p.endSessionOfHint(r, lr); e != nil {
			p.logoutFailed(w, r, e)
			return
		}
	case sess == nil:
		// Nobody to log out: the outcome the relying party wants already holds.
	case lr.hintSID != "" && lr.hintSID == sess.SID:
		p.logout(w, r, sess)
	case !confirming:
		p.renderLogoutConfirmation(w, r, sess, lr)
		return
	default:
		if subtle.ConstantTimeCompare([]byte(in.get("csrf_token")), []byte(logoutCSRF(sess))) != 1 {
			p.logoutFailed(w, r, errFormExpired())
			return
		}
		if in.get("decision") == "logout" {
			p.logout(w, r, sess)
		} else {
			stayed = true
		}
	}
	clientID := ""
	if lr.client != nil {
		clientID = lr.client.ID
	}
	p.emit(r, Event{Name: EventEndSessionSuccess, ClientID: clientID})
	noStore(w.Header())
	if lr.redirectURI != "" {
		target := lr.redirectURI
		if lr.state != "" {
			sep := "?"
			if strings.Contains(target, "?") {
				sep = "&"
			}
			target += sep + url.Values{"state": {lr.state}}.Encode()
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	// A person who chose to stay signed in is told so: the page never
	// reports a logout that did not happen.
	p.render(w, r, p.pages.logout, http.StatusOK, map[string]any{"Done": !stayed, "Stayed": stayed})
}

// parseLogoutRequest validates §2: an id_token_hint this provider issued
// (expired ones are fine: logging out is when they have expired), client_id
// agreeing with it, and a post_logout_redirect_uri registered exactly for the
// client so identified.
func (p *Provider) parseLogoutRequest(ctx context.Context, in params) (*logoutRequest, *Error) {
	lr := &logoutRequest{state: in.get("state")}
	if len(lr.state) > maxStateLen {
		return nil, errInvalidRequest("state is too long")
	}
	clientID := in.get("client_id")
	if hint := in.get("id_token_hint"); hint != "" {
		claims, err := p.cfg.Signer.VerifyJWT(hint, "JWT")
		if err != nil || claims["iss"] != p.cfg.Issuer {
			return nil, errInvalidRequest("id_token_hint is not an ID token of this provider")
		}
		aud, _ := claims["aud"].(string)
		if arr, ok := claims["aud"].([]any); ok && len(arr) > 0 {
			aud, _ = arr[0].(string)
		}
		if clientID != "" && clientID != aud {
			return nil, errInvalidRequest("client_id does not match the id_token_hint")
		}
		clientID = aud
		lr.hintSID, _ = claims["sid"].(string)
		lr.hintSub, _ = claims["sub"].(string)
	}
	if clientID != "" {
		c, err := p.clients.Client(ctx, clientID)
		if err != nil {
			return nil, errInvalidRequest("unknown client")
		}
		lr.client = c
	}
	if ru := in.get("post_logout_redirect_uri"); ru != "" {
		if lr.client == nil {
			return nil, errInvalidRequest("post_logout_redirect_uri needs id_token_hint or client_id")
		}
		if !slices.Contains(lr.client.PostLogoutRedirectURIs, ru) {
			return nil, errInvalidRequest("post_logout_redirect_uri is not registered for this client")
		}
		// §3: without an id_token_hint the OP must not redirect unless it
		// has other means of trusting the target. A self-registered
		// client's URIs are its registrant's choice (RFC 9700 §4.11.2), so
		// it needs the hint; the user then sees the logged-out page here.
		if !lr.client.dynamic || in.get("id_token_hint") != "" {
			lr.redirectURI = ru
		}
	}
	return lr, nil
}

// endSessionOfHint ends the session that a valid id_token_hint's sid names,
// for a request without the session cookie (oauth2-proxy's
// --backend-logout-url, zitadel's rp.EndSession, a cross-site form POST).
//
// RP-Initiated Logout 1.0 §2 has the OP ask the End-User unless the
// id_token_hint belongs to the current OP session with the RP, and §6 warns
// that logout requests without a valid hint are a means of denial of
// service. Here there is no End-User to ask, but the hint is the proof the
// confirmation would stand in for: an ID token this provider signed for this
// client, in this very session (its sid), for this very account (its sub),
// and the client takes part in the session (its grant is linked there).
// Only the holder of such a token, the relying party, can end the session
// this way, exactly as it could by sending the browser with the same hint.
// Expired hints are accepted: back ends log out long after the ID token's
// hour. What ends is what a logout by cookie ends: the session and, through
// back-channel logout, each client's view of it.
//
// A session that is already gone (ended, expired) answers success without
// notifying anyone again: the state the relying party asks for holds. A live
// session the hint does not belong to is refused: nothing is ended, and
// saying otherwise would report a logout that did not happen.
func (p *Provider) endSessionOfHint(r *http.Request, lr *logoutRequest) *Error {
	s, err := p.sessions().bySID(r.Context(), lr.hintSID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return errServer(err)
	}
	if s.SID != lr.hintSID || s.AccountID != lr.hintSub || lr.client == nil || s.Grants[lr.client.ID] == "" {
		return errInvalidRequest("the id_token_hint does not belong to a current session of its client")
	}
	if p.destroySession(r, s) {
		p.endGateSessions(r.Context(), s.SID)
		p.backchannelLogout(r, s)
	}
	return nil
}

// logoutCSRF is the confirmation form's token: derived from the session's
// cookie hash, so only the browser holding the session can produce it, and
// nothing needs storing.
func logoutCSRF(s *session) string { return secretID("logout-csrf:" + s.cookieID) }

func (p *Provider) renderLogoutConfirmation(w http.ResponseWriter, r *http.Request, s *session, lr *logoutRequest) {
	state := url.Values{}
	name := ""
	if lr.client != nil {
		state.Set("client_id", lr.client.ID)
		if name = lr.client.Name; name == "" {
			name = lr.client.ID
		}
	}
	if lr.redirectURI != "" {
		state.Set("post_logout_redirect_uri", lr.redirectURI)
	}
	if lr.state != "" {
		state.Set("state", lr.state)
	}
	p.render(w, r, p.pages.logout, http.StatusOK, map[string]any{
		"Action": p.prefix + PathEndSession, "CSRF": logoutCSRF(s), "State": state.Encode(), "ClientName": name,
	})
}

func (p *Provider) logoutFailed(w http.ResponseWriter, r *http.Request, e *Error) {
	p.emitError(r, EventEndSessionError, e, "")
	p.renderError(w, r, e)
}

// logout ends the browser session and tells every client of the session
// that registered a back-channel logout URI.
func (p *Provider) logout(w http.ResponseWriter, r *http.Request, s *session) {
	p.destroySession(r, s)
	p.endGateSessions(r.Context(), s.SID)
	http.SetCookie(w, &http.Cookie{Name: p.sessionCookieName(), Value: "", Path: p.cookiePath(""), Domain: p.cfg.Cookies.Domain,
		MaxAge: -1, HttpOnly: true, Secure: p.secureCookies, SameSite: http.SameSiteLaxMode})
	p.backchannelLogout(r, s)
}
