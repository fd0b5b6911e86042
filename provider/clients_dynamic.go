package provider

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
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
}

// clientRegistry answers client lookups: the configured clients first, then
// the registered ones, cached in memory. Badger is opened by one process, so
// invalidating the cache on update and delete keeps it coherent.
type clientRegistry struct {
	p     *Provider
	cache sync.Map // client_id -> *Client
}

// Client implements ClientStore.
func (cr *clientRegistry) Client(ctx context.Context, id string) (*Client, error) {
	c, err := cr.p.cfg.Clients.Client(ctx, id)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return c, err
	}
	if v, ok := cr.cache.Load(id); ok {
		return v.(*Client), nil
	}
	sc, err := cr.p.loadStoredClient(ctx, id)
	if err != nil {
		return nil, err
	}
	c, err = cr.p.clientFromStored(sc)
	if err != nil {
		return nil, err
	}
	cr.cache.Store(id, c)
	return c, nil
}

func (cr *clientRegistry) forget(id string) { cr.cache.Delete(id) }

func (p *Provider) loadStoredClient(ctx context.Context, id string) (*storedClient, error) {
	var sc storedClient
	if _, err := p.load(ctx, KindClient, id, &sc); err != nil {
		return nil, err
	}
	return &sc, nil
}

func (p *Provider) saveStoredClient(ctx context.Context, sc *storedClient) error {
	// Durable: a registered client must survive a crash (its owner holds the
	// only copy of its secret).
	return p.put(ctx, KindClient, sc.ID, "", "", sc, nilTime, true)
}

// clientFromStored builds the runtime Client of a registration.
func (p *Provider) clientFromStored(sc *storedClient) (*Client, error) {
	m := sc.Metadata
	c := &Client{
		ID: sc.ID, Name: m.ClientName, RedirectURIs: m.RedirectURIs, PostLogoutRedirectURIs: m.PostLogoutRedirectURIs,
		GrantTypes: m.GrantTypes, TokenEndpointAuthMethod: m.TokenEndpointAuthMethod, JWKS: m.JWKS, JWKSURI: m.JWKSURI,
		RequirePushedAuthorizationRequests: m.RequirePushedAuthorizationRequests, BackchannelLogoutURI: m.BackchannelLogoutURI,
		secretHash: sc.SecretHash, dynamic: true,
	}
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
