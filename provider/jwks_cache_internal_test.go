package provider

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// roundTripFunc serves HTTP requests in-process.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func jwksResponse(r *http.Request) *http.Response {
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader(`{"keys":[]}`)), Request: r}
}

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// The jwks cache holds at most maxJWKSCacheEntries URIs (security review
// M4): registration may be open, and each registered client can name its own.
func TestJWKSCacheBounded(t *testing.T) {
	t.Parallel()
	var fetches atomic.Int64
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		fetches.Add(1)
		return jwksResponse(r), nil
	})}
	clk := &testClock{t: time.Unix(1_900_000_000, 0)}
	var c jwksCache
	const n = maxJWKSCacheEntries + 100
	for i := range n {
		if _, fresh, err := c.get(context.Background(), hc, "https://keys.example/"+strconv.Itoa(i), false, clk.now); err != nil || !fresh {
			t.Fatalf("get %d: fresh %v, %v", i, fresh, err)
		}
	}
	if len(c.m) > maxJWKSCacheEntries {
		t.Fatalf("the jwks cache holds %d URIs, want at most %d", len(c.m), maxJWKSCacheEntries)
	}
	if fetches.Load() != n {
		t.Fatalf("fetches = %d, want %d", fetches.Load(), n)
	}
	// The newest URI is cached.
	if _, fresh, err := c.get(context.Background(), hc, "https://keys.example/"+strconv.Itoa(n-1), false, clk.now); err != nil || fresh {
		t.Fatalf("the last URI was not kept: fresh %v, %v", fresh, err)
	}
}

// A caller that gives up while a fetch is in flight neither cancels it nor
// leaves a failure behind that others would be served for 30 s.
func TestJWKSFetchOutlivesCaller(t *testing.T) {
	t.Parallel()
	var fetches atomic.Int64
	release := make(chan struct{})
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		fetches.Add(1)
		select {
		case <-release:
			return jwksResponse(r), nil
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	})}
	clk := &testClock{t: time.Unix(1_900_000_000, 0)}
	var c jwksCache
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, _, err := c.get(ctx, hc, "https://keys.example/jwks", false, clk.now)
		done <- err
	}()
	for fetches.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled caller got %v", err)
	}
	close(release)
	doc, _, err := c.get(context.Background(), hc, "https://keys.example/jwks", false, clk.now)
	if err != nil || string(doc) != `{"keys":[]}` {
		t.Fatalf("after the first caller gave up: %q, %v", doc, err)
	}
	if fetches.Load() != 1 {
		t.Fatalf("fetches = %d, want 1", fetches.Load())
	}
}
