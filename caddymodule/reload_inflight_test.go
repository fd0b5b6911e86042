package caddymodule

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

// tokenRequest is a code exchange with an unknown code: it reaches the
// database (the code is consumed by lookup) and, while all is well, answers
// 400 invalid_grant.
func tokenRequest() *http.Request {
	body := url.Values{"grant_type": {"authorization_code"}, "code": {"no-such-code"}, "redirect_uri": {"http://localhost:5556/callback"}}
	req := httptest.NewRequest(http.MethodPost, provider.PathToken, strings.NewReader(body.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("app", "not-a-real-secret")
	return req
}

// serveOnce runs one request through h and describes anything but the two
// acceptable answers: the provider's own (400 invalid_grant) or a clean 503
// temporarily_unavailable. A panic is reported, not raised.
func serveOnce(h *Handler) (problem string) {
	defer func() {
		if p := recover(); p != nil {
			problem = fmt.Sprintf("panic: %v", p)
		}
	}()
	rec := httptest.NewRecorder()
	if err := h.ServeHTTP(rec, tokenRequest(), &recordingNext{}); err != nil {
		return "handler error: " + err.Error()
	}
	switch {
	case rec.Code == http.StatusBadRequest && strings.Contains(rec.Body.String(), provider.ErrCodeInvalidGrant):
	case rec.Code == http.StatusServiceUnavailable && strings.Contains(rec.Body.String(), provider.ErrCodeTemporarilyUnavailable):
	default:
		return fmt.Sprintf("%d %s", rec.Code, rec.Body.String())
	}
	return ""
}

// On a reload Caddy cleans the old handler up while it may still dispatch
// requests to it. Requests in flight and requests arriving later must get
// the provider's answer or a clean 503, never a panic on a nil provider or a
// 500 "DB Closed" from a database closed under them. Run with -race: the
// old Cleanup wrote h.prov while requests read it.
func TestCleanupRacesInFlightRequests(t *testing.T) {
	h := testHandler(t, t.TempDir()) // its own directory: Cleanup closes the database
	if err := h.Provision(newTestContext(t)); err != nil {
		t.Fatal(err)
	}
	const workers = 32
	var (
		wg       sync.WaitGroup
		stop     atomic.Bool
		served   atomic.Int64
		mu       sync.Mutex
		problems = map[string]int{}
	)
	started := make(chan struct{}, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := true
			for !stop.Load() {
				if p := serveOnce(h); p != "" {
					mu.Lock()
					problems[p]++
					mu.Unlock()
				}
				served.Add(1)
				if first {
					started <- struct{}{}
					first = false
				}
			}
		}()
	}
	for range workers {
		<-started
	}
	if err := h.Cleanup(); err != nil {
		t.Errorf("Cleanup: %v", err)
	}
	// Requests after Cleanup, still racing the ones in flight.
	for range workers {
		if p := serveOnce(h); p != "" {
			mu.Lock()
			problems["after cleanup: "+p]++
			mu.Unlock()
		}
	}
	stop.Store(true)
	wg.Wait()
	for p, n := range problems {
		t.Errorf("%d× %s", n, p)
	}
	t.Logf("%d requests served", served.Load())

	// Paths that are not the provider's still go to the next handler.
	next := &recordingNext{}
	if err := h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/app", nil), next); err != nil || !next.called {
		t.Errorf("foreign path after cleanup: next called = %v, err = %v", next.called, err)
	}
}
