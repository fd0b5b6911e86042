package caddymodule

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// requestGate counts a handler's requests in flight so that Cleanup can wait
// for them before it releases the database. On a reload Caddy provisions and
// starts the new configuration first and cleans the old one up afterwards,
// and it can still dispatch requests to the old handler meanwhile: a request
// in flight must finish on the database it started with, and a request that
// arrives after Cleanup gets a clean 503 instead of a panic or a closed
// database.
type requestGate struct {
	// state is the number of requests in flight plus gateClosed once close
	// has begun: one atomic add admits or refuses a request.
	state    atomic.Int64
	idle     chan struct{} // closed when closed and no request is in flight
	idleOnce sync.Once
}

const gateClosed = 1 << 40

func newRequestGate() *requestGate { return &requestGate{idle: make(chan struct{})} }

// enter admits a request, or reports false once the gate is closing.
func (g *requestGate) enter() bool {
	if g.state.Add(1) >= gateClosed {
		g.leave()
		return false
	}
	return true
}

// leave ends a request that enter admitted (or refused).
func (g *requestGate) leave() {
	if g.state.Add(-1) == gateClosed {
		g.idleOnce.Do(func() { close(g.idle) })
	}
}

// close refuses new requests and waits up to d for those in flight; it
// reports whether they all ended.
func (g *requestGate) close(d time.Duration) bool {
	if g.state.Add(gateClosed) == gateClosed {
		g.idleOnce.Do(func() { close(g.idle) })
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-g.idle:
		return true
	case <-t.C:
		return false
	}
}

// drainTimeout bounds how long Cleanup waits for the old handler's requests.
// A request still running after it meets a closed database, which the store
// answers as unavailable (503), not as an internal error.
const drainTimeout = 10 * time.Second

// refuseRetired answers a request that reached a handler already cleaned up:
// 503 temporarily_unavailable, to be retried (it will reach the current
// configuration). RFC 6749 §5.2's error body serves every endpoint.
func refuseRetired(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`{"error":"` + provider.ErrCodeTemporarilyUnavailable + `","error_description":"the server is being reconfigured; retry the request"}`))
}
