package provider_test

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

// A copy of the database must not hand out what a browser or a device
// holds: an interaction's CSRF token is not stored (it is derived from the
// browser-binding cookie, of which only a hash is stored), and a device's
// user code is stored only as a hash, under which it is still found.
func TestInteractionCSRFAndUserCodesAreNotStoredInClear(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withDeviceClient(t))

	// Interaction: the CSRF token on the page is not in the stored record.
	b := h.browser()
	r := b.get(h.authorizeURL(map[string]string{"code_challenge": strings.Repeat("c", 43), "code_challenge_method": "S256"}))
	loc := h.abs(r.header.Get("Location"))
	uid := loc[strings.LastIndex(loc, "/")+1:]
	action, csrf := page(t, b.get(loc))
	rec, err := h.store.Get(t.Context(), provider.KindInteraction, uid)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rec.Payload), csrf) {
		t.Errorf("the interaction record holds the page's CSRF token in clear: %s", rec.Payload)
	}
	// The token still works, and a wrong one still fails.
	if r := b.postForm(h.abs(action), url.Values{"csrf_token": {"wrong"}, "login": {"alice"}, "password": {alicePassword}}); r.status != http.StatusForbidden {
		t.Errorf("login with a wrong CSRF token: %d", r.status)
	}
	// Reloading the page gives a token that works as well.
	action, csrf = page(t, b.get(loc))
	if r := b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "login": {"alice"}, "password": {alicePassword}}); r.status != http.StatusSeeOther {
		t.Errorf("login with the page's CSRF token: %d %s", r.status, r.body)
	}

	// Device: the user code is not a key or part of any stored record, yet
	// typing it (in any spelling) still finds the device.
	dev := h.deviceAuth(t, "tv", "openid")
	userCode := dev["user_code"].(string)
	plain := strings.ReplaceAll(userCode, "-", "")
	if _, err := h.store.GetByUID(t.Context(), provider.KindDeviceCode, plain); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("the user code is a stored key in clear (GetByUID err = %v)", err)
	}
	devRec, err := h.store.Get(t.Context(), provider.KindDeviceCode, secretIDOf(dev["device_code"].(string)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(devRec.UID, plain) || strings.Contains(string(devRec.Payload), plain) {
		t.Errorf("the device record holds the user code in clear: uid %q payload %s", devRec.UID, devRec.Payload)
	}
	r = h.browser().enterUserCode(t, strings.ToLower(userCode), "allow")
	if r.status != http.StatusOK || !strings.Contains(r.body, "Device connected") {
		t.Fatalf("entering the user code: %d %s", r.status, r.body)
	}
	if resp := h.pollDevice("tv", dev["device_code"].(string)); resp.status != http.StatusOK {
		t.Errorf("device poll after approval: %d %s", resp.status, resp.body)
	}
}

// secretIDOf is the store key of a bearer secret: its SHA-256, base64url.
func secretIDOf(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
