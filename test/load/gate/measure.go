package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/oidcaddy/oidcaddy/test/load/cpustat"
	"github.com/oidcaddy/oidcaddy/test/load/wrkrun"
)

// servers are the processes whose CPU a request costs.
type servers struct {
	caddy, proxy int // proxy 0: none
}

// runResult is one run of one variant.
type runResult struct {
	round               int
	requests            int64
	elapsed             time.Duration
	caddyCPU, proxyCPU  time.Duration
	wrkCPU, driverCPU   time.Duration // the generator and the upstream (this process)
	machineBusy         time.Duration // all cores, from /proc/stat
	p50, p90, p99, pmax time.Duration
}

func (r runResult) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func perRequestUS(cpu time.Duration, n int64) float64 {
	if n == 0 {
		return 0
	}
	return float64(cpu) / float64(time.Microsecond) / float64(n)
}

func (r runResult) caddyUS() float64  { return perRequestUS(r.caddyCPU, r.requests) }
func (r runResult) proxyUS() float64  { return perRequestUS(r.proxyCPU, r.requests) }
func (r runResult) serverUS() float64 { return perRequestUS(r.caddyCPU+r.proxyCPU, r.requests) }

// otherCores is the CPU, in cores, that none of the processes of the run
// used: someone else on the shared machine.
func (r runResult) otherCores() float64 {
	other := r.machineBusy - r.caddyCPU - r.proxyCPU - r.wrkCPU - r.driverCPU
	return max(0, other.Seconds()/r.elapsed.Seconds())
}

// processCPU is utime+stime of pid; 0 for no process.
func processCPU(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, nil
	}
	return cpustat.Process(pid)
}

func loadavg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(raw))[:3], " ")
}

type snapshot struct {
	caddy, proxy, self, machine time.Duration
	served, identified          int64
}

func take(pids servers, up *upstream) (snapshot, error) {
	var s snapshot
	var err error
	if s.caddy, err = processCPU(pids.caddy); err != nil {
		return s, err
	}
	if s.proxy, err = processCPU(pids.proxy); err != nil {
		return s, err
	}
	if s.machine, err = cpustat.MachineBusy(); err != nil {
		return s, err
	}
	s.self = cpustat.Self()
	s.served, s.identified = up.served.Load(), up.identified.Load()
	return s, nil
}

// measure drives v with wrk for d and returns what it cost. Every request
// wrk completed must have reached the upstream (with the identity when v
// has one): up to conns requests in flight when wrk stopped may be on
// either side of the count.
func measure(ctx context.Context, script string, threads, conns int, d time.Duration, v variant, up *upstream, pids servers) (runResult, error) {
	before, err := take(pids, up)
	if err != nil {
		return runResult{}, err
	}
	res, err := runWrk(ctx, script, threads, conns, d, v)
	if err != nil {
		return runResult{}, err
	}
	// Requests in flight when wrk stopped may still be on their way to the
	// upstream (behind forward_auth, for many milliseconds): let them land
	// in this run, not the next.
	settle(up)
	after, err := take(pids, up)
	if err != nil {
		return runResult{}, err
	}
	res.caddyCPU = after.caddy - before.caddy
	res.proxyCPU = after.proxy - before.proxy
	res.driverCPU = after.self - before.self
	res.machineBusy = after.machine - before.machine
	served := after.served - before.served
	identified := after.identified - before.identified
	if d := served - res.requests; d < -int64(conns) || d > int64(conns) {
		return res, fmt.Errorf("wrk completed %d requests but the upstream served %d: some were answered by someone else", res.requests, served)
	}
	if v.identity && identified != served {
		return res, fmt.Errorf("%d of %d requests reached the upstream without X-Forwarded-User", served-identified, served)
	}
	return res, nil
}

// settle waits until the upstream has seen no request for 200 ms (at most
// 3 s).
func settle(up *upstream) {
	last := up.served.Load()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		n := up.served.Load()
		if n == last {
			return
		}
		last = n
	}
}

// runWrk drives v's request with wrk (test/load/wrkrun). Every request
// must succeed.
func runWrk(ctx context.Context, script string, threads, conns int, d time.Duration, v variant) (runResult, error) {
	r, err := wrkrun.Run(ctx, script, threads, conns, d, wrkrun.Request{URL: v.url, Authorization: v.auth, Cookie: v.cookie})
	if err != nil {
		return runResult{}, err
	}
	if r.Failed > 0 {
		return runResult{}, fmt.Errorf("wrk: %d failed requests: %s", r.Failed, r.Line)
	}
	return runResult{requests: r.Completed, elapsed: r.Elapsed, wrkCPU: r.GeneratorCPU,
		p50: r.P50, p90: r.P90, p99: r.P99, pmax: r.Max}, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// summarize is the Markdown table of the runs: medians, ranges, and the
// ratios to plain, both of the medians and paired (each run divided by the
// plain run of its round), and paired to oauth2-proxy when it ran.
func summarize(variants []variant, results map[string][]runResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n| variant | server CPU µs/req, median (range) | of which oauth2-proxy | ratio to plain (medians) | paired ratio to plain, median (range) | paired ratio to oauth2-proxy, median (range) | req/s, median | p50 ms | p99 ms |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|\n")
	baseMed := 0.0
	if base := results["plain"]; len(base) > 0 {
		baseMed = median(collect(base, runResult.serverUS))
	}
	for _, v := range variants {
		rs := results[v.name]
		cpu := collect(rs, runResult.serverUS)
		med := median(cpu)
		ratio := "–"
		if baseMed > 0 {
			ratio = fmt.Sprintf("%.2f", med/baseMed)
		}
		proxy := "–"
		if v.withProxy {
			proxy = fmt.Sprintf("%.0f", median(collect(rs, runResult.proxyUS)))
		}
		fmt.Fprintf(&b, "| %s | %.0f (%.0f–%.0f) | %s | %s | %s | %s | %.0f | %.2f | %.2f |\n",
			v.name, med, slices.Min(cpu), slices.Max(cpu), proxy, ratio,
			pairedRatio(rs, results["plain"]), pairedRatio(rs, results["oauth2-proxy"]),
			median(collect(rs, runResult.rate)),
			median(collect(rs, func(r runResult) float64 { return ms(r.p50) })),
			median(collect(rs, func(r runResult) float64 { return ms(r.p99) })))
	}
	return b.String()
}

// pairedRatio divides each run's server CPU per request by that of the
// reference's run in the same round: the machine's drift between rounds
// cancels out.
func pairedRatio(rs, ref []runResult) string {
	var ps []float64
	for _, r := range rs {
		for _, p := range ref {
			if p.round == r.round && p.serverUS() > 0 {
				ps = append(ps, r.serverUS()/p.serverUS())
			}
		}
	}
	if len(ps) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", median(ps), slices.Min(ps), slices.Max(ps))
}

func collect(rs []runResult, f func(runResult) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}
