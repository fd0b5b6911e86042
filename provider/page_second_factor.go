package provider

import (
	"errors"
	"net/http"
	"time"
)

// promptSecondFactor is the interaction step that asks for a TOTP code
// (acr.go, totp.go). It comes after the password in the same interaction,
// or on its own to step a password session up to mfa.
const promptSecondFactor = "otp"

// maxOTPInput bounds the code field: six digits, maybe with spaces.
const maxOTPInput = 16

// submitSecondFactor checks the code of the step. The account is the one
// whose password this interaction checked, or, for a step-up, the user of
// the browser's session now: the code proves that user, so a session that
// changed account meanwhile (another tab) is stepped up only by its own
// user's code.
func (p *Provider) submitSecondFactor(w http.ResponseWriter, r *http.Request, in *interaction, client *Client, form params) {
	if in.Prompt != promptSecondFactor {
		p.interactionFailed(w, r, errInvalidRequest("this step does not take a one-time code"), client.ID)
		return
	}
	ctx := r.Context()
	accountID := in.SecondFactorFor
	var sess *session
	if accountID == "" {
		var err error
		if sess, err = p.loadSession(r); err != nil {
			p.interactionFailed(w, r, errServer(err), client.ID)
			return
		}
		if sess == nil {
			// Signed out meanwhile: the request needs a login again, which
			// asks for the code after the password.
			p.startInteraction(w, r, &in.Request, client, in, promptLogin)
			return
		}
		accountID = sess.AccountID
	}
	acc, err := p.cfg.Accounts.Account(ctx, accountID)
	if errors.Is(err, ErrNotFound) {
		p.interactionFailed(w, r, errInteractionGone, client.ID)
		return
	}
	if err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	if !acc.SecondFactor.Set() {
		// The factor was removed from the configuration while the page was
		// open: the request is voluntary (OIDC Core §3.1.2.1), so it goes
		// on at the level the user can reach.
		if sess != nil {
			p.resolve(w, r, &in.Request, client, sess, in)
			return
		}
		p.completeLogin(w, r, in, client, accountID, amrPasswordOnly())
		return
	}
	code := form.get("otp")
	if code == "" || len(code) > maxOTPInput {
		p.showLoginAgain(w, r, in, client, "", "otp_missing")
		return
	}
	// Guessing a code has a one in 10^6/3 chance per try (three steps are
	// accepted), so tries are throttled as passwords are: per account (its
	// own key, so a password guesser cannot lock the code out) and per
	// address.
	attempt, wait, err := p.throttle.reserve(ctx, secondFactorThrottleLogin(accountID), p.clientIP(r), p.now())
	if err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	if attempt == nil {
		p.authorizationFailed(r, newError(http.StatusTooManyRequests, ErrCodeAccessDenied, "one-time code throttled"), client.ID)
		p.showLoginRefused(w, r, in, client, "", "throttled", wait, http.StatusTooManyRequests)
		return
	}
	defer attempt.settle(attemptReleased, p.now()) // unless settled below
	step, ok := matchTOTP(acc.SecondFactor, code, p.now())
	if !ok {
		attempt.settle(attemptFailed, p.now())
		p.authorizationFailed(r, newError(http.StatusUnauthorized, ErrCodeAccessDenied, "invalid one-time code"), client.ID)
		p.showLoginAgain(w, r, in, client, "", "otp_invalid")
		return
	}
	// RFC 6238 §5.2: a code accepted once is refused afterwards, across
	// every instance sharing the store.
	until := time.Unix((step+totpSkew+1)*totpPeriod, 0)
	switch err := p.replayDetection().rememberTOTPStep(ctx, accountID, step, until, client.ID); {
	case errors.Is(err, ErrAlreadyExists):
		attempt.settle(attemptFailed, p.now())
		p.authorizationFailed(r, newError(http.StatusUnauthorized, ErrCodeAccessDenied, "one-time code already used"), client.ID)
		p.showLoginAgain(w, r, in, client, "", "otp_used")
		return
	case err != nil:
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	attempt.settle(attemptSucceeded, p.now())
	p.completeLogin(w, r, in, client, accountID, amrWithOTP())
}

// secondFactorThrottleLogin is the throttle's account name for the codes of
// accountID. The NUL bytes keep it apart from every name the login form
// counts (submitLogin drops a name holding NUL).
func secondFactorThrottleLogin(accountID string) string { return "\x00otp\x00" + accountID }
