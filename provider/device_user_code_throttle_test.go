package provider_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/cryptotest"

	"github.com/oidcaddy/oidcaddy/provider"
)

// withTestIP makes the provider take the end-user's address from the
// X-Test-IP header, so one test can speak from many addresses.
func withTestIP(c *provider.Config) {
	c.ClientIP = func(r *http.Request) string { return r.Header.Get("X-Test-IP") }
}

// postUserCodeFrom submits a user code on the verification page from ip, in a
// fresh browser.
func (h *harness) postUserCodeFrom(t *testing.T, ip, code string) response {
	t.Helper()
	b := h.browser()
	req, _ := http.NewRequest(http.MethodGet, h.issuer+"/device", nil)
	req.Header.Set("X-Test-IP", ip)
	action, csrf := page(t, b.do(req))
	req, _ = http.NewRequest(http.MethodPost, h.abs(action), strings.NewReader(url.Values{"csrf_token": {csrf}, "user_code": {code}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Test-IP", ip)
	return b.do(req)
}

// Wrong user codes count against the address that sent them, not against a
// key every caller shares: guesses from elsewhere must not lock a user out of
// the verification page.
func TestDeviceThrottleIsPerAddress(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withDeviceClient(t), withTestIP)
	for i := range 6 {
		if r := h.postUserCodeFrom(t, "203.0.113."+strconv.Itoa(i+1), "BCDF-GHJK"); r.status != http.StatusBadRequest {
			t.Fatalf("wrong code %d from its own address: %d, want 400", i+1, r.status)
		}
	}
	dev := h.deviceAuth(t, "tv", "openid")
	r := h.postUserCodeFrom(t, "198.51.100.7", dev["user_code"].(string))
	if r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "/interaction/") {
		t.Fatalf("valid code from a fresh address after others' wrong codes: %d (Retry-After %q), want 303 to the login",
			r.status, r.header.Get("Retry-After"))
	}

	// One address guessing is still locked out, and only that address.
	var last response
	for range 7 {
		last = h.postUserCodeFrom(t, "192.0.2.66", "BCDF-GHJK")
	}
	if last.status != http.StatusTooManyRequests || last.header.Get("Retry-After") == "" {
		t.Fatalf("7 wrong codes from one address: %d, want 429 with Retry-After", last.status)
	}
	dev = h.deviceAuth(t, "tv", "openid")
	if r := h.postUserCodeFrom(t, "192.0.2.66", dev["user_code"].(string)); r.status != http.StatusTooManyRequests {
		t.Fatalf("locked address with a valid code: %d, want 429", r.status)
	}
	if r := h.postUserCodeFrom(t, "198.51.100.8", dev["user_code"].(string)); r.status != http.StatusSeeOther {
		t.Fatalf("another address with a valid code: %d, want 303", r.status)
	}
	// Wrong device codes do not touch the login throttle of accounts.
	if h.events.count(provider.EventServerError) != 0 {
		t.Errorf("server errors: %v", h.events.names())
	}
}

// A new user code that collides with a live one is drawn again: the older
// device's code keeps leading to the older device. The collision is forced by
// replaying the same deterministic random stream for both requests.
func TestDeviceUserCodeCollisionIsRedrawn(t *testing.T) {
	h := newHarness(t, withDeviceClient(t))
	cryptotest.SetGlobalRandom(t, 42)
	first := h.deviceAuth(t, "tv", "openid")
	cryptotest.SetGlobalRandom(t, 42) // the same stream: the same first user code
	second := h.deviceAuth(t, "tv", "openid")
	if first["user_code"] == second["user_code"] {
		t.Fatalf("two live device codes share the user code %v", first["user_code"])
	}
	if first["device_code"] == second["device_code"] {
		t.Fatalf("test premise: the device codes must differ")
	}
	// The first user code still belongs to the first device.
	if r := h.browser().enterUserCode(t, first["user_code"].(string), "allow"); r.status != 200 || !strings.Contains(r.body, "Device connected") {
		t.Fatalf("verifying the first code: %d %s", r.status, r.body)
	}
	if b := jsonBody(t, h.pollDevice("tv", first["device_code"].(string))); b["access_token"] == nil {
		t.Fatalf("the first device was not the one approved: %v", b)
	}
	if b := jsonBody(t, h.pollDevice("tv", second["device_code"].(string))); b["error"] != "authorization_pending" {
		t.Fatalf("the second device must still be pending: %v", b)
	}
}
