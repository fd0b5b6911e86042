package provider

import (
	"errors"
	"net/http"
	"strings"
	"time"
)

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
	if len(login) > maxLoginHintLen || strings.ContainsRune(login, 0) {
		// No user's login holds a NUL byte, and the throttle's names for
		// one-time codes do (secondFactorThrottleLogin): a typed name must
		// never count against those.
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
		p.authorizationFailed(r, newError(http.StatusTooManyRequests, ErrCodeAccessDenied, "login throttled"), client.ID)
		p.showLoginRefused(w, r, in, client, login, "throttled", wait, http.StatusTooManyRequests)
		return
	}
	defer attempt.settle(attemptReleased, p.now()) // unless settled below
	release, ok := p.throttle.passwordSlot(r.Context(), p.cfg.MaxConcurrentPasswordChecks)
	if !ok {
		// Every password-check slot stayed busy: refuse without hashing,
		// and without counting a failure against the account or address.
		// A refusal for capacity (no internal cause): authorization.error.
		p.authorizationFailed(r, newError(http.StatusServiceUnavailable, ErrCodeTemporarilyUnavailable, "too many concurrent password checks"), client.ID)
		p.showLoginRefused(w, r, in, client, login, "busy", passwordCheckWait, http.StatusServiceUnavailable)
		return
	}
	acc, err := func() (*Account, error) {
		defer release() // even if the account store panics
		return p.cfg.Accounts.Authenticate(r.Context(), login, password)
	}()
	if errors.Is(err, ErrInvalidCredentials) {
		attempt.settle(attemptFailed, p.now())
		p.authorizationFailed(r, newError(http.StatusUnauthorized, ErrCodeAccessDenied, "invalid credentials"), client.ID)
		p.showLoginAgain(w, r, in, client, login, "invalid")
		return
	}
	if err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	attempt.settle(attemptSucceeded, p.now())
	if in.Request.wantsMultiFactor() && acc.SecondFactor.Set() {
		// The password is right; the session starts only once the code is
		// too (page_second_factor.go), so a stolen password alone signs
		// nobody in where a second factor was asked for.
		in.SecondFactorFor, in.LoginName = acc.Subject, ""
		p.startInteraction(w, r, &in.Request, client, in, promptSecondFactor)
		return
	}
	p.completeLogin(w, r, in, client, acc.Subject, amrPasswordOnly())
}

// completeLogin starts (or, for the same account, renews) the browser's
// session for an authentication by the methods amr that has just
// succeeded, and lets the authorization request go on.
func (p *Provider) completeLogin(w http.ResponseWriter, r *http.Request, in *interaction, client *Client, accountID string, amr []string) {
	prev, err := p.loadSession(r)
	if err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	now := p.now()
	sess, err := p.startSession(w, r, prev, accountID, now, amr)
	if err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	in.LoginDone, in.AccountID, in.AuthTime, in.Notice, in.SecondFactorFor = true, accountID, now.Unix(), "", ""
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
	in.Prompt, in.LoginDone, in.ConsentDone, in.AccountID, in.AuthTime, in.SecondFactorFor = promptLogin, false, false, "", 0, ""
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
