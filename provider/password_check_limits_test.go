package provider_test

import (
	"context"
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

// loginPage opens a login page for the web client and returns a function
// that submits it from an address.
func (h *harness) loginPage(t *testing.T) func(ip, login, password string) response {
	t.Helper()
	b := h.browser()
	r := b.get(h.authorizeURL(nil))
	action, csrf := page(t, b.get(h.abs(r.header.Get("Location"))))
	return func(ip, login, password string) response {
		req, _ := http.NewRequest(http.MethodPost, h.abs(action), strings.NewReader(url.Values{"csrf_token": {csrf}, "login": {login}, "password": {password}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Test-IP", ip)
		return b.do(req)
	}
}

// An attacker rotating usernames and IPv6 addresses inside one /64 (which a
// single host usually owns) is throttled as one address; IPv4 addresses and
// other /64s are not lumped together.
func TestLoginThrottleGroupsIPv6By64(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withTestIP, func(c *provider.Config) {
		c.Throttle = provider.LoginThrottle{FreeAttempts: 5, Window: time.Minute, BaseDelay: 10 * time.Second, MaxDelay: time.Minute}
	})
	submit := h.loginPage(t)
	for i := range 5 {
		ip := "2001:db8:1:2::" + strconv.Itoa(i+1)
		if r := submit(ip, "user"+strconv.Itoa(i), "wrong"); r.status != http.StatusSeeOther {
			t.Fatalf("failure %d from %s: %d, want 303 (back to the login page)", i+1, ip, r.status)
		}
	}
	r := submit("2001:db8:1:2:ffff:ffff:ffff:ffff", "someone-else", "wrong")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("another address of the same /64: %d, want 429 with Retry-After", r.status)
	}
	if r := submit("2001:db8:1:3::1", "someone-else", "wrong"); r.status != http.StatusSeeOther {
		t.Fatalf("an address of the next /64: %d, want 303", r.status)
	}
	// IPv4-mapped IPv6 is its IPv4 address, and IPv4 keys by the full address.
	for i := range 5 {
		if r := submit("::ffff:192.0.2.1", "v4user"+strconv.Itoa(i), "wrong"); r.status != http.StatusSeeOther {
			t.Fatalf("IPv4 failure %d: %d", i+1, r.status)
		}
	}
	if r := submit("192.0.2.1", "v4-other", "wrong"); r.status != http.StatusTooManyRequests {
		t.Fatalf("192.0.2.1 after failures as ::ffff:192.0.2.1: %d, want 429", r.status)
	}
	if r := submit("192.0.2.2", "v4-other", alicePassword); r.status != http.StatusSeeOther {
		t.Fatalf("the neighbouring IPv4 address: %d, want 303", r.status)
	}
}

// gatedAccounts holds every password check until release is closed.
type gatedAccounts struct {
	provider.AccountStore
	calls   atomic.Int32
	entered chan struct{}
	release chan struct{}
}

func (g *gatedAccounts) Authenticate(ctx context.Context, login, password string) (*provider.Account, error) {
	g.calls.Add(1)
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.release
	return g.AccountStore.Authenticate(ctx, login, password)
}

// Password checks are bounded globally: when every slot is busy, a login
// waits briefly, then gets 503 temporarily_unavailable without a bcrypt run.
func TestConcurrentPasswordChecksAreBounded(t *testing.T) {
	// In parallel with the other waiting tests: it waits out the password-slot wait,
	// which costs wall time, not work.
	t.Parallel()
	gate := &gatedAccounts{entered: make(chan struct{}, 1), release: make(chan struct{})}
	h := newBadgerHarness(t, func(c *provider.Config) {
		gate.AccountStore = c.Accounts
		c.Accounts = gate
		c.MaxConcurrentPasswordChecks = 1
	})
	// Production waits 2 s for a slot; the wait's length is not what this
	// test is about, only that there is one and that it ends in a 503, so it
	// waits a shorter time through the test-only knob.
	const slotWait = 200 * time.Millisecond
	provider.SetPasswordCheckWait(h.p, slotWait)
	busy := h.loginPage(t)
	done := make(chan response, 1)
	go func() { done <- busy("", "alice", alicePassword) }()
	<-gate.entered

	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(gate.release) }) }
	defer release()

	refused := h.loginPage(t)
	start := time.Now()
	answer := make(chan response, 1)
	go func() { answer <- refused("", "alice", alicePassword) }()
	var r response
	select {
	case r = <-answer:
	case <-time.After(10 * time.Second):
		release()
		r = <-answer
		t.Fatalf("a login with every slot busy waited for the slot (%d after release), want 503 within seconds", r.status)
	}
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		release()
		t.Fatalf("login while every slot is busy: %d (Retry-After %q), want 503 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	if waited := time.Since(start); waited < slotWait {
		t.Errorf("refused after %v: a login should wait %v for a slot first", waited, slotWait)
	}
	if !strings.Contains(r.body, `name="password"`) {
		t.Errorf("the 503 answer should be the login page again: %s", r.body)
	}
	if n := gate.calls.Load(); n != 1 {
		t.Errorf("password checks run: %d, want 1 (the refused login must not check)", n)
	}
	if !h.hasError(provider.EventAuthorizationError, provider.ErrCodeTemporarilyUnavailable) {
		t.Errorf("no authorization.error with temporarily_unavailable: %v", h.events.names())
	}
	release()
	if r := <-done; r.status != http.StatusSeeOther {
		t.Fatalf("the login holding the slot: %d", r.status)
	}
	// The slot is free again.
	if r := refused("", "alice", alicePassword); r.status != http.StatusSeeOther {
		t.Fatalf("login once the slot is free: %d %s", r.status, r.body)
	}
}

func (h *harness) hasError(name provider.EventName, code string) bool {
	h.events.mu.Lock()
	defer h.events.mu.Unlock()
	for _, e := range h.events.events {
		if e.Name == name && e.ErrorCode == code {
			return true
		}
	}
	return false
}
