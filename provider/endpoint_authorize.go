package provider

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// serveAuthorization is the authorization endpoint (OIDC Core §3.1.2). GET and
// POST are both allowed (§3.1.2.1); POST carries the parameters as a form.
func (p *Provider) serveAuthorization(w http.ResponseWriter, r *http.Request) {
	in, perr := p.readGetOrPost(w, r)
	if perr != nil {
		p.authorizationError(w, r, &authError{Error: perr}, nil)
		return
	}
	var req *authRequest
	var client *Client
	var aerr *authError
	if in.get("request_uri") != "" {
		req, client, aerr = p.pushedRequest(r, in)
	} else {
		req, client, aerr = parseAuthRequest(r.Context(), p.clients, in)
		if aerr == nil && p.requiresPAR(client) {
			aerr = &authError{Error: errInvalidRequest("this client must use pushed authorization requests"), redirect: true, req: req}
		}
	}
	if aerr != nil {
		p.authorizationError(w, r, aerr, client)
		return
	}
	p.authorizationAccepted(r, client.ID)
	sess, err := p.loadSession(r)
	if err != nil {
		p.authorizationError(w, r, &authError{Error: errServer(err)}, client)
		return
	}
	p.resolve(w, r, req, client, sess, nil)
}

// resolve decides what an accepted request still needs (login, consent) and
// either starts or continues an interaction, or completes the request. It
// runs for the initial request and again after every interaction step.
func (p *Provider) resolve(w http.ResponseWriter, r *http.Request, req *authRequest, client *Client, sess *session, in *interaction) {
	ctx := r.Context()
	now := p.now()
	loggedInHere := in != nil && in.LoginDone

	var account *Account
	if sess != nil {
		acc, err := p.cfg.Accounts.Account(ctx, sess.AccountID)
		switch {
		case err == nil:
			account = acc
		case !errors.Is(err, ErrNotFound):
			p.authorizationError(w, r, &authError{Error: errServer(err)}, client)
			return
		}
	}
	needLogin := account == nil
	if !needLogin && !loggedInHere {
		// prompt=login and max_age ask for a fresh authentication (OIDC Core
		// §3.1.2.1); a login inside this very interaction satisfies both.
		if req.hasPrompt(promptLogin) || req.hasPrompt(promptSelectAccount) {
			needLogin = true
		}
		if req.MaxAge >= 0 && now.Unix()-sess.AuthTime > req.MaxAge {
			needLogin = true
		}
	}
	// A request that prefers mfa (acr_values) from a user who has a second
	// factor but a password-only session: the code alone steps the session
	// up. A user without one goes on at pwd, which the ID token's acr says
	// (the request is voluntary, OIDC Core §3.1.2.1).
	needSecondFactor := !needLogin && req.wantsMultiFactor() && account.SecondFactor.Set() && acrOf(sess.AMR) != ACRMultiFactor
	var g *grant
	needConsent := false
	if !needLogin && !needSecondFactor {
		var err error
		if g, err = p.loadGrant(ctx, sess, client.ID); err != nil {
			p.authorizationError(w, r, &authError{Error: errServer(err)}, client)
			return
		}
		consentedHere := in != nil && in.ConsentDone
		// The device flow always asks (RFC 8628 §5.4: an attacker can send
		// a victim their device's user code).
		if !client.SkipConsent || req.DeviceCodeID != "" {
			needConsent = g == nil || !coversScopes(g.Scopes, req.Scopes) || (req.hasPrompt(promptConsent) && !consentedHere)
		}
	}
	if needLogin || needSecondFactor || needConsent {
		prompt, code, must := promptConsent, ErrCodeConsentRequired, "consent"
		switch {
		case needLogin:
			prompt, code, must = promptLogin, ErrCodeLoginRequired, "login"
		case needSecondFactor:
			// OIDC Core §3.1.2.6: the user must interact to complete it.
			prompt, code, must = promptSecondFactor, ErrCodeInteractionRequired, "give a one-time code"
		}
		if req.hasPrompt(promptNone) {
			p.authorizationError(w, r, &authError{Error: newError(http.StatusBadRequest, code, "prompt=none was requested but the user must "+must), redirect: true, req: req}, client)
			return
		}
		p.startInteraction(w, r, req, client, in, prompt)
		return
	}
	if g == nil {
		// A first-party client needs no consent screen, but every code and
		// token still belongs to a grant so it can be revoked as a whole.
		var err error
		if g, err = p.saveGrant(r, sess, nil, client, req.Scopes); errors.Is(err, errSessionEnded) {
			// Logged out (in another tab) while this request ran: the user
			// is simply not signed in any more.
			if req.hasPrompt(promptNone) {
				p.authorizationError(w, r, &authError{Error: newError(http.StatusBadRequest, ErrCodeLoginRequired, "the session ended"), redirect: true, req: req, userActed: in != nil}, client)
				return
			}
			p.startInteraction(w, r, req, client, in, promptLogin)
			return
		} else if err != nil {
			p.authorizationError(w, r, &authError{Error: errServer(err)}, client)
			return
		}
	}
	if req.DeviceCodeID != "" {
		if in != nil {
			p.endInteraction(w, r, in, client.ID)
		}
		p.settleDevice(w, r, req, client, sess, g, true)
		return
	}
	code := newSecret()
	ac := authCode{
		ClientID: client.ID, RedirectURI: req.RedirectURI, AccountID: account.Subject, Scopes: req.Scopes,
		Nonce: req.Nonce, CodeChallenge: req.CodeChallenge, AuthTime: sess.AuthTime, AMR: sess.AMR, SID: sess.SID, GrantID: g.ID,
	}
	if err := p.codes().save(ctx, secretID(code), ac, now.Add(p.cfg.Lifetimes.AuthorizationCode)); err != nil {
		p.authorizationError(w, r, &authError{Error: errServer(err)}, client)
		return
	}
	if in != nil {
		p.endInteraction(w, r, in, client.ID)
	}
	p.authorizationSucceeded(r, client.ID, g.ID)
	p.respondToClient(w, r, req, url.Values{"code": {code}})
}

