package provider

import (
	"testing"
	"time"
)

// The reservation's bookkeeping: in-flight attempts use the allowance,
// released ones give it back uncounted, a lock that has run out admits one
// attempt at a time, and a success clears only the account.
func TestLoginAttemptReservation(t *testing.T) {
	t.Parallel()
	th := newLoginThrottle(LoginThrottle{FreeAttempts: 2, Window: time.Minute, BaseDelay: time.Second, MaxDelay: time.Minute})
	now := time.Unix(1_900_000_000, 0)
	a1, _ := th.reserveLogin("bob", "192.0.2.1", now)
	a2, _ := th.reserveLogin("bob", "192.0.2.2", now)
	if a1 == nil || a2 == nil {
		t.Fatal("the first free_attempts reservations must be admitted")
	}
	if a, wait := th.reserveLogin("BOB", "192.0.2.3", now); a != nil || wait != time.Second {
		t.Fatalf("a third attempt while two are in flight: admitted=%v wait=%v, want refused for base_delay", a != nil, wait)
	}
	a1.settle(attemptReleased, now)
	a1.settle(attemptFailed, now) // settling twice does nothing
	a3, _ := th.reserveLogin("bob", "192.0.2.3", now)
	if a3 == nil {
		t.Fatal("a released attempt must give its place back")
	}
	a2.settle(attemptFailed, now)
	a3.settle(attemptFailed, now) // the second failure uses up the allowance: locked
	if a, wait := th.reserveLogin("bob", "192.0.2.4", now); a != nil || wait != time.Second {
		t.Fatalf("after free_attempts failures: admitted=%v wait=%v, want locked for base_delay", a != nil, wait)
	}
	now = now.Add(time.Second)
	a4, _ := th.reserveLogin("bob", "192.0.2.4", now)
	if a4 == nil {
		t.Fatal("the lock ran out: one attempt must be admitted")
	}
	if a, _ := th.reserveLogin("bob", "192.0.2.5", now); a != nil {
		t.Fatal("past the allowance, only one attempt at a time")
	}
	a4.settle(attemptFailed, now)
	if _, wait := th.reserveLogin("bob", "192.0.2.5", now); wait != 2*time.Second {
		t.Fatalf("the next failure doubles the delay: wait %v, want 2s", wait)
	}
	now = now.Add(2 * time.Second)
	a5, _ := th.reserveLogin("bob", "192.0.2.5", now)
	a5.settle(attemptSucceeded, now)
	if e := th.m[accountKey("bob")]; e != nil {
		t.Fatalf("a success must clear the account: %+v", e)
	}
	if e := th.m[addressKey("192.0.2.4")]; e == nil || e.failures != 1 {
		t.Fatalf("the addresses keep their failures: %+v", e)
	}
	for k, e := range th.m {
		if e.pending != 0 {
			t.Errorf("%s: %d attempts still pending after all settled", k, e.pending)
		}
	}
}
