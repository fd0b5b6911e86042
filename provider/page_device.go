package provider

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"time"
)

// The device page's CSRF cookie is host-only and, for an issuer at the root,
// scoped to "/" rather than to the page, so that it can carry the stronger
// __Host- prefix (no sibling domain or other path can plant or shadow it);
// below an issuer path it is scoped to that path and only __Secure- fits.
func (p *Provider) deviceCSRFCookiePath() string { return p.cookiePath("") }

func (p *Provider) deviceCSRFCookieName() string {
	return p.cookieName("_device", p.deviceCSRFCookiePath(), "")
}

// serveDeviceVerification is the verification URI: the user enters the code
// shown on the device, then logs in and consents as for any authorization.
// The consent page is always shown (RFC 8628 §5.4: a user code can be sent to
// a victim by an attacker's device).
func (p *Provider) serveDeviceVerification(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		in, _ := readQuery(r)
		p.renderDevicePage(w, r, normalizeUserCode(in.get("user_code")), "", 0, http.StatusOK)
	case http.MethodPost:
		p.submitUserCode(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		p.renderError(w, r, methodNotAllowed("GET", "POST"))
	}
}

// renderDevicePage shows the code form with a double-submit CSRF token: a
// cookie and a form field that must match. notice is the catalogue key
// device.error.<notice> of a message, if any.
func (p *Provider) renderDevicePage(w http.ResponseWriter, r *http.Request, userCode, notice string, wait time.Duration, status int) {
	csrf := newSecret()
	http.SetCookie(w, &http.Cookie{Name: p.deviceCSRFCookieName(), Value: csrf, Path: p.deviceCSRFCookiePath(), MaxAge: int(p.cfg.Lifetimes.Interaction.Seconds()),
		HttpOnly: true, Secure: p.secureCookies, SameSite: http.SameSiteLaxMode})
	data := map[string]any{"Action": p.prefix + PathDevice, "CSRF": csrf, "UserCode": userCode}
	if notice != "" {
		_, t := p.pageData(r, nil)
		data["Message"] = t.Format("device.error."+notice, "wait", t.Duration(wait))
	}
	p.render(w, r, p.pages.device, status, data)
}

func (p *Provider) submitUserCode(w http.ResponseWriter, r *http.Request) {
	form, perr := p.readForm(w, r)
	if perr != nil {
		p.interactionFailed(w, r, perr, "")
		return
	}
	c, err := r.Cookie(p.deviceCSRFCookieName())
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form.get("csrf_token"))) != 1 {
		p.interactionFailed(w, r, errFormExpired(), "")
		return
	}
	ip := p.clientIP(r)
	wait, err := p.throttle.deviceWait(r.Context(), ip, p.now())
	if err != nil {
		p.interactionFailed(w, r, errServer(err), "")
		return
	}
	if wait > 0 {
		w.Header().Set("Retry-After", retryAfter(wait))
		p.renderDevicePage(w, r, "", "throttled", wait, http.StatusTooManyRequests)
		return
	}
	code := normalizeUserCode(form.get("user_code"))
	dg, deviceCodeID, err := p.deviceCodes().byUserCode(r.Context(), userCodeID(code))
	if errors.Is(err, ErrNotFound) || (err == nil && dg.Status != deviceStatusPending) || len(code) != 8 {
		// Wrong codes are guesses until proven otherwise: they count against
		// the address like failed logins.
		if err := p.throttle.deviceFail(r.Context(), ip, p.now()); err != nil {
			p.interactionFailed(w, r, errServer(err), "")
			return
		}
		p.renderDevicePage(w, r, "", "invalid", 0, http.StatusBadRequest)
		return
	}
	if err != nil {
		p.interactionFailed(w, r, errServer(err), "")
		return
	}
	client, err := p.clients.Client(r.Context(), dg.ClientID)
	if err != nil {
		p.renderDevicePage(w, r, "", "invalid", 0, http.StatusBadRequest)
		return
	}
	req := &authRequest{ClientID: client.ID, Scopes: dg.Scopes, Prompt: []string{promptConsent}, MaxAge: -1, DeviceCodeID: deviceCodeID, deviceUserCode: code}
	sess, err := p.loadSession(r)
	if err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	p.authorizationAccepted(r, client.ID)
	p.resolve(w, r, req, client, sess, nil)
}

var errDeviceNotPending = errors.New("device code is no longer pending")

// settleDevice records the user's decision on the device code and shows the
// outcome; the device learns it by polling.
func (p *Provider) settleDevice(w http.ResponseWriter, r *http.Request, req *authRequest, client *Client, sess *session, g *grant, approve bool) {
	grantID := ""
	if approve {
		grantID = g.ID
	}
	err := p.deviceCodes().decide(r.Context(), req.DeviceCodeID, approve, sess, grantID)
	if errors.Is(err, ErrNotFound) || errors.Is(err, errDeviceNotPending) {
		p.interactionFailed(w, r, newError(http.StatusBadRequest, ErrCodeExpiredToken, "the device code has expired or was already used; start again on the device"), client.ID)
		return
	}
	if err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	if approve {
		p.authorizationSucceeded(r, client.ID, g.ID)
	} else {
		p.authorizationFailed(r, newError(http.StatusBadRequest, ErrCodeAccessDenied, "the user denied the device"), client.ID)
	}
	noStore(w.Header())
	p.render(w, r, p.pages.device, http.StatusOK, map[string]any{"Done": true, "Approved": approve, "ClientName": clientName(client)})
}
