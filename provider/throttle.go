package provider

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// loginThrottle slows password guessing per account and per source address
// (an IPv6 source by its /64, see addressKey), and user-code guessing on the
// device verification page per source address. Each key gets FreeAttempts
// failures per Window: the failure that uses up the allowance locks the key
// for BaseDelay, and every further failure locks it for a delay that doubles,
// up to MaxDelay. State is in memory (per process): it resets on restart,
// which costs an attacker a restart they cannot trigger.
//
// A login reserves its attempt (reserveLogin) before its password is checked
// and settles it afterwards, so attempts in flight count against the
// allowance: a burst of concurrent guesses cannot all pass the check before
// the first failure is counted.
//
// It also holds the global bound on concurrent password checks (passwordSlot).
type loginThrottle struct {
	cfg LoginThrottle
	mu  sync.Mutex
	m   map[string]*throttleEntry
	// shared, when set, keeps the entries in a store that other instances
	// share instead of in m (see throttle_shared.go).
	shared *sharedThrottle

	slotsOnce sync.Once
	slots     chan struct{} // one token per running password check
}

type throttleEntry struct {
	failures int
	pending  int       // reserved attempts whose password check has not settled
	first    time.Time // of the first failure counted in this window
	until    time.Time
}

// expire forgets the failures of a window that has passed, unless a lock
// is still running. Pending attempts are kept: they are still in flight.
func (e *throttleEntry) expire(now time.Time, window time.Duration) {
	if e.failures > 0 && now.Sub(e.first) > window && !e.until.After(now) {
		e.failures = 0
	}
}

// admits returns zero when the key admits one more attempt now, or how long
// the caller must wait: the rest of a running lock, or BaseDelay when the
// allowance left is taken by attempts in flight. Once the allowance is used
// up, a key whose lock has run out admits one attempt at a time.
func (e *throttleEntry) admits(now time.Time, cfg LoginThrottle) time.Duration {
	e.expire(now, cfg.Window)
	switch {
	case e.until.After(now):
		return e.until.Sub(now)
	case e.pending >= max(cfg.FreeAttempts-e.failures, 1):
		return cfg.BaseDelay
	}
	return 0
}

// fail counts a failure: the one that uses up FreeAttempts locks the key for
// BaseDelay, each later one for twice the previous delay, up to MaxDelay.
func (e *throttleEntry) fail(now time.Time, cfg LoginThrottle) {
	e.expire(now, cfg.Window)
	if e.failures == 0 {
		e.first = now
	}
	e.failures++
	if over := e.failures - cfg.FreeAttempts; over >= 0 {
		d := cfg.BaseDelay << min(over, 30)
		if d <= 0 || d > cfg.MaxDelay {
			d = cfg.MaxDelay
		}
		e.until = now.Add(d)
	}
}

// idle reports whether the entry holds nothing worth keeping.
func (e *throttleEntry) idle(now time.Time, window time.Duration) bool {
	e.expire(now, window)
	return e.pending == 0 && e.failures == 0 && !e.until.After(now)
}

// maxThrottleKeys bounds memory under a spray of distinct usernames or
// addresses; past it, stale entries are swept, then the oldest are dropped.
const maxThrottleKeys = 100_000

func newLoginThrottle(cfg LoginThrottle) *loginThrottle {
	return &loginThrottle{cfg: cfg, m: map[string]*throttleEntry{}}
}

func accountKey(login string) string { return "a:" + strings.ToLower(login) }

// addressKey keys a source address. IPv4 counts by the full address. IPv6
// counts by its /64: a single host or customer usually holds a whole /64 and
// can pick any of its 2^64 addresses, so keying the full address would let
// one attacker rotate past the throttle. An IPv4-mapped IPv6 address is its
// IPv4 address; a zone is dropped. Anything unparsable is keyed as given.
func addressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "i:" + ip
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "i:" + p.String()
	}
	return "i:" + a.String()
}

