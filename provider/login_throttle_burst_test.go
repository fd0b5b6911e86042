package provider_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// heldAccounts counts the password checks that really run and holds each
// one until release is closed, so that every request of a burst is in
// flight at the same time.
type heldAccounts struct {
	provider.AccountStore
	checked atomic.Int32
	release chan struct{}
}

func (a *heldAccounts) Authenticate(ctx context.Context, login, password string) (*provider.Account, error) {
	a.checked.Add(1)
	<-a.release
	return a.AccountStore.Authenticate(ctx, login, password)
}

// A burst of concurrent wrong guesses for one account gets at most
// free_attempts passwords checked: an attempt is reserved before its password
// check, so attempts in flight count against the allowance, and the rest of
// the burst is answered with the throttle message instead of a check.
func TestLoginThrottleHoldsUnderConcurrentGuesses(t *testing.T) {
	t.Parallel()
	const freeAttempts, burst = 5, 40
	held := &heldAccounts{release: make(chan struct{})}
	h := newBadgerHarness(t, withTestIP, func(c *provider.Config) {
		held.AccountStore = c.Accounts
		c.Accounts = held
		// Enough slots for the whole burst, so the slot bound cannot be
		// what limits the checks.
		c.MaxConcurrentPasswordChecks = 2 * burst
		c.Throttle = provider.LoginThrottle{FreeAttempts: freeAttempts, Window: time.Minute, BaseDelay: 10 * time.Second, MaxDelay: time.Minute}
	})
	guessBurst(t, held, freeAttempts, burst, func(int) *harness { return h })
	// The failures were counted: the account is locked, even for the right
	// password from a fresh address.
	if r := h.loginPage(t)("203.0.113.9", "alice", alicePassword); r.status != http.StatusTooManyRequests {
		t.Errorf("right password after the burst's failures: %d, want 429", r.status)
	}
}

// guessBurst sends burst concurrent wrong guesses for alice, guess i through
// on(i) from an address of its own (so only the account key can hold), each
// held inside its password check until every guess is either answered or
// checked, and asserts that at most freeAttempts passwords were checked and
// every other guess got the throttle answer. held is the accounts of every
// instance in on.
func guessBurst(t *testing.T, held *heldAccounts, freeAttempts, burst int, on func(i int) *harness) {
	t.Helper()
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(held.release) }) }
	defer release()

	submits := make([]func(ip, login, password string) response, burst)
	for i := range submits {
		submits[i] = on(i).loginPage(t)
	}
	answers := make(chan response, burst)
	var answered atomic.Int32
	for i, submit := range submits {
		go func() {
			answers <- submit("198.51.100."+strconv.Itoa(i+1), "alice", "wrong-"+strconv.Itoa(i))
			answered.Add(1)
		}()
	}
	// Wait until every request is either answered or inside its password
	// check, then let the checks finish. (Without the reservation, all of
	// them reach the check.)
	deadline := time.Now().Add(30 * time.Second)
	for int(answered.Load()+held.checked.Load()) < burst && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	release()
	var wrong, throttled int
	for range burst {
		r := <-answers
		switch {
		case r.status == http.StatusSeeOther: // a wrong password goes back to the login page (POST-redirect-GET)
			wrong++
		case r.status == http.StatusTooManyRequests && r.header.Get("Retry-After") != "" && strings.Contains(r.body, "Too many failed sign-in attempts"):
			throttled++
		default:
			t.Errorf("unexpected answer in the burst: %d %q", r.status, r.body)
		}
	}
	if n := int(held.checked.Load()); n > freeAttempts {
		t.Errorf("%d concurrent wrong guesses for one account: %d passwords checked, want at most free_attempts (%d)", burst, n, freeAttempts)
	}
	if int(held.checked.Load()) != wrong || wrong+throttled != burst {
		t.Errorf("answers: %d wrong password, %d throttled, %d checks", wrong, throttled, held.checked.Load())
	}
}

// Exactly free_attempts wrong passwords are checked before the first lock.
func TestLoginThrottleLocksAfterExactlyFreeAttempts(t *testing.T) {
	t.Parallel()
	const freeAttempts = 5
	counted := &heldAccounts{release: make(chan struct{})}
	close(counted.release)
	h := newHarness(t, withTestIP, func(c *provider.Config) {
		counted.AccountStore = c.Accounts
		c.Accounts = counted
		c.Throttle = provider.LoginThrottle{FreeAttempts: freeAttempts, Window: time.Minute, BaseDelay: 10 * time.Second, MaxDelay: time.Minute}
	})
	submit := h.loginPage(t)
	for i := range freeAttempts {
		if r := submit("198.51.100."+strconv.Itoa(i+1), "alice", "wrong"); r.status != http.StatusSeeOther {
			t.Fatalf("failure %d: %d, want 303 (back to the login page)", i+1, r.status)
		}
	}
	if r := submit("198.51.100.99", "alice", "wrong"); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "10" {
		t.Fatalf("attempt %d: %d Retry-After %q, want 429 after %d failures with the base delay", freeAttempts+1, r.status, r.header.Get("Retry-After"), freeAttempts)
	}
	if n := counted.checked.Load(); n != freeAttempts {
		t.Errorf("passwords checked before the first lock: %d, want %d", n, freeAttempts)
	}
}
