package provider_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A failing jwks_uri is fetched at most once per 30 seconds, however many
// assertions name the client and however concurrently they arrive
// (security review M4): anyone can send an assertion for a client, so
// without this every forged one costs an outbound request of up to 5 s.
func TestJWKSURIFailureFetchedOncePer30s(t *testing.T) {
	// In parallel with the other waiting tests: it gives concurrent requests
	// time to pile up behind a hanging fetch, which costs wall time, not work.
	t.Parallel()
	var hits atomic.Int64
	var failing atomic.Bool
	failing.Store(true)
	release := make(chan struct{})
	key := newClientKey(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-release
		if failing.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Write(key.jwks)
	}))
	defer srv.Close()
	h := newHarness(t, jwtClients(t, key, srv.URL+"/jwks"))
	cc := url.Values{"grant_type": {"client_credentials"}}
	jti := 0
	request := func() response {
		jti++
		a := key.sign(t, assertion{iss: "pkjwt-uri", sub: "pkjwt-uri", aud: []string{h.issuer + "/token"}, jti: "j" + itoa(jti), exp: h.clock.now().Add(time.Minute)})
		return h.assertionRequest("/token", a, cc)
	}

	// Concurrent requests share one fetch.
	const n = 8
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for i := range n {
		a := key.sign(t, assertion{iss: "pkjwt-uri", sub: "pkjwt-uri", aud: []string{h.issuer + "/token"}, jti: "c" + itoa(i), exp: h.clock.now().Add(time.Minute)})
		wg.Go(func() { statuses <- h.assertionRequest("/token", a, cc).status })
	}
	for deadline := time.Now().Add(5 * time.Second); hits.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // let the others arrive while the fetch hangs
	close(release)
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusUnauthorized {
			t.Errorf("assertion with an unreachable jwks_uri: %d, want 401", s)
		}
	}
	if got := hits.Load(); got != 1 {
		t.Fatalf("%d concurrent requests fetched the failing jwks_uri %d times, want 1", n, got)
	}
	// Later requests get the remembered failure, without a fetch.
	for range 10 {
		if r := request(); r.status != http.StatusUnauthorized {
			t.Fatalf("assertion with a failed jwks_uri: %d %s", r.status, r.body)
		}
	}
	if got := hits.Load(); got != 1 {
		t.Fatalf("10 requests within 30 s of a failed fetch fetched %d more times, want 0", got-1)
	}
	// After 30 s the next request tries again, once.
	h.clock.advance(31 * time.Second)
	for range 5 {
		request()
	}
	if got := hits.Load(); got != 2 {
		t.Fatalf("5 requests 31 s after the failure: %d fetches in all, want 2", got)
	}
	// The failure is not remembered for good: once the keys are served
	// again, a valid assertion passes after the next interval.
	failing.Store(false)
	h.clock.advance(31 * time.Second)
	if r := request(); r.status != http.StatusOK {
		t.Fatalf("valid assertion after the jwks_uri recovered: %d %s", r.status, r.body)
	}
	if got := hits.Load(); got != 3 {
		t.Fatalf("fetches = %d, want 3", got)
	}
}
