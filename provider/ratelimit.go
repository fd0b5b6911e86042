package provider

import (
	"net/http"
	"sync"
	"time"
)

// PendingLimits bounds the records that callers who have not authenticated
// can make the provider store: interactions (a login page started at
// /authorize, ~3 KB for Lifetimes.Interaction), pushed authorization
// requests of public clients (~3 KB for Lifetimes.PushedAuthorizationRequest)
// and device codes (Lifetimes.DeviceCode). Each kind is counted on its own.
//
// What is bounded is how many such records are pending (created and neither
// finished nor expired), per source address (an IPv6 address by its /64) and
// in all, not how fast they are created: a busy site whose logins complete
// never comes near the limits, while a caller that starts logins and
// abandons them holds at most PerAddress of them. Beyond PerAddress the
// caller gets 429, beyond Total everybody gets 503, both with Retry-After.
//
// The counts are kept in memory per process and are approximate: records
// made by another instance sharing the storage, or before a restart, are
// not counted.
type PendingLimits struct {
	PerAddress int // default 1000
	Total      int // default 100000
}

const (
	defaultPendingPerAddress = 1000
	defaultPendingTotal      = 100_000
)

func (l *PendingLimits) applyDefaults() {
	if l.PerAddress <= 0 {
		l.PerAddress = defaultPendingPerAddress
	}
	if l.Total <= 0 {
		l.Total = defaultPendingTotal
	}
}

// pendingLimiter counts the pending records of one kind by source address.
// Records are released when the provider finishes them (release) and
// forgotten when they expire (sweep); the expiry queue is in creation order,
// which for one kind's fixed lifetime is expiry order.
type pendingLimiter struct {
	limits PendingLimits
	ttl    time.Duration

	mu     sync.Mutex
	items  map[string]pendingItem // by record id
	byAddr map[string]int
	queue  []pendingRef // oldest first; may hold released ids
}

type pendingItem struct {
	addr    string
	expires time.Time
}

type pendingRef struct {
	id      string
	expires time.Time
}

func newPendingLimiter(limits PendingLimits, ttl time.Duration) *pendingLimiter {
	return &pendingLimiter{limits: limits, ttl: ttl, items: map[string]pendingItem{}, byAddr: map[string]int{}}
}

// errPendingFull and errPendingPerAddress are the refusals, with the
// temporarily_unavailable code OAuth uses for an overloaded server (RFC 6749
// §4.1.2.1).
func errPendingFull() *Error {
	return newError(http.StatusServiceUnavailable, ErrCodeTemporarilyUnavailable, "the server is busy; try again later")
}

func errPendingPerAddress() *Error {
	return newError(http.StatusTooManyRequests, ErrCodeTemporarilyUnavailable, "too many unfinished requests from this network; finish or wait for them, then try again")
}

// acquire counts a new record id, created by ip and expiring at expires. On
// refusal it returns the error and how long to wait before retrying.
func (l *pendingLimiter) acquire(ip, id string, expires, now time.Time) (*Error, time.Duration) {
	addr := addressKey(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	if len(l.items) >= l.limits.Total {
		// The oldest pending record expires first.
		return errPendingFull(), l.queue[0].expires.Sub(now)
	}
	if l.byAddr[addr] >= l.limits.PerAddress {
		return errPendingPerAddress(), min(l.ttl, time.Minute)
	}
	if _, dup := l.items[id]; dup {
		return nil, 0
	}
	l.items[id] = pendingItem{addr: addr, expires: expires}
	l.byAddr[addr]++
	l.queue = append(l.queue, pendingRef{id: id, expires: expires})
	return nil, 0
}

// release forgets id (finished, consumed or deleted); unknown ids (made by
// another instance, before a restart, or already released) are ignored.
func (l *pendingLimiter) release(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forget(id)
	// Released ids stay in the queue until they would have expired; compact
	// it when they are most of it, so a busy site's memory stays bounded by
	// what is really pending.
	if len(l.queue) > 1024 && len(l.queue) > 4*len(l.items) {
		live := l.queue[:0]
		for _, ref := range l.queue {
			if it, ok := l.items[ref.id]; ok && it.expires.Equal(ref.expires) {
				live = append(live, ref)
			}
		}
		clear(l.queue[len(live):])
		l.queue = live
	}
}

func (l *pendingLimiter) forget(id string) {
	it, ok := l.items[id]
	if !ok {
		return
	}
	delete(l.items, id)
	if n := l.byAddr[it.addr] - 1; n > 0 {
		l.byAddr[it.addr] = n
	} else {
		delete(l.byAddr, it.addr)
	}
}

// sweep forgets the records that have expired.
func (l *pendingLimiter) sweep(now time.Time) {
	n := 0
	for ; n < len(l.queue) && !l.queue[n].expires.After(now); n++ {
		ref := l.queue[n]
		if it, ok := l.items[ref.id]; ok && it.expires.Equal(ref.expires) {
			l.forget(ref.id)
		}
	}
	if n > 0 {
		clear(l.queue[:n])
		l.queue = l.queue[n:]
	}
}

// pendingLimiters are the provider's limiters, one per kind.
type pendingLimiters struct {
	interactions, par, deviceCodes *pendingLimiter
}

func newPendingLimiters(limits PendingLimits, l Lifetimes) pendingLimiters {
	return pendingLimiters{
		interactions: newPendingLimiter(limits, l.Interaction),
		par:          newPendingLimiter(limits, l.PushedAuthorizationRequest),
		deviceCodes:  newPendingLimiter(limits, l.DeviceCode),
	}
}

// refusePending writes Retry-After for a refusal from acquire.
func refusePending(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", retryAfter(max(wait, time.Second)))
}

// rateLimiter is a token bucket per source address: limit requests, refilled
// evenly over window. In memory per process, bounded like the login
// throttle's keys.
type rateLimiter struct {
	limit  float64
	window time.Duration

	mu sync.Mutex
	m  map[string]*tokenBucket
}

type tokenBucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(limit int, window time.Duration) *rateLimiter {
	return &rateLimiter{limit: float64(limit), window: window, m: map[string]*tokenBucket{}}
}

// allow takes one token for ip, or says how long until one is there.
func (l *rateLimiter) allow(ip string, now time.Time) (ok bool, wait time.Duration) {
	key := addressKey(ip)
	perSecond := l.limit / l.window.Seconds()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[key]
	if b == nil {
		if len(l.m) >= maxThrottleKeys {
			l.sweep(now, perSecond)
		}
		b = &tokenBucket{tokens: l.limit, last: now}
		l.m[key] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(l.limit, b.tokens+elapsed*perSecond)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / perSecond * float64(time.Second))
}

// sweep drops the buckets that have refilled (they equal a fresh one), then
// arbitrary ones if still full.
func (l *rateLimiter) sweep(now time.Time, perSecond float64) {
	for k, b := range l.m {
		if b.tokens+now.Sub(b.last).Seconds()*perSecond >= l.limit {
			delete(l.m, k)
		}
	}
	for k := range l.m {
		if len(l.m) < maxThrottleKeys*9/10 {
			break
		}
		delete(l.m, k)
	}
}
