package provider

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Open registration lets anyone store a client (RFC 7591 §3 leaves the
// policy to the server; RFC 7591 §5 and RFC 9700 §4.11.2 warn about what
// registrants can do). Three bounds keep it from filling the disk:
//   - a per-address rate (RegistrationConfig.RateLimit per RateWindow, under
//     the open policy, in memory: registrationRate),
//   - a cap on the registered clients that exist at once (MaxClients,
//     counted in the Store so that every instance sees one number:
//     registeredClientCount), and
//   - the expiry of clients never used (UnusedClientTTL): a client is stored
//     with that expiry, as is its registration access token, and both lose
//     it when the client first obtains a token (markClientUsed).

// KindRegistrationCount holds the one registeredClientCount record.
const KindRegistrationCount Kind = "registration_count"

const registrationCountID = "clients"

func errRegistrationFull() *Error {
	return newError(http.StatusServiceUnavailable, ErrCodeTemporarilyUnavailable, "no more clients can be registered now")
}

func errRegistrationRate() *Error {
	return newError(http.StatusTooManyRequests, ErrCodeTemporarilyUnavailable, "too many registrations from this network; try again later")
}

// registeredClientCount counts the registered clients: those used (which do
// not expire) and those not yet used, by when they expire. Expiry is kept in
// buckets (unusedBucket) so the record stays small; a client stops counting
// when its bucket starts, up to one bucket before it really expires, so the
// cap can be passed briefly by the clients about to expire.
type registeredClientCount struct {
	Used   int           `json:"used"`
	Unused map[int64]int `json:"unused,omitempty"` // bucket start (unix s) -> clients
}

func (c *registeredClientCount) prune(now time.Time) {
	for b := range c.Unused {
		if b <= now.Unix() {
			delete(c.Unused, b)
		}
	}
}

func (c *registeredClientCount) live() int {
	n := c.Used
	for _, k := range c.Unused {
		n += k
	}
	return n
}

// addUnused and removeUnused take the client's expiry (unix s); 0 means a
// used client.
func (c *registeredClientCount) add(unusedUntil, bucket int64) {
	if unusedUntil == 0 {
		c.Used++
		return
	}
	if c.Unused == nil {
		c.Unused = map[int64]int{}
	}
	c.Unused[bucket]++
}

func (c *registeredClientCount) remove(unusedUntil, bucket int64) {
	if unusedUntil == 0 {
		c.Used = max(c.Used-1, 0)
		return
	}
	if n := c.Unused[bucket] - 1; n > 0 {
		c.Unused[bucket] = n
	} else {
		delete(c.Unused, bucket)
	}
}

// unusedBucket rounds an expiry down to one of about 256 buckets of the
// configured lifetime (at least a minute each).
func (p *Provider) unusedBucket(unusedUntil int64) int64 {
	g := int64(max(p.cfg.Registration.UnusedClientTTL/256, time.Minute) / time.Second)
	return unusedUntil / g * g
}

// changeClientCount applies fn to the stored count, creating it when
// missing. fn may run more than once; it returns an error to refuse.
func (p *Provider) changeClientCount(ctx context.Context, fn func(c *registeredClientCount) error) error {
	now := p.now()
	return p.clientCount().change(ctx, func(c *registeredClientCount) error {
		c.prune(now)
		return fn(c)
	})
}

var errCountFull = errors.New("registered client cap reached")

// reserveClientPlace counts a new client not yet used, expiring at
// unusedUntil; it fails with errCountFull at MaxClients.
func (p *Provider) reserveClientPlace(ctx context.Context, unusedUntil int64) error {
	bucket := p.unusedBucket(unusedUntil)
	return p.changeClientCount(ctx, func(c *registeredClientCount) error {
		if c.live() >= p.cfg.Registration.MaxClients {
			return errCountFull
		}
		c.add(unusedUntil, bucket)
		return nil
	})
}

// releaseClientPlace uncounts a client that is gone (deleted, or never
// stored).
func (p *Provider) releaseClientPlace(ctx context.Context, unusedUntil int64) error {
	bucket := p.unusedBucket(unusedUntil)
	return p.changeClientCount(ctx, func(c *registeredClientCount) error {
		c.remove(unusedUntil, bucket)
		return nil
	})
}

// markClientUsed makes a registered client that just obtained its first
// token permanent: its record and registration access token lose their
// expiry and it counts as used. Concurrent first uses are harmless: only
// the one that finds the expiry still set moves the count.
func (p *Provider) markClientUsed(ctx context.Context, c *Client) error {
	was, err := p.storedClients().markUsed(ctx, c.ID)
	if errors.Is(err, ErrNotFound) {
		return nil // deleted (or expired) meanwhile: nothing left to keep
	}
	if err != nil || was == 0 {
		return err
	}
	p.clients.forget(c.ID)
	if err := p.registrationAccessTokens().keep(ctx, c.ID); err != nil {
		return err
	}
	bucket := p.unusedBucket(was)
	return p.changeClientCount(ctx, func(cnt *registeredClientCount) error {
		cnt.remove(was, bucket)
		cnt.add(0, 0)
		return nil
	})
}

// unusedExpiry is when a stored client (and its registration access token)
// expires: never once used.
func (sc *storedClient) unusedExpiry() time.Time {
	if sc.UnusedUntil == 0 {
		return nilTime
	}
	return time.Unix(sc.UnusedUntil, 0)
}
