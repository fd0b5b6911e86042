package provider_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// countConcurrent makes jobs calls of try on workers goroutines at once and
// counts the calls that report success.
func countConcurrent(workers, jobs int, try func() bool) int64 {
	var ok atomic.Int64
	var wg sync.WaitGroup
	work := make(chan struct{})
	for range workers {
		wg.Go(func() {
			for range work {
				if try() {
					ok.Add(1)
				}
			}
		})
	}
	for range jobs {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	return ok.Load()
}

// logoutReceiver is a relying party's back-channel logout endpoint that
// keeps the logout tokens it is sent (OIDC Back-Channel Logout §2.5).
type logoutReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	tokens []string
}

func newLogoutReceiver(t *testing.T) *logoutReceiver {
	t.Helper()
	l := &logoutReceiver{}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		v, _ := url.ParseQuery(string(body))
		l.mu.Lock()
		defer l.mu.Unlock()
		l.tokens = append(l.tokens, v.Get("logout_token"))
	}))
	t.Cleanup(l.Close)
	return l
}

// received returns the logout tokens received so far.
func (l *logoutReceiver) received() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.tokens...)
}
