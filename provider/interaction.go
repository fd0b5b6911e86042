package provider

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"
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
		in.SealedUserCode = sealUserCode(req.deviceUserCode, binding, in.UID)
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
	// A message from the previous step (a failed login) does not carry over.
	in.Prompt, in.Notice = prompt, ""
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

var errInteractionGone = withPage(newError(http.StatusBadRequest, ErrCodeInvalidRequest,
	"this sign-in page has expired or was opened in another browser; go back to the application and start again"), pageExpired)

// serveInteraction handles /interaction/{uid} (GET: the page) and
// /interaction/{uid}/{login,consent,switch,abort} (POST: the user's answer).
func (p *Provider) serveInteraction(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, p.prefix), PathInteraction)
	uid, action, _ := strings.Cut(rest, "/")
	if uid == "" || len(uid) > 64 || strings.Contains(action, "/") {
		p.renderError(w, r, errNoSuchPage())
		return
	}
	wantMethod := http.MethodPost
	if action == "" {
		wantMethod = http.MethodGet
	}
	if r.Method != wantMethod && !(action == "" && r.Method == http.MethodHead) {
		w.Header().Set("Allow", wantMethod)
		p.renderError(w, r, methodNotAllowed(wantMethod))
		return
	}
	var in interaction
	rec, err := p.load(r.Context(), KindInteraction, uid, &in)
	// The expiry is the record's, not the payload's: an interaction saved
	// again (a failed login, the consent step) keeps its original deadline
	// instead of losing it.
	in.ExpiresAt = rec.ExpiresAt
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
		p.renderInteraction(w, r, &in, client, http.StatusOK)
		return
	}
	form, perr := p.readForm(w, r)
	if perr != nil {
		p.interactionFailed(w, r, perr, client.ID)
		return
	}
	if subtle.ConstantTimeCompare([]byte(form.get("csrf_token")), []byte(in.CSRF)) != 1 {
		p.interactionFailed(w, r, errFormExpired(), client.ID)
		return
	}
	switch action {
	case "login":
		p.submitLogin(w, r, &in, client, form)
	case "consent":
		p.submitConsent(w, r, &in, client, form)
	case "switch":
		p.switchAccount(w, r, &in, client)
	case "abort":
		p.denyInteraction(w, r, &in, client, "the user cancelled the sign-in")
	default:
		p.renderClientError(w, r, errNoSuchPage(), client)
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
// an authorization error because the request cannot go on. The page leads
// back to the client when it is known.
func (p *Provider) interactionFailed(w http.ResponseWriter, r *http.Request, e *Error, clientID string) {
	p.emitError(r, EventAuthorizationError, e, clientID)
	var client *Client
	if clientID != "" {
		client, _ = p.clients.Client(r.Context(), clientID)
	}
	p.renderClientError(w, r, e, client)
}

// showLoginAgain sends the browser back to the login page with a message
// and the login name kept: POST-redirect-GET, so the page in the history is a
// GET and Back or reload never offers to resubmit the password. The message
// and the name are stored on the interaction, never in the URL, and the
// password is stored nowhere.
func (p *Provider) showLoginAgain(w http.ResponseWriter, r *http.Request, in *interaction, client *Client, login, notice string) {
	in.LoginName, in.Notice = login, notice
	if err := p.saveInteraction(r, in, client.ID); err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	noStore(w.Header())
	http.Redirect(w, r, p.cfg.Issuer+PathInteraction+in.UID, http.StatusSeeOther)
}

// showLoginRefused answers a login that was not checked (throttled, or no
// password-check slot free) at once, with its status and Retry-After, which
// clients and monitoring read; the login name is kept on the page.
func (p *Provider) showLoginRefused(w http.ResponseWriter, r *http.Request, in *interaction, client *Client, login, notice string, wait time.Duration, status int) {
	in.LoginName, in.Notice, in.wait = login, notice, wait
	w.Header().Set("Retry-After", retryAfter(wait))
	p.renderInteraction(w, r, in, client, status)
}

func (p *Provider) submitLogin(w http.ResponseWriter, r *http.Request, in *interaction, client *Client, form params) {
	if in.Prompt != promptLogin {
		p.interactionFailed(w, r, errInvalidRequest("this step does not take a login"), client.ID)
		return
	}
	login, password := form.get("login"), form.get("password")
	if len(login) > maxLoginHintLen {
		login = ""
	}
	if login == "" || password == "" || len(password) > 1024 {
		p.showLoginAgain(w, r, in, client, login, "missing")
		return
	}
	// The attempt is reserved before the password check and settled after
	// it, so concurrent guesses cannot all pass the throttle together.
	attempt, wait, err := p.throttle.reserve(r.Context(), login, p.clientIP(r), p.now())
	if err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	if attempt == nil {
		p.emit(r, Event{Name: EventAuthorizationError, ClientID: client.ID, ErrorCode: ErrCodeAccessDenied, ErrorDescription: "login throttled"})
		p.showLoginRefused(w, r, in, client, login, "throttled", wait, http.StatusTooManyRequests)
		return
	}
	defer attempt.settle(attemptReleased, p.now()) // unless settled below
	release, ok := p.throttle.passwordSlot(r.Context(), p.cfg.MaxConcurrentPasswordChecks)
	if !ok {
		// Every password-check slot stayed busy: refuse without hashing,
		// and without counting a failure against the account or address.
		p.emit(r, Event{Name: EventAuthorizationError, ClientID: client.ID, ErrorCode: ErrCodeTemporarilyUnavailable, ErrorDescription: "too many concurrent password checks"})
		p.showLoginRefused(w, r, in, client, login, "busy", passwordCheckWait, http.StatusServiceUnavailable)
		return
	}
	acc, err := func() (*Account, error) {
		defer release() // even if the account store panics
		return p.cfg.Accounts.Authenticate(r.Context(), login, password)
	}()
	if errors.Is(err, ErrInvalidCredentials) {
		attempt.settle(attemptFailed, p.now())
		p.emit(r, Event{Name: EventAuthorizationError, ClientID: client.ID, ErrorCode: ErrCodeAccessDenied, ErrorDescription: "invalid credentials"})
		p.showLoginAgain(w, r, in, client, login, "invalid")
		return
	}
	if err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	attempt.settle(attemptSucceeded, p.now())
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
	in.LoginDone, in.AccountID, in.AuthTime, in.Notice = true, acc.Subject, now.Unix(), ""
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

// switchAccount is the consent page's "Not you? Use another account": the
// same authorization request goes on with a fresh login, as if it had asked
// prompt=login. The current session stays until the new login succeeds
// (startSession then replaces it).
func (p *Provider) switchAccount(w http.ResponseWriter, r *http.Request, in *interaction, client *Client) {
	if in.Prompt != promptConsent {
		p.interactionFailed(w, r, errInvalidRequest("this step does not offer another account"), client.ID)
		return
	}
	in.Prompt, in.LoginDone, in.ConsentDone, in.AccountID, in.AuthTime = promptLogin, false, false, "", 0
	// The login_hint named the account being replaced.
	in.LoginName, in.Notice, in.Request.LoginHint = "", "", ""
	if !in.Request.hasPrompt(promptLogin) {
		in.Request.Prompt = append(in.Request.Prompt, promptLogin)
	}
	if err := p.saveInteraction(r, in, client.ID); err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	noStore(w.Header())
	http.Redirect(w, r, p.cfg.Issuer+PathInteraction+in.UID, http.StatusSeeOther)
}

// consentAccount names the signed-in account on the consent page: its name
// and e-mail address when it has them, else its preferred username or
// subject.
func (p *Provider) consentAccount(r *http.Request, in *interaction) string {
	sess, err := p.loadSession(r)
	if err != nil || sess == nil {
		return ""
	}
	acc, err := p.cfg.Accounts.Account(r.Context(), sess.AccountID)
	if err != nil {
		return ""
	}
	claim := func(name string) string { s, _ := acc.Claims[name].(string); return s }
	name, email := claim("name"), claim("email")
	switch {
	case name != "" && email != "":
		return name + " (" + email + ")"
	case name != "":
		return name
	case email != "":
		return email
	case claim("preferred_username") != "":
		return claim("preferred_username")
	}
	return acc.Subject
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
