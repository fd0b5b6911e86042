package provider_test

import (
	"bytes"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/store/memstore"
)

// sharedMemStore is a memstore that says it is shared by several processes,
// as store/postgres does: two providers on it stand for two Caddy instances
// on one database.
type sharedMemStore struct{ *memstore.Store }

func (sharedMemStore) SharedAcrossProcesses() bool { return true }

// On a shared store, failed logins on one instance throttle the others, and
// a burst of concurrent guesses spread over two instances still gets at most
// free_attempts passwords checked (issue 10 part 3: the reservation holds
// across instances).
func TestLoginThrottleIsSharedAcrossInstances(t *testing.T) {
	const freeAttempts, burst = 5, 40
	st := sharedMemStore{memstore.New()}
	held := &heldAccounts{release: make(chan struct{})}
	var once sync.Once
	instance := func() *harness {
		return newHarnessOn(t, st, withTestIP, func(c *provider.Config) {
			once.Do(func() { held.AccountStore = c.Accounts })
			c.Accounts = held
			c.MaxConcurrentPasswordChecks = 2 * burst
			c.Throttle = provider.LoginThrottle{FreeAttempts: freeAttempts, Window: time.Minute, BaseDelay: 10 * time.Second, MaxDelay: time.Minute}
		})
	}
	a, b := instance(), instance()
	guessBurst(t, held, freeAttempts, burst, func(i int) *harness { return []*harness{a, b}[i%2] })
	// The failures counted on both: each instance refuses even the right
	// password from a fresh address.
	for name, h := range map[string]*harness{"a": a, "b": b} {
		if r := h.loginPage(t)("203.0.113.9", "alice", alicePassword); r.status != http.StatusTooManyRequests {
			t.Errorf("instance %s: right password after the burst's failures: %d, want 429", name, r.status)
		}
	}
}

// Sequential failures on one instance count on the other, and the right
// password on one instance clears the account's failures on both.
func TestLoginThrottleCountsFailuresOfEveryInstance(t *testing.T) {
	const freeAttempts = 4
	instance := func(st provider.Store) *harness {
		return newHarnessOn(t, st, withTestIP, func(c *provider.Config) {
			c.Throttle = provider.LoginThrottle{FreeAttempts: freeAttempts, Window: time.Minute, BaseDelay: 10 * time.Second, MaxDelay: time.Minute}
		})
	}
	st := sharedMemStore{memstore.New()}
	a, b := instance(st), instance(st)
	ip := 0
	fail := func(h *harness) response {
		t.Helper()
		ip++
		return h.loginPage(t)("198.51.100."+strconv.Itoa(ip), "alice", "wrong")
	}
	for i := range freeAttempts - 1 {
		if r := fail(a); r.status != http.StatusSeeOther {
			t.Fatalf("failure %d on a: %d, want 303", i+1, r.status)
		}
	}
	// Three failures on a plus one on b use up the allowance on both.
	if r := fail(b); r.status != http.StatusSeeOther {
		t.Fatalf("failure %d on b: %d, want 303", freeAttempts, r.status)
	}
	if r := fail(b); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "10" {
		t.Fatalf("attempt %d on b after %d failures on a and one on b: %d Retry-After %q, want 429 with the base delay",
			freeAttempts+1, freeAttempts-1, r.status, r.header.Get("Retry-After"))
	}

	// Two fresh instances on a fresh store: failures on c, the right
	// password on d, and c has a whole allowance again.
	st = sharedMemStore{memstore.New()}
	c, d := instance(st), instance(st)
	for i := range freeAttempts - 1 {
		if r := fail(c); r.status != http.StatusSeeOther {
			t.Fatalf("failure %d on c: %d, want 303", i+1, r.status)
		}
	}
	if r := d.loginPage(t)("198.51.100.200", "alice", alicePassword); r.status != http.StatusSeeOther {
		t.Fatalf("right password on d with one attempt left: %d, want 303", r.status)
	}
	for i := range freeAttempts - 1 {
		if r := fail(c); r.status != http.StatusSeeOther {
			t.Fatalf("failure %d on c after the right password on d: %d, want 303 (the success must clear the account everywhere)", i+1, r.status)
		}
	}
}

// On a shared store, a duplicate refresh that lands on another instance
// within the reuse grace gets the successor the first instance issued, as it
// would on the same instance (oauth2-proxy refreshes concurrently, and a load
// balancer spreads the duplicates).
func TestDuplicateRefreshOnAnotherInstanceGetsTheSameSuccessor(t *testing.T) {
	st := sharedMemStore{memstore.New()}
	secretKey := bytes.Repeat([]byte{7}, 32)
	withKey := func(c *provider.Config) { c.SecretKey = secretKey }
	a, b := newHarnessOn(t, st, withKey), newHarnessOn(t, st, withKey)
	rt := a.tokens(t, "web", "openid offline_access")["refresh_token"].(string)

	first := a.refresh(rt, "web", webSecret, nil)
	if first.status != 200 {
		t.Fatalf("refresh on a: %d %s", first.status, first.body)
	}
	dup := b.refresh(rt, "web", webSecret, nil)
	if dup.status != 200 {
		t.Fatalf("the duplicate on b within the grace: %d %s, want 200", dup.status, dup.body)
	}
	want, got := jsonBody(t, first)["refresh_token"], jsonBody(t, dup)["refresh_token"]
	if got != want {
		t.Fatalf("the duplicate on b got refresh token %v, a issued %v", got, want)
	}
	// Nothing was revoked: the successor still refreshes, on either instance.
	if r := b.refresh(want.(string), "web", webSecret, nil); r.status != 200 {
		t.Fatalf("the shared successor refreshing on b: %d %s", r.status, r.body)
	}
}
