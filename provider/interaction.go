package provider

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
)

// interactionCookieName: the cookie's path is the interaction's, never "/",
// so it is at most "__Secure-" (see cookieName).
func (p *Provider) interactionCookieName() string {
	return p.cookieName("_interaction", p.cookiePath(PathInteraction), "")
}

// startInteraction saves the pending request and sends the browser to the
// login or consent page. The interaction is bound to this browser by a cookie
// whose hash is stored, so a leaked interaction URL is useless elsewhere.
func (p *Provider) startInteraction(w http.ResponseWriter, r *http.Request, req *authRequest, client *Client, in *interaction, prompt string) {
	if in == nil {
		binding := newSecret()
		in = &interaction{UID: newHandle(), Request: *req, BindingID: secretID(binding), ExpiresAt: p.now().Add(p.cfg.Lifetimes.Interaction)}
		if e, wait := p.pending.interactions.acquire(p.clientIP(r), in.UID, in.ExpiresAt, p.now()); e != nil {
			refusePending(w, wait)
			p.authorizationError(w, r, &authError{Error: e}, client)
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name: p.interactionCookieName(), Value: binding, Path: p.cookiePath(PathInteraction + in.UID),
			MaxAge: int(p.cfg.Lifetimes.Interaction.Seconds()), HttpOnly: true, Secure: p.secureCookies, SameSite: http.SameSiteLaxMode,
		})
	}
	in.Prompt = prompt
	if err := p.saveInteraction(r, in, client.ID); err != nil {
		p.pending.interactions.release(in.UID)
		p.authorizationError(w, r, &authError{Error: errServer(err)}, client)
		return
	}
	p.emit(r, Event{Name: EventInteractionStarted, ClientID: client.ID, Prompt: prompt})
	noStore(w.Header())
	http.Redirect(w, r, p.cfg.Issuer+PathInteraction+in.UID, http.StatusSeeOther)
}

func (p *Provider) saveInteraction(r *http.Request, in *interaction, clientID string) error {
	if err := p.put(r.Context(), KindInteraction, in.UID, "", "", in, in.ExpiresAt, false); err != nil {
		return err
	}
	p.emit(r, Event{Name: EventInteractionSaved, ClientID: clientID})
	return nil
}

// endInteraction resolves the interaction: the request continues to the
// client, the record and the browser-binding cookie go away.
func (p *Provider) endInteraction(w http.ResponseWriter, r *http.Request, in *interaction, clientID string) {
	p.emit(r, Event{Name: EventInteractionEnded, ClientID: clientID})
	p.pending.interactions.release(in.UID)
	if err := p.cfg.Store.Delete(r.Context(), KindInteraction, in.UID); err == nil {
		p.emit(r, Event{Name: EventInteractionDestroyed, ClientID: clientID})
	}
	http.SetCookie(w, &http.Cookie{Name: p.interactionCookieName(), Value: "", Path: p.cookiePath(PathInteraction + in.UID), MaxAge: -1, HttpOnly: true, Secure: p.secureCookies, SameSite: http.SameSiteLaxMode})
}

var errInteractionGone = newError(http.StatusBadRequest, ErrCodeInvalidRequest,
	"this sign-in page has expired or was opened in another browser; go back to the application and start again")

// serveInteraction handles /interaction/{uid} (GET: the page) and
// /interaction/{uid}/{login,consent,abort} (POST: the user's answer).
func (p *Provider) serveInteraction(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, p.prefix), PathInteraction)
	uid, action, _ := strings.Cut(rest, "/")
	if uid == "" || len(uid) > 64 || strings.Contains(action, "/") {
		p.renderError(w, newError(http.StatusNotFound, ErrCodeInvalidRequest, "no such page"))
		return
	}
	wantMethod := http.MethodPost
	if action == "" {
		wantMethod = http.MethodGet
	}
	if r.Method != wantMethod && !(action == "" && r.Method == http.MethodHead) {
		w.Header().Set("Allow", wantMethod)
		p.renderError(w, methodNotAllowed(wantMethod))
		return
	}
	var in interaction
	_, err := p.load(r.Context(), KindInteraction, uid, &in)
	if errors.Is(err, ErrNotFound) {
		p.interactionFailed(w, r, errInteractionGone, "")
		return
	}
	if err != nil {
		p.interactionFailed(w, r, errServer(err), "")
		return
	}
	binding, ok := p.boundToBrowser(r, &in)
	if !ok {
		p.interactionFailed(w, r, errInteractionGone, in.Request.ClientID)
		return
	}
	in.CSRF = interactionCSRF(binding)
	client, err := p.clients.Client(r.Context(), in.Request.ClientID)
	if err != nil {
		// The client was removed while the user was on the page.
		p.interactionFailed(w, r, errInteractionGone, in.Request.ClientID)
		return
	}
	if action == "" {
		p.renderInteraction(w, r, &in, client, "", http.StatusOK)
		return
	}
	form, perr := p.readForm(w, r)
	if perr != nil {
		p.interactionFailed(w, r, perr, client.ID)
		return
	}
	if subtle.ConstantTimeCompare([]byte(form.get("csrf_token")), []byte(in.CSRF)) != 1 {
		p.interactionFailed(w, r, newError(http.StatusForbidden, ErrCodeInvalidRequest, "the form has expired; reload the page and try again"), client.ID)
		return
	}
	switch action {
	case "login":
		p.submitLogin(w, r, &in, client, form)
	case "consent":
		p.submitConsent(w, r, &in, client, form)
	case "abort":
		p.denyInteraction(w, r, &in, client, "the user cancelled the sign-in")
	default:
		p.renderError(w, newError(http.StatusNotFound, ErrCodeInvalidRequest, "no such page"))
	}
}

