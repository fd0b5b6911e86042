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
	return p.interactions().save(r.Context(), in, clientID)
}

// endInteraction resolves the interaction: the request continues to the
// client, the record and the browser-binding cookie go away.
func (p *Provider) endInteraction(w http.ResponseWriter, r *http.Request, in *interaction, clientID string) {
	p.emit(r, Event{Name: EventInteractionEnded, ClientID: clientID})
	p.pending.interactions.release(in.UID)
	p.interactions().destroy(r.Context(), in.UID, clientID)
	http.SetCookie(w, &http.Cookie{Name: p.interactionCookieName(), Value: "", Path: p.cookiePath(PathInteraction + in.UID), MaxAge: -1, HttpOnly: true, Secure: p.secureCookies, SameSite: http.SameSiteLaxMode})
}

var errInteractionGone = withPage(newError(http.StatusBadRequest, ErrCodeInvalidRequest,
	"this sign-in page has expired or was opened in another browser; go back to the application and start again"), pageExpired)

// serveInteraction handles /interaction/{uid} (GET: the page) and
// /interaction/{uid}/{login,otp,consent,switch,abort} (POST: the user's answer).
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
	stored, err := p.interactions().load(r.Context(), uid)
	in := *stored
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
	case "otp":
		p.submitSecondFactor(w, r, &in, client, form)
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
	p.authorizationFailed(r, e, clientID)
	var client *Client
	if clientID != "" {
		client, _ = p.clients.Client(r.Context(), clientID)
	}
	p.renderClientError(w, r, e, client)
}
