package provider_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

func withDeviceClient(t testing.TB) func(*provider.Config) {
	return func(c *provider.Config) {
		cs := testClients(t)
		cs["tv"] = &provider.Client{ID: "tv", Name: "Living Room TV", TokenEndpointAuthMethod: provider.AuthMethodNone,
			GrantTypes: []string{provider.GrantTypeDeviceCode, provider.GrantTypeRefreshToken}, SkipConsent: true}
		c.Clients = cs
	}
}

func (h *harness) deviceAuth(t *testing.T, clientID, scope string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.issuer+"/device/auth", strings.NewReader(url.Values{"client_id": {clientID}, "scope": {scope}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp := h.browser().do(req)
	if resp.status != 200 {
		t.Fatalf("device authorization: %d %s", resp.status, resp.body)
	}
	return jsonBody(t, resp)
}

func (h *harness) pollDevice(clientID, deviceCode string) response {
	return h.token(url.Values{"grant_type": {provider.GrantTypeDeviceCode}, "device_code": {deviceCode}, "client_id": {clientID}}, "", "")
}

// enterUserCode drives the verification page, then login and consent.
func (b *browser) enterUserCode(t *testing.T, userCode, decision string) response {
	h := b.h
	pg := b.get(h.issuer + "/device")
	action, csrf := page(t, pg)
	assertNoInlineScript(t, pg)
	r := b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "user_code": {userCode}})
	for range 3 {
		loc := r.header.Get("Location")
		if r.status != http.StatusSeeOther || !strings.Contains(loc, "/interaction/") {
			break
		}
		p := b.get(h.abs(loc))
		act, tok := page(t, p)
		if strings.HasSuffix(act, "/login") {
			r = b.postForm(h.abs(act), url.Values{"csrf_token": {tok}, "login": {"alice"}, "password": {alicePassword}})
		} else {
			r = b.postForm(h.abs(act), url.Values{"csrf_token": {tok}, "decision": {decision}})
		}
	}
	return r
}

func TestDeviceAuthorizationFlow(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withDeviceClient(t))
	if doc := jsonBody(t, h.browser().get(h.issuer+"/.well-known/openid-configuration")); doc["device_authorization_endpoint"] != h.issuer+"/device/auth" {
		t.Fatalf("discovery: %v", doc["device_authorization_endpoint"])
	}
	da := h.deviceAuth(t, "tv", "openid email offline_access")
	dc, uc := da["device_code"].(string), da["user_code"].(string)
	if len(uc) != 9 || uc[4] != '-' || da["verification_uri"] != h.issuer+"/device" || da["interval"] != float64(5) || da["expires_in"] != float64(600) {
		t.Fatalf("device authorization response: %v", da)
	}
	if !strings.HasSuffix(da["verification_uri_complete"].(string), "?user_code="+strings.ReplaceAll(uc, "-", "")) {
		t.Errorf("verification_uri_complete = %v", da["verification_uri_complete"])
	}
	if b := jsonBody(t, h.pollDevice("tv", dc)); b["error"] != "authorization_pending" {
		t.Fatalf("first poll: %v", b)
	}
	if b := jsonBody(t, h.pollDevice("tv", dc)); b["error"] != "slow_down" {
		t.Fatalf("immediate second poll: %v", b)
	}
	// The user types the code in lower case without the dash.
	b := h.browser()
	r := b.enterUserCode(t, strings.ToLower(strings.ReplaceAll(uc, "-", "")), "allow")
	if r.status != 200 || !strings.Contains(r.body, "Device connected") {
		t.Fatalf("verification: %d %s", r.status, r.body)
	}
	// Consent was asked although the client skips consent elsewhere (RFC 8628 §5.4).
	if h.events.count(provider.EventInteractionStarted) != 2 {
		t.Errorf("interaction.started = %d, want login and consent", h.events.count(provider.EventInteractionStarted))
	}
	h.clock.advance(11 * time.Second)
	r = h.pollDevice("tv", dc)
	tok := jsonBody(t, r)
	if r.status != 200 || tok["access_token"] == nil || tok["id_token"] == nil || tok["refresh_token"] == nil {
		t.Fatalf("tokens: %d %v", r.status, tok)
	}
	for name, want := range map[provider.EventName]int{provider.EventDeviceCodeSaved: 1, provider.EventDeviceCodeConsumed: 1, provider.EventDeviceCodeDestroyed: 1} {
		if got := h.events.count(name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	if b := jsonBody(t, h.pollDevice("tv", dc)); b["error"] != "invalid_grant" {
		t.Fatalf("redeemed twice: %v", b)
	}
	if got := h.introspect(tok["access_token"].(string), ""); got["active"] != true || got["sub"] != "alice-sub" {
		t.Fatalf("device token introspection: %v", got)
	}
}

func TestDeviceDeniedExpiredAndForeign(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withDeviceClient(t), func(c *provider.Config) {
		cs := c.Clients.(provider.StaticClients)
		cs["tv2"] = &provider.Client{ID: "tv2", TokenEndpointAuthMethod: provider.AuthMethodNone, GrantTypes: []string{provider.GrantTypeDeviceCode}}
	})
	da := h.deviceAuth(t, "tv", "openid")
	if r := h.browser().enterUserCode(t, da["user_code"].(string), "deny"); r.status != 200 || !strings.Contains(r.body, "Request denied") {
		t.Fatalf("deny: %d %s", r.status, r.body)
	}
	if b := jsonBody(t, h.pollDevice("tv", da["device_code"].(string))); b["error"] != "access_denied" {
		t.Fatalf("poll after deny: %v", b)
	}
	if h.events.count(provider.EventDeviceCodeDestroyed) != 1 {
		t.Errorf("device_code.destroyed = %d", h.events.count(provider.EventDeviceCodeDestroyed))
	}
	da = h.deviceAuth(t, "tv", "openid")
	if b := jsonBody(t, h.pollDevice("tv2", da["device_code"].(string))); b["error"] != "invalid_grant" {
		t.Fatalf("another client's device code: %v", b)
	}
	h.clock.advance(11 * time.Minute)
	if b := jsonBody(t, h.pollDevice("tv", da["device_code"].(string))); b["error"] != "expired_token" {
		t.Fatalf("expired device code: %v", b)
	}
	// A client without the grant.
	req, _ := http.NewRequest(http.MethodPost, h.issuer+"/device/auth", strings.NewReader("client_id=spa"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r := h.browser().do(req); jsonBody(t, r)["error"] != "unauthorized_client" {
		t.Fatalf("client without the device grant: %d %s", r.status, r.body)
	}
}

func TestDeviceUserCodeGuessingIsThrottled(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withDeviceClient(t))
	b := h.browser()
	var last response
	for range 7 {
		pg := b.get(h.issuer + "/device")
		action, csrf := page(t, pg)
		last = b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "user_code": {"BCDF-GHJK"}})
	}
	if last.status != 429 || last.header.Get("Retry-After") == "" {
		t.Fatalf("after 7 wrong codes: %d", last.status)
	}
	// The form's CSRF token must match its cookie.
	pg := b.get(h.issuer + "/device")
	action, _ := page(t, pg)
	if r := b.postForm(h.abs(action), url.Values{"csrf_token": {"forged"}, "user_code": {"BCDF-GHJK"}}); r.status != 403 {
		t.Fatalf("forged device form: %d", r.status)
	}
}
