package provider

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Device authorization grant (RFC 8628).

const (
	deviceStatusPending  = "pending"
	deviceStatusApproved = "approved"
	deviceStatusDenied   = "denied"

	deviceMinInterval = 5 // seconds (RFC 8628 §3.2 default)

	ErrCodeAuthorizationPending = "authorization_pending" // RFC 8628 §3.5
	ErrCodeSlowDown             = "slow_down"
	ErrCodeExpiredToken         = "expired_token"
)

// deviceGrant is what a device code stands for while the user decides.
type deviceGrant struct {
	ClientID  string   `json:"client_id"`
	Scopes    []string `json:"scopes"`
	Status    string   `json:"status"`
	AccountID string   `json:"sub,omitempty"`
	AuthTime  int64    `json:"auth_time,omitempty"`
	SID       string   `json:"sid,omitempty"`
	GrantID   string   `json:"grant_id,omitempty"`
	LastPoll  int64    `json:"last_poll,omitempty"`
	Interval  int64    `json:"interval"`
}

// userCodeAlphabet has no vowels (no words) and no look-alike characters,
// as RFC 8628 §6.1 recommends; 8 characters give 20^8 ≈ 2.6·10^10 codes.
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

func newUserCode() string {
	b := make([]byte, 8)
	buf := make([]byte, 1)
	for i := range b {
		for {
			rand.Read(buf)
			if int(buf[0]) < 240 { // 240 = 12*20: no modulo bias
				b[i] = userCodeAlphabet[int(buf[0])%len(userCodeAlphabet)]
				break
			}
		}
	}
	return string(b)
}

// userCodeAttempts bounds how many user codes are drawn before giving up;
// with 20^8 codes, even one redraw needs millions of live device codes.
const userCodeAttempts = 5

var errUserCodesExhausted = errors.New("no unused user code found")