// authorizationError reports an authorization endpoint error: to the client
// when its redirect URI is trusted, else on an error page for the user.
func (p *Provider) authorizationError(w http.ResponseWriter, r *http.Request, ae *authError, client *Client) {
	clientID := ""
	if client != nil {
		clientID = client.ID
	}
	p.authorizationFailed(r, ae.Error, clientID)
	if !ae.redirect || ae.req == nil || ae.req.RedirectURI == "" || !p.mayRedirectError(r, ae, client) {
		p.renderClientError(w, r, ae.Error, client)
		return
	}
	v := url.Values{"error": {ae.Code}}
	if ae.Description != "" {
		v.Set("error_description", ae.Description)
	}
	p.respondToClient(w, r, ae.req, v)
}

// mayRedirectError decides whether an error may go to the client's redirect
// URI at once (RFC 9700 §4.11.2). An operator vouches for the URIs of the
// clients it configures. A self-registered client's URIs are whatever its
// registrant chose: redirecting its errors (prompt=none, a bad
// response_type or scope) straight away would make the provider an open
// redirector behind a trustworthy link. Such errors go there only once the
// user has shown trust in the client: by acting on a page of this request,
// or by having approved the client before (a live grant in the session).
// Otherwise the user sees the error here.
func (p *Provider) mayRedirectError(r *http.Request, ae *authError, client *Client) bool {
	if client == nil || !client.dynamic || ae.userActed {
		return true
	}
	sess, err := p.loadSession(r)
	if err != nil || sess == nil {
		return false
	}
	g, err := p.loadGrant(r.Context(), sess, client.ID)
	return err == nil && g != nil
}

// respondToClient sends the authorization response to the redirect URI in the
// requested response mode, adding state and iss (RFC 9207).
func (p *Provider) respondToClient(w http.ResponseWriter, r *http.Request, req *authRequest, v url.Values) {
	if req.State != "" {
		v.Set("state", req.State)
	}
	v.Set("iss", p.cfg.Issuer)
	noStore(w.Header())
	if req.ResponseMode == responseModeFormPost {
		p.renderFormPost(w, r, req.RedirectURI, v)
		return
	}
	target := req.RedirectURI
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	// 303 so a POSTed login or consent form becomes a GET at the client.
	http.Redirect(w, r, target+sep+v.Encode(), http.StatusSeeOther)
}

func unixTime(t int64) time.Time { return time.Unix(t, 0) }

// The outcome events of an authorization request, whether it came to the
// authorization endpoint or to the device verification page, and whichever
// page (login, consent) it ended on: one function each.

// authorizationAccepted: the request is valid and its client known.
func (p *Provider) authorizationAccepted(r *http.Request, clientID string) {
	p.emit(r, Event{Name: EventAuthorizationAccepted, ClientID: clientID})
}

// authorizationSucceeded: the user's grant is settled (a code issued, a
// device approved).
func (p *Provider) authorizationSucceeded(r *http.Request, clientID, grantID string) {
	p.emit(r, Event{Name: EventAuthorizationSuccess, ClientID: clientID, GrantID: grantID})
}

// authorizationFailed is authorization.error with e's code and description
// (server_error for a fault).
func (p *Provider) authorizationFailed(r *http.Request, e *Error, clientID string) {
	p.emitError(r, EventAuthorizationError, e, clientID)
}
