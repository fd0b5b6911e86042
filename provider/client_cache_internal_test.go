package provider

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// The registered-client cache holds at most maxCachedClients entries, each
// for clientCacheTTL, and refuses what a lookup read before an eviction
// (security review M3).
func TestClientRegistryCache(t *testing.T) {
	clk := &testClock{t: time.Unix(1_900_000_000, 0)}
	cr := &clientRegistry{p: &Provider{now: clk.now}}
	for i := range maxCachedClients + 100 {
		_, gen, _ := cr.cached("c" + strconv.Itoa(i))
		if !cr.remember("c"+strconv.Itoa(i), &Client{}, gen) {
			t.Fatalf("remember %d refused", i)
		}
	}
	if len(cr.m) > maxCachedClients {
		t.Fatalf("the client cache holds %d entries, want at most %d", len(cr.m), maxCachedClients)
	}
	_, gen, _ := cr.cached("fresh")
	cr.remember("fresh", &Client{ID: "fresh"}, gen)
	clk.advance(clientCacheTTL - time.Second)
	if c, _, ok := cr.cached("fresh"); !ok || c.ID != "fresh" {
		t.Fatalf("a client cached %v ago was not served from the cache", clientCacheTTL-time.Second)
	}
	clk.advance(time.Second)
	if _, _, ok := cr.cached("fresh"); ok {
		t.Fatalf("a client cached %v ago was served from the cache", clientCacheTTL)
	}
	// A lookup that began before an eviction does not cache what it read.
	_, gen, _ = cr.cached("raced")
	cr.forget("other")
	if cr.remember("raced", &Client{}, gen) {
		t.Fatal("a client read before an eviction was cached")
	}
	if _, _, ok := cr.cached("raced"); ok {
		t.Fatal("a client read before an eviction is served from the cache")
	}
}

// deleteStore is just enough of a Store for deleteClient.
type deleteStore struct {
	Store
	client []byte
}

func (s *deleteStore) Update(_ context.Context, k Kind, id string, fn func(*Record) error) (Record, error) {
	rec := Record{Kind: k, ID: id, Payload: s.client}
	err := fn(&rec)
	return rec, err
}
func (s *deleteStore) Delete(context.Context, Kind, string) error { return nil }
func (s *deleteStore) DeleteByGrant(context.Context, string) ([]Record, error) {
	return nil, nil
}
func (s *deleteStore) ListByOwner(context.Context, Kind, string, string, int) ([]Record, error) {
	return nil, nil
}

// Deleting a registered client drops its jwks_uri's key set from the cache.
func TestDeleteClientEvictsJWKS(t *testing.T) {
	const uri = "https://keys.example/jwks"
	sc := &storedClient{ID: "dyn", Metadata: clientMetadata{JWKSURI: uri, TokenEndpointAuthMethod: AuthMethodPrivateKeyJWT}}
	payload, err := encodePayload(sc)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{cfg: Config{Store: &deleteStore{client: payload}}, events: discardSink{}, now: time.Now}
	p.clients = &clientRegistry{p: p}
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) { return jwksResponse(r), nil })}
	if _, _, err := p.jwksCache.get(context.Background(), hc, uri, false, p.now); err != nil {
		t.Fatal(err)
	}
	if err := p.deleteClient(httptest.NewRequest(http.MethodDelete, "/register/dyn", nil), sc, "rat"); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.jwksCache.m[uri]; ok {
		t.Fatal("the deleted client's key set is still cached")
	}
}
