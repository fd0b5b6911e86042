package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// machineClient is a client_credentials client whose opaque access tokens
// are stored: every token request is a database write.
const machineClient = `
		client machine {
			secret {env.DEMO_CLIENT_SECRET}
			grant_types client_credentials
			allowed_scopes read
		}`

// outcomes tallies the answers of a load run.
type outcomes struct {
	ok, unavailable, transport atomic.Int64
	mu                         sync.Mutex
	bad                        map[string]int // anything else, by status and body
}

func (o *outcomes) badf(format string, a ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.bad == nil {
		o.bad = map[string]int{}
	}
	o.bad[fmt.Sprintf(format, a...)]++
}

func (o *outcomes) report(t *testing.T) {
	t.Helper()
	t.Logf("200: %d, 503 temporarily_unavailable: %d, transport errors: %d", o.ok.Load(), o.unavailable.Load(), o.transport.Load())
	o.mu.Lock()
	defer o.mu.Unlock()
	for what, n := range o.bad {
		t.Errorf("%d× %s", n, what)
	}
}

// tokenLoad runs workers that request client_credentials tokens until ctx
// ends, each on its own connection pool, and classifies every answer: 200
// with a token, a clean 503 temporarily_unavailable, or a problem.
func tokenLoad(ctx context.Context, issuer string, workers int, o *outcomes) (wait func()) {
	var wg sync.WaitGroup
	body := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}.Encode()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			for ctx.Err() == nil {
				req, _ := http.NewRequest(http.MethodPost, issuer+"/token", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth("machine", demoClientSecret)
				resp, err := client.Do(req)
				if err != nil {
					// A reload closes the old server's idle connections; a
					// POST racing that close is reset, and not retried
					// because POST is not idempotent. No answer, no 5xx.
					o.transport.Add(1)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case resp.StatusCode == http.StatusOK && strings.Contains(string(b), `"access_token"`):
					o.ok.Add(1)
				case resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(b), "temporarily_unavailable"):
					o.unavailable.Add(1)
					time.Sleep(20 * time.Millisecond) // as a client honouring Retry-After would, briefly
				default:
					o.badf("%d %s", resp.StatusCode, b)
				}
			}
		}()
	}
	return wg.Wait
}

// A reload every half second under 32 concurrent token requests, moving the
// storage directory on every other one: old handlers serve or cleanly refuse
// until their last request ends. Before, requests in flight panicked on a
// nil provider or got 500 "DB Closed".
func TestReloadUnderLoad(t *testing.T) {
	cfg := newSiteConfig(t)
	cfg.ExtraClients = machineClient
	srv := startCaddy(t, cfg)
	dirs := []string{cfg.StorageDir, filepath.Join(t.TempDir(), "oidc-moved")}

	var o outcomes
	ctx, cancel := context.WithCancel(context.Background())
	wait := tokenLoad(ctx, cfg.Issuer(), 32, &o)
	const reloads = 12
	for i := range reloads {
		time.Sleep(500 * time.Millisecond)
		next := cfg
		next.StorageDir = dirs[(i+1)/2%2] // same, moved, same, moved back, ...
		next.ExtraClients = machineClient + fmt.Sprintf("\n\t\t# reload %d", i)
		srv.load(next)
	}
	time.Sleep(500 * time.Millisecond)
	cancel()
	wait()
	o.report(t)
	if o.ok.Load() == 0 {
		t.Error("no token was issued under load")
	}
	select {
	case <-srv.Exited():
		t.Fatal("caddy exited under reloads")
	default:
	}
	for _, sign := range []string{"panic", "DB Closed", "nil pointer"} {
		if srv.logContains(sign) {
			t.Errorf("caddy log contains %q", sign)
		}
	}
}
