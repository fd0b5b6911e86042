package provider

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
)

// storedClient is a dynamically registered client as kept in the Store. The
// secret is a hash, except for client_secret_jwt where it is sealed.
type storedClient struct {
	ID           string         `json:"client_id"`
	Metadata     clientMetadata `json:"metadata"`
	SecretHash   []byte         `json:"secret_hash,omitempty"`
	SealedSecret []byte         `json:"sealed_secret,omitempty"`
	IssuedAt     int64          `json:"issued_at"`
	// Grants lists the grant ids issued to the client, so that deleting the
	// client (RFC 7592 §2.3) revokes them all.
	Grants []string `json:"grants,omitempty"`
	// Deleted marks a client being deleted: no grant may be added to it
	// once its list of grants has been taken for revocation, and it is
	// not found any more.
	Deleted bool `json:"deleted,omitempty"`
	// AuthMethodDefaulted: the registration omitted token_endpoint_auth_method,
	// so the metadata holds the RFC 7591 §2 default (client_secret_basic) and
	// the client may use either secret method (Client.AuthMethodDefaulted).
	AuthMethodDefaulted bool `json:"auth_method_defaulted,omitempty"`
	// UnusedUntil (unix s) is when the client expires unless it obtains a
	// token first (RegistrationConfig.UnusedClientTTL); 0 once it has.
	UnusedUntil int64 `json:"unused_until,omitempty"`
}

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
	var sc storedClient
	if _, err := p.load(ctx, KindClient, id, &sc); err != nil {
		return nil, err
	}
	if sc.Deleted {
		return nil, ErrNotFound
	}
	return &sc, nil
}

func (p *Provider) saveStoredClient(ctx context.Context, sc *storedClient) error {
	// Durable: a registered client must survive a crash (its owner holds the
	// only copy of its secret).
	return p.put(ctx, KindClient, sc.ID, "", "", sc, sc.unusedExpiry(), true)
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

// rememberGrant records a new grant on a registered client so deleting the
// client can revoke it. Configured clients are not deleted at run time.
func (p *Provider) rememberGrant(ctx context.Context, c *Client, grantID string) error {
	if !c.dynamic {
		return nil
	}
	_, err := p.cfg.Store.Update(ctx, KindClient, c.ID, func(rec *Record) error {
		var sc storedClient
		if err := json.Unmarshal(rec.Payload, &sc); err != nil {
			return err
		}
		if sc.Deleted {
			return ErrNotFound
		}
		if slices.Contains(sc.Grants, grantID) {
			return nil
		}
		sc.Grants = append(sc.Grants, grantID)
		b, err := json.Marshal(&sc)
		rec.Payload = b
		return err
	})
	return err
}
