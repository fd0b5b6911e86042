package provider

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"slices"
	"strings"
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
		free, err := p.deviceCodes().userCodeFree(ctx, userCodeID(code))
		if err != nil {
			return "", err
		}
		if free {
			return code, nil
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
	if err := p.deviceCodes().save(r.Context(), secretID(deviceCode), userCodeID(userCode), dg, exp); err != nil {
		p.pending.deviceCodes.release(secretID(deviceCode))
		p.endpointError(w, r, "", errServer(err), client.ID)
		return
	}
	verify := p.cfg.Issuer + PathDevice
	noStore(w.Header())
	writeJSON(w, http.StatusOK, deviceAuthorizationResponse{
		DeviceCode: deviceCode, UserCode: displayUserCode(userCode), VerificationURI: verify,
		VerificationURIComplete: verify + "?user_code=" + userCode, ExpiresIn: int64(p.cfg.Lifetimes.DeviceCode.Seconds()), Interval: deviceMinInterval,
	})
}
