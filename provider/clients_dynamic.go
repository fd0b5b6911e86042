package provider

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	// clientCacheTTL bounds how long a cached registration is trusted.
	// Updates and deletes evict it at once from the cache of the instance
	// that made them; other instances sharing the store (a Caddy reload
	// overlap) see the change when their copy expires.
	clientCacheTTL = 30 * time.Second
	// maxCachedClients bounds the cache: registration may be open to anyone.
	maxCachedClients = 4096
)

// clientRegistry answers client lookups: the configured clients first, then
// the registered ones, cached in memory for clientCacheTTL.
//
// gen counts evictions (forget). A lookup notes it before reading the
// store and caches what it read only if no eviction happened meanwhile:
// otherwise a read that started before an update or delete could put the
// old registration back after the eviction.
type clientRegistry struct {
	p   *Provider
	mu  sync.Mutex
	gen uint64
	m   map[string]cachedClient
	// shared: the store is shared by several instances (SharedStore), so
	// nothing is cached.
	shared bool
}

type cachedClient struct {
	c  *Client
	at time.Time // when it was read from the store
}

// Client implements ClientStore.
func (cr *clientRegistry) Client(ctx context.Context, id string) (*Client, error) {
	if c, ok := cr.p.gateClient(id); ok {
		return c, nil
	}
	c, err := cr.p.cfg.Clients.Client(ctx, id)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return c, err
	}
	for retried := false; ; retried = true {
		c, gen, ok := cr.cached(id)
		if ok {
			return c, nil
		}
		sc, err := cr.p.loadStoredClient(ctx, id)
		if err != nil {
			return nil, err
		}
		if c, err = cr.p.clientFromStored(sc); err != nil {
			return nil, err
		}
		// After an eviction during the read, read once more: that read
		// starts after the change was stored. It is answered but not
		// cached if yet another eviction overlaps it.
		if cr.shared || cr.remember(id, c, gen) || retried {
			return c, nil
		}
	}
}

// cached returns the live cache entry for id, and the eviction count to
// hand to remember after reading the store.
func (cr *clientRegistry) cached(id string) (*Client, uint64, bool) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.shared {
		// Other instances change registrations in the shared store
		// without evicting this cache: every lookup reads the store, so
		// a client deleted or updated anywhere is refused or changed
		// here at once (issue 10 part 3).
		return nil, cr.gen, false
	}
	if e, ok := cr.m[id]; ok {
		if age := cr.p.now().Sub(e.at); age >= 0 && age < clientCacheTTL {
			return e.c, cr.gen, true
		}
		delete(cr.m, id)
	}
	return nil, cr.gen, false
}

// remember caches c unless an eviction happened since gen was read.
func (cr *clientRegistry) remember(id string, c *Client, gen uint64) bool {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.gen != gen || cr.shared {
		return false
	}
	if cr.m == nil {
		cr.m = make(map[string]cachedClient)
	}
	if _, ok := cr.m[id]; !ok && len(cr.m) >= maxCachedClients {
		for k := range cr.m { // an arbitrary victim (map order is random)
			delete(cr.m, k)
			break
		}
	}
	cr.m[id] = cachedClient{c: c, at: cr.p.now()}
	return true
}

// forget evicts a registration after it was changed or deleted in the store.
func (cr *clientRegistry) forget(id string) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	cr.gen++
	delete(cr.m, id)
}

func (p *Provider) loadStoredClient(ctx context.Context, id string) (*storedClient, error) {
	sc, err := p.storedClients().load(ctx, id)
	if err != nil {
		return nil, err
	}
	if sc.Deleted {
		return nil, ErrNotFound
	}
	return sc, nil
}

func (p *Provider) saveStoredClient(ctx context.Context, sc *storedClient) error {
	return p.storedClients().save(ctx, sc)
}

// clientFromStored builds the runtime Client of a registration.
func (p *Provider) clientFromStored(sc *storedClient) (*Client, error) {
	m := sc.Metadata
	c := &Client{
		ID: sc.ID, Name: m.ClientName, RedirectURIs: m.RedirectURIs, PostLogoutRedirectURIs: m.PostLogoutRedirectURIs,
		GrantTypes: m.GrantTypes, TokenEndpointAuthMethod: m.TokenEndpointAuthMethod, JWKS: m.JWKS, JWKSURI: m.JWKSURI,
		RequirePushedAuthorizationRequests: m.RequirePushedAuthorizationRequests, BackchannelLogoutURI: m.BackchannelLogoutURI,
		IDTokenSignedResponseAlg: m.IDTokenSignedResponseAlg, ClaimsInIDToken: m.ClaimsInIDToken, secretHash: sc.SecretHash, dynamic: true, AuthMethodDefaulted: sc.AuthMethodDefaulted, unusedUntil: sc.UnusedUntil,
	}
	c.ClientURI = m.ClientURI // checked by checkWebURI at registration
	// The stored scope was checked against the allow-list when it was
	// registered; the operator may have narrowed the list since. Resources
	// stay empty: a registered client gets none unless the operator says so.
	for _, s := range strings.Fields(m.Scope) {
		if slices.Contains(p.cfg.Registration.AllowedScopes, s) && !slices.Contains(c.AllowedScopes, s) {
			c.AllowedScopes = append(c.AllowedScopes, s)
		}
	}
	if len(sc.SealedSecret) > 0 {
		key, err := p.unseal(sc.SealedSecret, sc.ID)
		if err != nil {
			return nil, err
		}
		c.hmacKey = key
	}
	return c, nil
}

// checkClientOutlivesGrant closes the race between a new grant of a
// registered client and the client's deletion. The grant is indexed under the
// client before this runs; deleteClient marks the client deleted before it
// lists the client's grants. So either this read sees the mark (and the
// grant is revoked here) or the deletion's listing sees the grant. It reads
// the store, not the client cache, and costs one read per new grant whatever
// the number of grants the client holds (configured clients are never
// deleted at run time and have no index entries).
func (p *Provider) checkClientOutlivesGrant(ctx context.Context, clientID, grantID string) error {
	_, err := p.loadStoredClient(ctx, clientID)
	if errors.Is(err, ErrNotFound) {
		if rerr := p.grants().revoke(ctx, grantID, clientID); rerr != nil {
			return rerr
		}
	}
	return err
}
