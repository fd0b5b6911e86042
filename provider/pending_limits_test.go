package provider_test

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// withTestAddresses takes the caller's address from a test header, so one
// test can play many clients.
func withTestAddresses(c *provider.Config) {
	c.ClientIP = func(r *http.Request) string { return r.Header.Get("X-Test-Addr") }
}

// startLogin sends an authorization request of the web client from addr, as
// a browser without cookies, and returns the response.
func (h *harness) startLogin(t testing.TB, addr string) response {
	t.Helper()
	_, challenge := pkce("q")
	req, _ := http.NewRequest(http.MethodGet, h.authorizeURL(map[string]string{"code_challenge": challenge, "code_challenge_method": "S256"}), nil)
	req.Header.Set("X-Test-Addr", addr)
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(body)}
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func startedInteraction(r response) bool {
	return r.status == http.StatusSeeOther && strings.Contains(r.header.Get("Location"), "/interaction/")
}

func wantRefused(t *testing.T, what string, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: %d %s, want %d", what, r.status, r.header.Get("Location"), status)
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("%s: Retry-After %q", what, r.header.Get("Retry-After"))
	}
	if !strings.Contains(r.body, "temporarily_unavailable") {
		t.Errorf("%s: body does not name temporarily_unavailable: %.300s", what, r.body)
	}
}

// Each authorization request leaves an interaction (~3 KB, 10 minutes) in
// storage without any authentication. One address may leave at most 1000
// pending by default; more are refused with 429 until some finish or
// expire, while other addresses go on. An IPv6 caller counts by its /64.
func TestPendingInteractionsAreBoundedPerAddress(t *testing.T) {
	t.Parallel()
	h := newBadgerHarness(t, withTestAddresses)
	const perAddress = 1000 // the default
	started := countConcurrent(32, perAddress, func() bool { return startedInteraction(h.startLogin(t, "2001:db8::1")) })
	if started != perAddress {
		t.Fatalf("%d of %d logins started", started, perAddress)
	}
	wantRefused(t, "login past the per-address limit", h.startLogin(t, "2001:db8::2"), http.StatusTooManyRequests)
	if r := h.startLogin(t, "2001:db8:1::1"); !startedInteraction(r) {
		t.Fatalf("another address: %d %s", r.status, r.body)
	}
	// Expired interactions no longer count.
	h.clock.advance(10*time.Minute + time.Second)
	if r := h.startLogin(t, "2001:db8::1"); !startedInteraction(r) {
		t.Fatalf("after the interactions expired: %d %s", r.status, r.body)
	}
}

// Under 64 concurrent requests from one address exactly PerAddress
// interactions are started; finished ones free their place; past Total
// everyone gets 503. Pushed requests of public clients and device codes are
// bounded the same way (confidential clients' pushes are authenticated and
// not counted).
func TestPendingLimitsUnderConcurrencyAndInAll(t *testing.T) {
	t.Parallel()
	limits := provider.PendingLimits{PerAddress: 10, Total: 25}
	h := newBadgerHarness(t, withTestAddresses, withDeviceClient(t), func(c *provider.Config) { c.PendingLimits = limits })
	var started, refused atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			switch r := h.startLogin(t, "192.0.2.1"); {
			case startedInteraction(r):
				started.Add(1)
			case r.status == http.StatusTooManyRequests:
				refused.Add(1)
			default:
				t.Errorf("concurrent login: %d", r.status)
			}
		})
	}
	wg.Wait()
	if started.Load() != int64(limits.PerAddress) || refused.Load() != 64-int64(limits.PerAddress) {
		t.Fatalf("64 concurrent logins from one address: %d started, %d refused; want %d started", started.Load(), refused.Load(), limits.PerAddress)
	}
	// A finished login frees its place (a first-party client: no consent).
	b := h.browser()
	_, challenge := pkce("f")
	req, _ := http.NewRequest(http.MethodGet, h.authorizeURL(map[string]string{"client_id": "trusted", "code_challenge": challenge, "code_challenge_method": "S256"}), nil)
	req.Header.Set("X-Test-Addr", "192.0.2.99")
	for i := range limits.PerAddress - 1 {
		if r := h.startLogin(t, "192.0.2.99"); !startedInteraction(r) {
			t.Fatalf("login %d from a second address: %d", i, r.status)
		}
	}
	r := b.do(req)
	pg := b.get(h.abs(r.header.Get("Location")))
	action, csrf := page(t, pg)
	post, _ := http.NewRequest(http.MethodPost, h.abs(action), strings.NewReader(url.Values{"csrf_token": {csrf}, "login": {"alice"}, "password": {alicePassword}}.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	post.Header.Set("X-Test-Addr", "192.0.2.99")
	if r := b.do(post); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), webRedirect) {
		t.Fatalf("login: %d %s", r.status, r.header.Get("Location"))
	}
	if r := h.startLogin(t, "192.0.2.99"); !startedInteraction(r) {
		t.Fatalf("after a login finished: %d", r.status)
	}
	// 10 + 10 pending; 5 more from elsewhere reach the total.
	for i := range limits.Total - 2*limits.PerAddress {
		if r := h.startLogin(t, "198.51.100."+strconv.Itoa(i)); !startedInteraction(r) {
			t.Fatalf("login %d below the total: %d", i, r.status)
		}
	}
	h.events.reset()
	wantRefused(t, "login past the total", h.startLogin(t, "203.0.113.1"), http.StatusServiceUnavailable)
	// A limit reached is the endpoint's error, not a server fault.
	if h.events.count(provider.EventAuthorizationError) != 1 || h.events.count(provider.EventServerError) != 0 {
		t.Errorf("events of a refusal at the total: %v", h.events.names())
	}

	// Pushed requests: a public client's count, a confidential client's not.
	_, ch := pkce("p")
	pushV := url.Values{"client_id": {"spa"}, "redirect_uri": {spaRedirect}, "response_type": {"code"}, "scope": {"openid"}, "code_challenge": {ch}, "code_challenge_method": {"S256"}}
	push := func(addr, id, secret string, v url.Values) response {
		req, _ := http.NewRequest(http.MethodPost, h.issuer+"/par", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Test-Addr", addr)
		if secret != "" {
			req.SetBasicAuth(id, secret)
		}
		return h.browser().do(req)
	}
	for i := range limits.PerAddress {
		if r := push("192.0.2.7", "spa", "", pushV); r.status != http.StatusCreated {
			t.Fatalf("public push %d: %d %s", i, r.status, r.body)
		}
	}
	wantRefused(t, "public push past the per-address limit", push("192.0.2.7", "spa", "", pushV), http.StatusTooManyRequests)
	webV := url.Values{"redirect_uri": {webRedirect}, "response_type": {"code"}, "scope": {"openid"}}
	if r := push("192.0.2.7", "web", webSecret, webV); r.status != http.StatusCreated {
		t.Fatalf("confidential push from the same address: %d %s", r.status, r.body)
	}

	// Device codes.
	device := func(addr string) response {
		req, _ := http.NewRequest(http.MethodPost, h.issuer+"/device/auth", strings.NewReader(url.Values{"client_id": {"tv"}, "scope": {"openid"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Test-Addr", addr)
		return h.browser().do(req)
	}
	for i := range limits.PerAddress {
		if r := device("192.0.2.8"); r.status != http.StatusOK {
			t.Fatalf("device authorization %d: %d %s", i, r.status, r.body)
		}
	}
	wantRefused(t, "device authorization past the per-address limit", device("192.0.2.8"), http.StatusTooManyRequests)
}
