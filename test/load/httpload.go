package main

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oidcaddy/oidcaddy/test/load/cpustat"
	"github.com/oidcaddy/oidcaddy/test/load/wrkrun"
)

// request is the one request a load scenario repeats.
type request struct {
	Method, URL string
	// Body is a form body (Content-Type application/x-www-form-urlencoded).
	Body          string
	Authorization string
}

// loadResult is what a load generator measured for one scenario.
type loadResult struct {
	Completed int64         // requests (or flows) completed
	Elapsed   time.Duration // measured duration
	// Failed counts completed requests with an unexpected status, and
	// socket errors (connect, read, write, timeout).
	Failed             int64
	P50, P90, P99, Max time.Duration
	// GeneratorCPU is the CPU time the load generator used, when known.
	GeneratorCPU time.Duration
	// HTTPRequests is how many HTTP requests the flows took (flows only).
	HTTPRequests int64
}

func (r loadResult) rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Completed) / r.Elapsed.Seconds()
}

// runWrk drives req with wrk (test/load/wrkrun).
func runWrk(ctx context.Context, script string, threads, conns int, d time.Duration, req request) (loadResult, error) {
	r, err := wrkrun.Run(ctx, script, threads, conns, d,
		wrkrun.Request{URL: req.URL, Method: req.Method, Body: req.Body, Authorization: req.Authorization})
	if err != nil {
		return loadResult{}, err
	}
	return loadResult{Completed: r.Completed, Elapsed: r.Elapsed, Failed: r.Failed,
		P50: r.P50, P90: r.P90, P99: r.P99, Max: r.Max, GeneratorCPU: r.GeneratorCPU}, nil
}

// newTransport returns a keep-alive transport for up to conns connections
// to one host.
func newTransport(conns int) *http.Transport {
	return &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
}

// maxSamples bounds the latency samples one scenario keeps (8 bytes each).
const maxSamples = 4 << 20

// samples collects latencies from several goroutines.
type samples struct {
	mu  sync.Mutex
	all []time.Duration
}

func (s *samples) add(local []time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	room := maxSamples - len(s.all)
	if room <= 0 {
		return
	}
	if len(local) > room {
		local = local[:room]
	}
	s.all = append(s.all, local...)
}

// percentiles fills the latency fields of r.
func (s *samples) percentiles(r *loadResult) {
	if len(s.all) == 0 {
		return
	}
	slices.Sort(s.all)
	at := func(p float64) time.Duration {
		i := int(p / 100 * float64(len(s.all)))
		if i >= len(s.all) {
			i = len(s.all) - 1
		}
		return s.all[i]
	}
	r.P50, r.P90, r.P99, r.Max = at(50), at(90), at(99), s.all[len(s.all)-1]
}

// runGoLoad is the fallback when wrk is not installed: conns goroutines,
// each on its own keep-alive connection, repeat req for d. It measures
// the same things as wrk.lua, though a Go client costs more CPU per request
// than wrk, which leaves less of the machine to Caddy.
func runGoLoad(ctx context.Context, conns int, d time.Duration, req request) (loadResult, error) {
	cpu0 := cpustat.Self()
	tr := newTransport(conns)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		completed int64
		failed    int64
		lat       samples
	)
	start := time.Now()
	stop := start.Add(d)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			var n, bad int64
			for time.Now().Before(stop) && ctx.Err() == nil {
				var body io.Reader
				if req.Body != "" {
					body = strings.NewReader(req.Body)
				}
				hr, err := http.NewRequestWithContext(ctx, req.Method, req.URL, body)
				if err != nil {
					bad++
					break
				}
				if req.Body != "" {
					hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				if req.Authorization != "" {
					hr.Header.Set("Authorization", req.Authorization)
				}
				t0 := time.Now()
				resp, err := client.Do(hr)
				if err != nil {
					bad++
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				local = append(local, time.Since(t0))
				n++
				if resp.StatusCode < 200 || resp.StatusCode > 299 {
					bad++
				}
			}
			lat.add(local)
			func() {
				mu.Lock()
				defer mu.Unlock()
				completed += n
				failed += bad
			}()
		}()
	}
	wg.Wait()
	res := loadResult{Completed: completed, Failed: failed, Elapsed: time.Since(start), GeneratorCPU: cpustat.Self() - cpu0}
	lat.percentiles(&res)
	return res, ctx.Err()
}