func (p *Provider) boundToBrowser(r *http.Request, in *interaction) (binding string, ok bool) {
	c, err := r.Cookie(p.interactionCookieName())
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return "", false
	}
	if subtle.ConstantTimeCompare([]byte(secretID(c.Value)), []byte(in.BindingID)) != 1 {
		return "", false
	}
	return c.Value, true
}

// interactionCSRF is the pages' form token. It is derived from the
// browser-binding cookie (HttpOnly, so a page of another origin can neither
// read it nor the token), which the store knows only as a differently
// prefixed hash: a copy of the database yields no usable form token.
func interactionCSRF(binding string) string { return secretID("interaction-csrf:" + binding) }

// interactionFailed shows an error page for a broken interaction step; it is
// an authorization error because the request cannot go on.
func (p *Provider) interactionFailed(w http.ResponseWriter, r *http.Request, e *Error, clientID string) {
	p.emitError(r, EventAuthorizationError, e, clientID)
	p.renderError(w, e)
}

func (p *Provider) submitLogin(w http.ResponseWriter, r *http.Request, in *interaction, client *Client, form params) {
	if in.Prompt != promptLogin {
		p.interactionFailed(w, r, errInvalidRequest("this step does not take a login"), client.ID)
		return
	}
	login, password := form.get("login"), form.get("password")
	if login == "" || password == "" || len(login) > maxLoginHintLen || len(password) > 1024 {
		p.renderInteraction(w, r, in, client, "Enter your username and password.", http.StatusBadRequest)
		return
	}
	ip := p.clientIP(r)
	if wait := p.throttle.blocked(login, ip, p.now()); wait > 0 {
		p.emit(r, Event{Name: EventAuthorizationError, ClientID: client.ID, ErrorCode: ErrCodeAccessDenied, ErrorDescription: "login throttled"})
		w.Header().Set("Retry-After", retryAfter(wait))
		p.renderInteraction(w, r, in, client, "Too many failed sign-in attempts. Wait "+humanDuration(wait)+" and try again.", http.StatusTooManyRequests)
		return
	}
	release, ok := p.throttle.passwordSlot(r.Context(), p.cfg.MaxConcurrentPasswordChecks)
	if !ok {
		// Every password-check slot stayed busy: refuse without hashing,
		// and without counting a failure against the account or address.
		p.emit(r, Event{Name: EventAuthorizationError, ClientID: client.ID, ErrorCode: ErrCodeTemporarilyUnavailable, ErrorDescription: "too many concurrent password checks"})
		w.Header().Set("Retry-After", retryAfter(passwordCheckWait))
		p.renderInteraction(w, r, in, client, "The service is busy. Wait a moment and try again.", http.StatusServiceUnavailable)
		return
	}
	acc, err := func() (*Account, error) {
		defer release() // even if the account store panics
		return p.cfg.Accounts.Authenticate(r.Context(), login, password)
	}()
	if errors.Is(err, ErrInvalidCredentials) {
		p.throttle.failed(login, ip, p.now())
		p.emit(r, Event{Name: EventAuthorizationError, ClientID: client.ID, ErrorCode: ErrCodeAccessDenied, ErrorDescription: "invalid credentials"})
		p.renderInteraction(w, r, in, client, "The username or password is not correct.", http.StatusUnauthorized)
		return
	}
	if err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	p.throttle.succeeded(login)
	prev, err := p.loadSession(r)
	if err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	now := p.now()
	sess, err := p.startSession(w, r, prev, acc.Subject, now)
	if err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	in.LoginDone, in.AccountID, in.AuthTime = true, acc.Subject, now.Unix()
	p.resolve(w, r, &in.Request, client, sess, in)
}

func (p *Provider) submitConsent(w http.ResponseWriter, r *http.Request, in *interaction, client *Client, form params) {
	if in.Prompt != promptConsent {
		p.interactionFailed(w, r, errInvalidRequest("this step does not take a consent"), client.ID)
		return
	}
	switch form.get("decision") {
	case "allow":
	case "deny":
		p.denyInteraction(w, r, in, client, "the user denied the request")
		return
	default:
		p.interactionFailed(w, r, errInvalidRequest("decision must be allow or deny"), client.ID)
		return
	}
	sess, err := p.loadSession(r)
	if err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	// The consent must come from the account the page was shown to: a login
	// in another tab in between must not inherit this consent.
	if sess == nil || (in.LoginDone && sess.AccountID != in.AccountID) {
		p.interactionFailed(w, r, errInteractionGone, client.ID)
		return
	}
	existing, err := p.loadGrant(r.Context(), sess, client.ID)
	if err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	if _, err := p.saveGrant(r, sess, existing, client, in.Request.Scopes); errors.Is(err, errSessionEnded) {
		// Logged out in another tab while this page was open.
		p.interactionFailed(w, r, errInteractionGone, client.ID)
		return
	} else if err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	in.ConsentDone = true
	p.resolve(w, r, &in.Request, client, sess, in)
}

// denyInteraction ends the interaction and returns access_denied to the
// client (OIDC Core §3.1.2.6).
func (p *Provider) denyInteraction(w http.ResponseWriter, r *http.Request, in *interaction, client *Client, desc string) {
	p.endInteraction(w, r, in, client.ID)
	if in.Request.DeviceCodeID != "" {
		p.settleDevice(w, r, &in.Request, client, nil, nil, false)
		return
	}
	p.authorizationError(w, r, &authError{Error: newError(http.StatusBadRequest, ErrCodeAccessDenied, desc), redirect: true, req: &in.Request, userActed: true}, client)
}