// deviceKey keys a source address on the device verification page. It is
// kept apart from the login keys: a wrong user code is not a wrong password.
func deviceKey(ip string) string { return "d:" + addressKey(ip) }

// loginKeys are the keys a login attempt counts against: the account and the
// address. An empty login has no account key, so it can never fold every
// caller into one shared key.
func loginKeys(login, ip string) []string {
	if login == "" {
		return []string{addressKey(ip)}
	}
	return []string{accountKey(login), addressKey(ip)}
}

// loginAttempt is a login's reservation on its throttle keys, from before
// its password check until settle.
type loginAttempt struct {
	t       *loginThrottle
	login   string
	keys    []string
	entries []*throttleEntry
	settled bool
	lapse   int64 // the shared reservation's, when t.shared is set
}

// reserve is reserveLogin on whichever state the throttle keeps: in memory,
// or in the shared store, where it can fail (the caller answers 503).
func (t *loginThrottle) reserve(ctx context.Context, login, ip string, now time.Time) (*loginAttempt, time.Duration, error) {
	if t.shared == nil {
		a, wait := t.reserveLogin(login, ip, now)
		return a, wait, nil
	}
	keys := loginKeys(login, ip)
	lapse, wait, err := t.shared.reserve(ctx, keys, now)
	if err != nil || wait > 0 {
		return nil, wait, err
	}
	return &loginAttempt{t: t, login: login, keys: keys, lapse: lapse}, 0, nil
}

// reserveLogin admits a login attempt, or returns how long the caller must
// wait. In one critical section it checks every key and, if all admit the
// attempt, counts it as pending on each. A key admits an attempt while it is
// not locked and its failures plus its pending attempts stay below
// FreeAttempts; once the allowance is used up, a key whose lock has run out
// admits one attempt at a time (whose failure locks it again for longer).
// An attempt refused only because others are in flight waits BaseDelay.
func (t *loginThrottle) reserveLogin(login, ip string, now time.Time) (*loginAttempt, time.Duration) {
	keys := loginKeys(login, ip)
	t.mu.Lock()
	defer t.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		if e := t.m[k]; e != nil {
			wait = max(wait, e.admits(now, t.cfg))
		}
	}
	if wait > 0 {
		return nil, wait
	}
	if len(t.m)+len(keys) > maxThrottleKeys {
		t.sweep(now)
	}
	a := &loginAttempt{t: t, login: login, keys: keys, entries: make([]*throttleEntry, len(keys))}
	for i, k := range keys {
		e := t.m[k]
		if e == nil {
			e = &throttleEntry{}
			t.m[k] = e
		}
		e.pending++
		a.entries[i] = e
	}
	return a, 0
}