// freshUserCode draws a user code no live device code holds. The user code is
// the record's UID, and a Put with a UID already in use would move the index
// to the new record: the older device's code would silently lead the user to
// approve the newer device. The check and the later Put are not atomic (the
// Store has no create-if-UID-absent), so two requests drawing the same code
// in the same instant could still collide; at 1 in 2.6·10^10 per pair of
// concurrent requests that remaining race is accepted.
func (p *Provider) freshUserCode(ctx context.Context) (string, error) {
	for range userCodeAttempts {
		code := newUserCode()
		rec, err := p.cfg.Store.GetByUID(ctx, KindDeviceCode, userCodeID(code))
		if errors.Is(err, ErrNotFound) || (err == nil && p.expired(rec)) {
			return code, nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", errUserCodesExhausted
}

// normalizeUserCode makes typing forgiving: case, dashes and spaces do not
// matter (RFC 8628 §6.1).
func normalizeUserCode(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if r >= 'A' && r <= 'Z' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func displayUserCode(c string) string { return c[:4] + "-" + c[4:] }

// userCodeID is the store key (the record's UID) of a normalized user code:
// only its hash is stored, like every other bearer secret, so a copy of the
// database does not show which codes would approve a waiting device. (A
// user code has only ~35 bits; the hash protects it against a glance at the
// data, not a brute-force search within its 10-minute life.)
func userCodeID(code string) string { return secretID("user-code:" + code) }

type deviceAuthorizationResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// serveDeviceAuthorization is the device authorization endpoint (RFC 8628
// §3.1). Public clients identify themselves with client_id; confidential
// ones authenticate as at the token endpoint. The catalogue has no event for
// this endpoint's errors, so only server errors are reported.
func (p *Provider) serveDeviceAuthorization(w http.ResponseWriter, r *http.Request) {
	client, form, ok := p.tokenEndpointClient(w, r, "")
	if !ok {
		return
	}
	if !client.AllowsGrant(GrantTypeDeviceCode) {
		p.endpointError(w, r, "", newError(http.StatusBadRequest, ErrCodeUnauthorizedClient, "the client may not use the device authorization grant"), client.ID)
		return
	}
	scopes := parseScope(form.get("scope"))
	if !client.AllowsGrant(GrantTypeRefreshToken) {
		scopes = slices.DeleteFunc(scopes, func(s string) bool { return s == scopeOfflineAccess })
	}
	userCode, err := p.freshUserCode(r.Context())
	if err != nil {
		p.endpointError(w, r, "", errServer(err), client.ID)
		return
	}
	deviceCode := newSecret()
	exp := p.now().Add(p.cfg.Lifetimes.DeviceCode)
	if e, wait := p.pending.deviceCodes.acquire(p.clientIP(r), secretID(deviceCode), exp, p.now()); e != nil {
		refusePending(w, wait)
		p.endpointError(w, r, "", e, client.ID)
		return
	}
	dg := deviceGrant{ClientID: client.ID, Scopes: scopes, Status: deviceStatusPending, Interval: deviceMinInterval}
	if err := p.put(r.Context(), KindDeviceCode, secretID(deviceCode), userCodeID(userCode), "", dg, exp, false); err != nil {
		p.pending.deviceCodes.release(secretID(deviceCode))
		p.endpointError(w, r, "", errServer(err), client.ID)
		return
	}
	p.emit(r, Event{Name: EventDeviceCodeSaved, ClientID: client.ID})
	verify := p.cfg.Issuer + PathDevice
	noStore(w.Header())
	writeJSON(w, http.StatusOK, deviceAuthorizationResponse{
		DeviceCode: deviceCode, UserCode: displayUserCode(userCode), VerificationURI: verify,
		VerificationURIComplete: verify + "?user_code=" + userCode, ExpiresIn: int64(p.cfg.Lifetimes.DeviceCode.Seconds()), Interval: deviceMinInterval,
	})
}

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
	var dg deviceGrant
	rec, err := p.cfg.Store.GetByUID(r.Context(), KindDeviceCode, userCodeID(code))
	if err == nil && !p.expired(rec) {
		err = decodeInto(rec.Payload, &dg)
	} else if err == nil {
		err = ErrNotFound
	}
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
	req := &authRequest{ClientID: client.ID, Scopes: dg.Scopes, Prompt: []string{promptConsent}, MaxAge: -1, DeviceCodeID: rec.ID, deviceUserCode: code}
	sess, err := p.loadSession(r)
	if err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	p.emit(r, Event{Name: EventAuthorizationAccepted, ClientID: client.ID})
	p.resolve(w, r, req, client, sess, nil)
}

var errDeviceNotPending = errors.New("device code is no longer pending")

// settleDevice records the user's decision on the device code and shows the
// outcome; the device learns it by polling.
func (p *Provider) settleDevice(w http.ResponseWriter, r *http.Request, req *authRequest, client *Client, sess *session, g *grant, approve bool) {
	_, err := p.cfg.Store.Update(r.Context(), KindDeviceCode, req.DeviceCodeID, func(rec *Record) error {
		var dg deviceGrant
		if err := decodeInto(rec.Payload, &dg); err != nil {
			return err
		}
		if dg.Status != deviceStatusPending || p.expired(*rec) {
			return errDeviceNotPending
		}
		dg.Status = deviceStatusDenied
		if approve {
			dg.Status, dg.AccountID, dg.AuthTime, dg.SID, dg.GrantID = deviceStatusApproved, sess.AccountID, sess.AuthTime, sess.SID, g.ID
			rec.GrantID = g.ID // the device code belongs to the grant from now on
		}
		b, err := encodePayload(dg)
		rec.Payload = b
		return err
	})
	if errors.Is(err, ErrNotFound) || errors.Is(err, errDeviceNotPending) {
		p.interactionFailed(w, r, newError(http.StatusBadRequest, ErrCodeExpiredToken, "the device code has expired or was already used; start again on the device"), client.ID)
		return
	}
	if err != nil {
		p.interactionFailed(w, r, errServer(err), client.ID)
		return
	}
	if approve {
		p.emit(r, Event{Name: EventAuthorizationSuccess, ClientID: client.ID, GrantID: g.ID})
	} else {
		p.emit(r, Event{Name: EventAuthorizationError, ClientID: client.ID, ErrorCode: ErrCodeAccessDenied, ErrorDescription: "the user denied the device"})
	}
	noStore(w.Header())
	p.render(w, r, p.pages.device, http.StatusOK, map[string]any{"Done": true, "Approved": approve, "ClientName": clientName(client)})
}

var (
	errDeviceForeign = errors.New("device code of another client")
	errDeviceUsed    = errors.New("device code already redeemed")
)

// exchangeDeviceCode is the device_code grant (RFC 8628 §3.4, §3.5). Polling
// state (last poll, interval) and redemption are decided in one
// read-modify-write, so a device polling from two threads still gets its
// tokens once.
func (p *Provider) exchangeDeviceCode(r *http.Request, client *Client, form params) (*tokenResponse, string, error) {
	ctx := r.Context()
	raw := form.get("device_code")
	if raw == "" {
		return nil, "", errInvalidRequest("missing required parameter device_code")
	}
	id := secretID(raw)
	now := p.now()
	var dg deviceGrant
	var expired, slow bool
	_, err := p.cfg.Store.Update(ctx, KindDeviceCode, id, func(rec *Record) error {
		expired, slow = false, false
		if err := decodeInto(rec.Payload, &dg); err != nil {
			return err
		}
		switch {
		case p.expired(*rec):
			expired = true
			return ErrNotFound
		case dg.ClientID != client.ID:
			return errDeviceForeign
		case !rec.ConsumedAt.IsZero():
			return errDeviceUsed
		}
		switch dg.Status {
		case deviceStatusPending:
			if dg.LastPoll != 0 && now.Unix()-dg.LastPoll < dg.Interval {
				// §3.5: polling too fast; the interval grows by 5 seconds.
				slow = true
				dg.Interval += 5
			}
			dg.LastPoll = now.Unix()
			b, err := encodePayload(dg)
			rec.Payload = b
			return err
		case deviceStatusApproved:
			rec.ConsumedAt = now
		}
		return nil
	})
	switch {
	case expired:
		return nil, "", newError(http.StatusBadRequest, ErrCodeExpiredToken, "the device code has expired")
	case errors.Is(err, ErrNotFound), errors.Is(err, errDeviceForeign):
		return nil, "", errInvalidGrant("the device code is invalid")
	case errors.Is(err, errDeviceUsed):
		return nil, "", errInvalidGrant("the device code has already been used")
	case err != nil:
		return nil, "", errServer(err)
	}
	switch dg.Status {
	case deviceStatusPending:
		if slow {
			return nil, "", newError(http.StatusBadRequest, ErrCodeSlowDown, "polling too fast; wait longer between requests")
		}
		return nil, "", newError(http.StatusBadRequest, ErrCodeAuthorizationPending, "the user has not yet decided")
	case deviceStatusDenied:
		p.destroyDeviceCode(r, id, client.ID, "")
		return nil, "", newError(http.StatusBadRequest, ErrCodeAccessDenied, "the user denied the request")
	}
	p.emit(r, Event{Name: EventDeviceCodeConsumed, ClientID: client.ID, GrantID: dg.GrantID})
	defer p.destroyDeviceCode(r, id, client.ID, dg.GrantID)
	acc, err := p.cfg.Accounts.Account(ctx, dg.AccountID)
	if errors.Is(err, ErrNotFound) {
		return nil, "", errInvalidGrant("the user no longer exists")
	}
	if err != nil {
		return nil, "", errServer(err)
	}
	resp, err := p.issueTokens(r, client, acc, authCode{ClientID: client.ID, AccountID: acc.Subject, Scopes: dg.Scopes, AuthTime: dg.AuthTime, SID: dg.SID, GrantID: dg.GrantID}, nil)
	return resp, dg.GrantID, err
}

func (p *Provider) destroyDeviceCode(r *http.Request, id, clientID, grantID string) {
	p.pending.deviceCodes.release(id)
	if err := p.cfg.Store.Delete(r.Context(), KindDeviceCode, id); err == nil {
		p.emit(r, Event{Name: EventDeviceCodeDestroyed, ClientID: clientID, GrantID: grantID})
	}
}
