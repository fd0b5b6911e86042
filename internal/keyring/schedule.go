package keyring

import "time"

// Policy is when generated keys rotate. Every decision is taken from the
// timestamps stored with the keys and the current time, never from which
// instance happens to act, so all instances that share a store (and, as
// they should, a configuration) agree on the signing key at any moment.
type Policy struct {
	// RotateEvery is how long a generated key signs before its successor
	// takes over; zero means never.
	RotateEvery time.Duration
	// PublishBefore is how long a successor is published in the JWKS, and
	// accepted for verification, before it signs: at least the JWKS cache
	// lifetime of the relying parties, so none meets a kid it cannot
	// resolve. Must be shorter than RotateEvery.
	PublishBefore time.Duration
	// Retain is how long a superseded key stays published after its
	// successor started signing: the longest lifetime of a token it may
	// have signed (ID tokens, JWT access tokens, logout tokens).
	Retain time.Duration
}

// storedKey is one generated key as stored, its private part sealed.
type storedKey struct {
	Generation int       `json:"generation"`
	KID        string    `json:"kid"`
	CreatedAt  time.Time `json:"created_at"`
	// ActivateAt is when the key starts signing. The first key of a ring
	// signs from its creation; a successor PublishBefore after it.
	ActivateAt time.Time `json:"activate_at"`
	// Sealed is the PKCS#8 DER of the private key, sealed (see Sealer).
	Sealed []byte `json:"sealed"`
}

// storedRing is the payload of one algorithm's signing_key record: all of
// its live keys in ascending generation (and activation) order. One record,
// so that every read sees a consistent ring and every change is one atomic
// Create or Update.
type storedRing struct {
	Version int         `json:"version"`
	Alg     string      `json:"alg"`
	Keys    []storedKey `json:"keys"`
}

// activeIndex is the key that signs at now: the last one activated. With a
// clock behind the one that created the ring, none may be activated yet;
// then the first key signs.
func activeIndex(keys []storedKey, now time.Time) int {
	active := 0
	for i, k := range keys {
		if !k.ActivateAt.After(now) {
			active = i
		}
	}
	return active
}

// retireAt is when key i stops being published: Retain after its successor
// started signing, so every token it signed has expired. The newest key is
// never retired (ok false).
func retireAt(keys []storedKey, i int, p Policy) (at time.Time, ok bool) {
	if i+1 >= len(keys) {
		return time.Time{}, false
	}
	return keys[i+1].ActivateAt.Add(p.Retain), true
}

// published reports whether key i is in the JWKS at now: from its creation
// (a successor is published before it signs) until it is retired.
func published(keys []storedKey, i int, p Policy, now time.Time) bool {
	at, ok := retireAt(keys, i, p)
	return !ok || now.Before(at)
}

// nextChange is the first instant after now at which the signing key or
// the published set changes, or the zero time when nothing is scheduled.
func nextChange(keys []storedKey, p Policy, now time.Time) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for i, k := range keys {
		consider(k.ActivateAt)
		if at, ok := retireAt(keys, i, p); ok {
			consider(at)
		}
	}
	return next
}

// successorDue reports whether the newest key needs a successor at now, and
// when that successor would start signing: one RotateEvery after the newest
// key, but never sooner than PublishBefore from now (after all instances
// were down, the new key is still published first).
func successorDue(keys []storedKey, p Policy, now time.Time) (activateAt time.Time, due bool) {
	if p.RotateEvery <= 0 || len(keys) == 0 {
		return time.Time{}, false
	}
	last := keys[len(keys)-1].ActivateAt
	if now.Before(last.Add(p.RotateEvery - p.PublishBefore)) {
		return time.Time{}, false
	}
	activateAt = last.Add(p.RotateEvery)
	if earliest := now.Add(p.PublishBefore); activateAt.Before(earliest) {
		activateAt = earliest
	}
	return activateAt, true
}

// unretired returns the keys still published at now; storing it drops the
// retired keys' sealed material.
func unretired(keys []storedKey, p Policy, now time.Time) []storedKey {
	var out []storedKey
	for i, k := range keys {
		if published(keys, i, p, now) {
			out = append(out, k)
		}
	}
	return out
}