// settle ends the reservation: a wrong password becomes a counted failure
// on every key; a right one clears the account's failures (the address
// keeps its count, so a valid login cannot launder guesses against other
// accounts); any other outcome (no slot, a store error, a panic) releases
// the reservation without counting. Settling twice does nothing, so it can
// be deferred as the fallback.
func (a *loginAttempt) settle(outcome attemptOutcome, now time.Time) {
	t := a.t
	if t.shared != nil {
		if !a.settled {
			a.settled = true
			t.shared.settle(a.keys, accountKey(a.login), a.lapse, outcome, now)
		}
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if a.settled {
		return
	}
	a.settled = true
	for _, e := range a.entries {
		// The entry may have been swept from the map under a flood of
		// keys; decrementing the detached entry is then harmless.
		e.pending = max(e.pending-1, 0)
	}
	switch outcome {
	case attemptFailed:
		t.failLocked(now, a.keys...)
	case attemptSucceeded:
		if e := t.m[accountKey(a.login)]; e != nil {
			e.failures, e.until = 0, time.Time{}
			if e.pending == 0 {
				delete(t.m, accountKey(a.login))
			}
		}
	}
}

type attemptOutcome int

const (
	attemptReleased  attemptOutcome = iota // not a password verdict: not counted
	attemptFailed                          // wrong password or unknown login
	attemptSucceeded                       // right password
)

// deviceBlocked and deviceFailed throttle user-code guesses by address only:
// there is no account to key, and a key shared by all callers would let
// anyone lock everyone out of device verification.
func (t *loginThrottle) deviceBlocked(ip string, now time.Time) time.Duration {
	return t.wait(now, deviceKey(ip))
}

func (t *loginThrottle) deviceFailed(ip string, now time.Time) { t.fail(now, deviceKey(ip)) }

// deviceWait and deviceFail are deviceBlocked and deviceFailed on whichever
// state the throttle keeps (see reserve).
func (t *loginThrottle) deviceWait(ctx context.Context, ip string, now time.Time) (time.Duration, error) {
	if t.shared == nil {
		return t.deviceBlocked(ip, now), nil
	}
	return t.shared.wait(ctx, deviceKey(ip), now)
}

func (t *loginThrottle) deviceFail(ctx context.Context, ip string, now time.Time) error {
	if t.shared == nil {
		t.deviceFailed(ip, now)
		return nil
	}
	return t.shared.fail(ctx, deviceKey(ip), now)
}

func (t *loginThrottle) wait(now time.Time, keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		if e := t.m[k]; e != nil && e.until.After(now) {
			wait = max(wait, e.until.Sub(now))
		}
	}
	return wait
}

func (t *loginThrottle) fail(now time.Time, keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failLocked(now, keys...)
}

// failLocked counts a failure on each key (throttleEntry.fail). t.mu must be
// held.
func (t *loginThrottle) failLocked(now time.Time, keys ...string) {
	if len(t.m)+len(keys) > maxThrottleKeys {
		t.sweep(now)
	}
	for _, k := range keys {
		e := t.m[k]
		if e == nil {
			e = &throttleEntry{}
			t.m[k] = e
		}
		e.fail(now, t.cfg)
	}
}

// passwordCheckWait is how long a login waits for a free password-check
// slot before it is refused with 503.
const passwordCheckWait = 2 * time.Second

// passwordSlot takes one of the n slots of concurrent password checks (n <= 0:
// runtime.NumCPU()), waiting at most passwordCheckWait of wall-clock time (not
// the provider's clock: this is about CPU, not token lifetimes). It returns
// the function that frees the slot, or false when none freed in time or the
// request went away. Password hashing is made to be slow; the per-account
// and per-address keys do not bound it when both rotate, and a check for an
// unknown login costs the same bcrypt work as any other, so this bound is
// what keeps a spray of logins from taking every CPU.
func (t *loginThrottle) passwordSlot(ctx context.Context, n int) (release func(), ok bool) {
	t.slotsOnce.Do(func() {
		if n <= 0 {
			n = runtime.NumCPU()
		}
		t.slots = make(chan struct{}, n)
	})
	select {
	case t.slots <- struct{}{}:
		return t.releaseSlot, true
	default:
	}
	timer := time.NewTimer(passwordCheckWait)
	defer timer.Stop()
	select {
	case t.slots <- struct{}{}:
		return t.releaseSlot, true
	case <-timer.C:
	case <-ctx.Done():
	}
	return nil, false
}

func (t *loginThrottle) releaseSlot() { <-t.slots }

func (t *loginThrottle) sweep(now time.Time) {
	for k, e := range t.m {
		if e.idle(now, t.cfg.Window) {
			delete(t.m, k)
		}
	}
	for k := range t.m { // still full: drop arbitrary entries (map order)
		if len(t.m) < maxThrottleKeys*9/10 {
			break
		}
		delete(t.m, k)
	}
}

func (p *Provider) clientIP(r *http.Request) string {
	if p.cfg.ClientIP != nil {
		return p.cfg.ClientIP(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func retryAfter(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}
