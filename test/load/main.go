// Command load measures a real Caddy with the oidc_provider module: it
// starts bin/caddy on loopback with a generated Caddyfile, obtains the
// tokens it needs, drives each scenario for a fixed duration with wrk (or a
// Go load loop when wrk is missing) or, for the authorization code flows,
// with a Go browser driver, checks Caddy's /metrics against what was sent,
// stops Caddy and prints a table. test/load/run.sh builds and runs it;
// `make load` runs that. Everything it talks to is on 127.0.0.1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/oidcaddy/oidcaddy/internal/caddyproc"
	"github.com/oidcaddy/oidcaddy/test/load/cpustat"
)

type options struct {
	caddyBin   string
	wrkScript  string
	gen        string // "wrk" or "go"
	duration   time.Duration
	warmup     time.Duration
	threads    int
	conns      int
	flowFull   int // goroutines for full flows
	flowSilent int // goroutines for silent flows
	scenarios  map[string]bool
	profile    map[string]bool
	outDir     string
	workDir    string
	deadline   time.Duration
	telemetry  telemetryMode
	// postgresAdminDSN ($LOAD_POSTGRES_ADMIN_DSN, from -postgres): a role
	// that may create databases; each configuration gets a new database.
	postgresAdminDSN string
	// instances: in the PostgreSQL mode, how many Caddys serve the issuer
	// behind a front proxy (startScaleOut).
	instances int
}

func main() {
	var o options
	var scenarios, profile string
	flag.StringVar(&o.caddyBin, "caddy", "bin/caddy", "the Caddy binary to run")
	flag.StringVar(&o.wrkScript, "wrk-script", "test/load/wrk.lua", "wrk's Lua script")
	flag.StringVar(&o.gen, "gen", "auto", "load generator for the HTTP scenarios: wrk, go, or auto (wrk when installed)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long each scenario runs")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load after each start of Caddy")
	flag.IntVar(&o.threads, "threads", 2, "wrk threads")
	flag.IntVar(&o.conns, "conns", 32, "connections for the HTTP scenarios")
	// At most 5: every full flow signs in from this one address, and the
	// login throttle admits 5 sign-ins in flight per address (and per
	// account) by default; more would be answered 429. Two cores are busy
	// with 4 password checks anyway.
	flag.IntVar(&o.flowFull, "flow-workers", 4, "goroutines doing full code flows (login + consent); at most 5, the login throttle's sign-ins in flight per address")
	flag.IntVar(&o.flowSilent, "silent-workers", 16, "goroutines doing silent code flows (session and consent exist)")
	flag.StringVar(&scenarios, "scenarios", "all", "comma-separated scenario names to run (see -list)")
	flag.StringVar(&profile, "profile", "", "comma-separated scenario names (or all) to CPU-profile through Caddy's admin /debug/pprof/")
	flag.StringVar(&o.outDir, "out", "", "keep results.json, results.md and profiles in this directory")
	flag.StringVar(&o.workDir, "workdir", "", "directory for Caddyfiles and storage (default: a new temporary directory, removed at the end)")
	flag.DurationVar(&o.deadline, "deadline", 0, "the whole run is stopped after this (default: (duration + 6s) per scenario + 30s)")
	telemetryName := flag.String("telemetry", "metrics", "telemetry mode of the Caddy under test: off, metrics, tracing, tracing-spans, tracing-spans-logs or tracing-span-events-logs (see test/load/telemetry.go)")
	list := flag.Bool("list", false, "list the scenarios and exit")
	usePostgres := flag.Bool("postgres", false, "store in PostgreSQL: a new database per configuration, created through the role of $LOAD_POSTGRES_ADMIN_DSN (run.sh's LOAD_POSTGRES=1 starts a throwaway cluster); the provider Caddys then sit behind a front Caddy (reverse_proxy, round_robin)")
	flag.IntVar(&o.instances, "instances", 1, "with -postgres: how many Caddy instances share the database behind the front proxy")
	flag.Parse()
	if *usePostgres {
		if o.postgresAdminDSN = os.Getenv("LOAD_POSTGRES_ADMIN_DSN"); o.postgresAdminDSN == "" {
			fatalf("-postgres needs $LOAD_POSTGRES_ADMIN_DSN")
		}
	}
	if o.instances < 1 || o.instances > 8 || (o.instances > 1 && o.postgresAdminDSN == "") {
		fatalf("-instances must be 1 to 8, and more than 1 only with -postgres (instances must share a store)")
	}

	if *list {
		for _, r := range plan() {
			for _, s := range r.scenarios {
				fmt.Printf("%-22s %s (%s)\n", s.name, s.title, r.label)
			}
		}
		return
	}
	o.scenarios = nameSet(scenarios)
	if m, err := lookupTelemetry(*telemetryName); err != nil {
		fatalf("%v", err)
	} else {
		o.telemetry = m
	}
	o.profile = nameSet(profile)
	known := map[string]bool{"all": true}
	for _, r := range plan() {
		for _, s := range r.scenarios {
			known[s.name] = true
		}
	}
	for _, set := range []map[string]bool{o.scenarios, o.profile} {
		for n := range set {
			if !known[n] {
				fatalf("no scenario %q (see -list)", n)
			}
		}
	}
	if o.gen == "auto" {
		o.gen = "go"
		if _, err := exec.LookPath("wrk"); err == nil {
			o.gen = "wrk"
		}
	}
	if o.gen != "wrk" && o.gen != "go" {
		fatalf("-gen must be wrk, go or auto")
	}
	if o.duration < time.Second || o.duration > 2*time.Minute {
		fatalf("-duration must be between 1s and 2m")
	}
	if o.conns < 1 || o.conns > 1024 || o.threads < 1 || o.threads > o.conns || o.flowFull < 1 || o.flowFull > 256 || o.flowSilent < 1 || o.flowSilent > 256 {
		fatalf("-conns, -threads, -flow-workers or -silent-workers out of range")
	}

	if o.deadline <= 0 {
		n := 0
		for _, r := range plan() {
			for _, s := range r.scenarios {
				if o.scenarios["all"] || o.scenarios[s.name] {
					n++
				}
			}
		}
		o.deadline = time.Duration(n)*(o.duration+6*time.Second) + 30*time.Second
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.deadline)
	defer cancel()
	code := run(ctx, o)
	stop()
	os.Exit(code)
}

func nameSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			m[n] = true
		}
	}
	return m
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "load: "+format+"\n", args...)
	os.Exit(2)
}

// scenario is one measured load.
type scenario struct {
	name, title string
	unit        string // "req" or "flow"
	// setup, if any, runs before the first scrape of /metrics.
	setup func(ctx context.Context, e *env) error
	// ref is the reference system's rate on this machine (0: none);
	// ceiling the physical ceiling per core from the building blocks.
	ref, ceiling float64
	run          func(ctx context.Context, e *env) (loadResult, error)
	// expect checks the metric deltas against what the generator counted;
	// slack is how many requests may have reached Caddy after it stopped
	// counting (one per connection).
	expect func(d delta, res loadResult, slack int64) []check
}

// configRun is one Caddy configuration and the scenarios measured on it.
type configRun struct {
	label      string
	signingKey string
	scenarios  []scenario
}

// env is what a scenario has at hand: the running server and the tokens.
type env struct {
	o          options
	srv        *server
	flows      *flowDriver
	ccToken    string // an opaque client_credentials access token
	userToken  string // an opaque access token of the demo user (openid email profile)
	machineKey string // Basic authorization of load-machine
	browsers   []*browser
	// fastPassword is the "fast" user's password (bcrypt cost 4).
	fastPassword string
}

// The reference (node oidc-provider on this machine, same load generator)
// and the per-core ceilings, from shared/notes/performance.md. Flows have
// no listed ceiling; theirs is summed from the building blocks (see
// docs/performance.md).
const (
	refClientCredentials = 4500 // ~4-5k req/s
	refIntrospection     = 3400
	refUserinfo          = 3700
	refCodeFlows         = 87.5 // ~85-90 flows/s, no password hashing

	ceilOpaqueToken   = 20000 // HTTP + one Badger write, per core
	ceilIntrospection = 23000 // per core
	ceilUserinfo      = 23000 // same work as introspection: one Badger read (not listed; assumed)
	ceilES256Token    = 9500  // per core
	ceilRS256Token    = 900   // RS256-2048 signing alone, per core
	ceilFullFlow      = 16    // one bcrypt cost-10 verify (63 ms) per flow, per core
	ceilFullFlowCheap = 700   // ~1.4 ms: bcrypt cost 4 (~1 ms), 6 Caddy requests, ~6 writes, one ES256 signature
	ceilSilentES256   = 7000  // ~140 µs: 2 Caddy requests, 3 reads, 3 writes, one ES256 signature
	ceilSilentRS256   = 830   // ~1.2 ms: the same with one RS256 signature
)

func plan() []configRun {
	cc := func(name, title string, ceiling float64, client, event string) scenario {
		return scenario{
			name: name, title: title, unit: "req", ref: refClientCredentials, ceiling: ceiling,
			run: func(ctx context.Context, e *env) (loadResult, error) {
				auth := e.machineKey
				if client == clientMachineJWT {
					auth = basicAuth(clientMachineJWT, e.srv.machineSecret)
				}
				return e.load(ctx, request{Method: http.MethodPost, URL: e.srv.cfg.Issuer() + "/token",
					Body: "grant_type=client_credentials&scope=read", Authorization: auth})
			},
			expect: func(d delta, res loadResult, slack int64) []check {
				n := res.Completed
				return append(d.httpOnly(n, slack), d.between(event, n, n+slack), d.between("grant.success", n, n+slack))
			},
		}
	}
	introspect := scenario{
		name: "introspect-opaque", title: "introspection of an opaque token", unit: "req", ref: refIntrospection, ceiling: ceilIntrospection,
		run: func(ctx context.Context, e *env) (loadResult, error) {
			return e.load(ctx, request{Method: http.MethodPost, URL: e.srv.cfg.Issuer() + "/token/introspection",
				Body: "token=" + url.QueryEscape(e.ccToken) + "&token_type_hint=access_token", Authorization: e.machineKey})
		},
		expect: func(d delta, res loadResult, slack int64) []check {
			return append(d.httpOnly(res.Completed, slack), d.between("introspection.error", 0, 0))
		},
	}
	userinfo := scenario{
		name: "userinfo-opaque", title: "userinfo, opaque access token", unit: "req", ref: refUserinfo, ceiling: ceilUserinfo,
		run: func(ctx context.Context, e *env) (loadResult, error) {
			return e.load(ctx, request{Method: http.MethodGet, URL: e.srv.cfg.Issuer() + "/userinfo", Authorization: "Bearer " + e.userToken})
		},
		expect: func(d delta, res loadResult, slack int64) []check {
			return append(d.httpOnly(res.Completed, slack), d.between("userinfo.error", 0, 0))
		},
	}
	flows := func(name, title string, ceiling float64, silent, fastUser bool) scenario {
		s := scenario{
			name: name, title: title, unit: "flow", ref: refCodeFlows, ceiling: ceiling,
			run: func(ctx context.Context, e *env) (loadResult, error) {
				if silent {
					return runFlows(ctx, e.flows, e.o.flowSilent, e.o.duration, e.browsers, demoUser)
				}
				u := demoUser
				if fastUser {
					u = user{"fast", e.fastPassword}
				}
				return runFlows(ctx, e.flows, e.o.flowFull, e.o.duration, nil, u)
			},
			expect: func(d delta, res loadResult, _ int64) []check {
				// Flows end before the driver stops: no slack.
				n := res.Completed
				pages := int64(2)
				if silent {
					pages = 0
				}
				return []check{
					d.between("authorization.success", n, n),
					d.between("authorization_code.consumed", n, n),
					d.between("grant.success", n, n),
					d.between("access_token.saved", n, n),
					d.between("interaction.started", pages*n, pages*n),
					d.statusCheck(res.HTTPRequests),
				}
			},
		}
		if silent {
			s.setup = func(ctx context.Context, e *env) error {
				var err error
				e.browsers, err = loggedInBrowsers(ctx, e.flows, e.o.flowSilent)
				return err
			}
		}
		return s
	}
	return []configRun{
		{label: "ES256", signingKey: "ES256", scenarios: []scenario{
			cc("cc-opaque", "client_credentials, opaque token", ceilOpaqueToken, clientMachine, "client_credentials.saved"),
			cc("cc-jwt-es256", "client_credentials, JWT access token ES256", ceilES256Token, clientMachineJWT, "client_credentials.issued"),
			introspect,
			userinfo,
			flows("flows-full", "full code flows (login bcrypt-10 + consent)", ceilFullFlow, false, false),
			flows("flows-full-bcrypt4", "full code flows (login bcrypt-4 + consent)", ceilFullFlowCheap, false, true),
			flows("flows-silent-es256", "silent code flows, ID token ES256", ceilSilentES256, true, false),
		}},
		{label: "RS256 (default key)", scenarios: []scenario{
			cc("cc-jwt-rs256", "client_credentials, JWT access token RS256", ceilRS256Token, clientMachineJWT, "client_credentials.issued"),
			flows("flows-silent-rs256", "silent code flows, ID token RS256", ceilSilentRS256, true, false),
		}},
	}
}

func (e *env) load(ctx context.Context, req request) (loadResult, error) {
	if e.o.gen == "wrk" {
		return runWrk(ctx, e.o.wrkScript, e.o.threads, e.o.conns, e.o.duration, req)
	}
	return runGoLoad(ctx, e.o.conns, e.o.duration, req)
}

// outcome is one measured scenario, as printed and saved.
type outcome struct {
	Config     string  `json:"config"`
	Scenario   string  `json:"scenario"`
	Title      string  `json:"title"`
	Unit       string  `json:"unit"`
	Generator  string  `json:"generator"`
	Completed  int64   `json:"completed"`
	Seconds    float64 `json:"seconds"`
	Rate       float64 `json:"rate_per_s"`
	P50ms      float64 `json:"p50_ms"`
	P90ms      float64 `json:"p90_ms"`
	P99ms      float64 `json:"p99_ms"`
	MaxMs      float64 `json:"max_ms"`
	Failed     int64   `json:"failed"`
	CaddyCores float64 `json:"caddy_cores"` // Caddy's CPU time / wall time
	// Storage and Instances: "badger" or "postgres", and how many Caddys
	// ran the provider (behind a front proxy with postgres);
	// ProxyCores is the front proxy's CPU time / wall time.
	Storage    string  `json:"storage"`
	Instances  int     `json:"instances"`
	ProxyCores float64 `json:"proxy_cores,omitempty"`
	// DatabaseCores is the PostgreSQL server's CPU time / wall time.
	DatabaseCores float64 `json:"database_cores,omitempty"`
	PerCore       float64 `json:"rate_per_caddy_core"`
	GenCores      float64 `json:"generator_cores,omitempty"`
	// MachineCores is the whole machine's busy time / wall time;
	// OtherCores what of it neither Caddy nor the generator used.
	MachineCores float64 `json:"machine_cores"`
	OtherCores   float64 `json:"other_cores"`
	// AbortedAtStop counts requests that the provider failed with "context
	// canceled" because the generator closed their connection at its stop.
	AbortedAtStop int64 `json:"aborted_at_stop,omitempty"`
	// ServerMeanMs is the mean time Caddy took per HTTP request, from its
	// request-duration histogram.
	ServerMeanMs float64  `json:"server_mean_ms"`
	HTTPRequests int64    `json:"http_requests,omitempty"`
	Reference    float64  `json:"reference_per_s,omitempty"`
	Ceiling      float64  `json:"ceiling_per_core,omitempty"`
	Checks       []string `json:"failed_checks,omitempty"`
	// Telemetry is the telemetry mode; OTLP what the loopback sink received
	// over the whole life of this Caddy and Events how many provider events
	// it counted (each should have become one event span or span event and,
	// with log records, one log record).
	Telemetry string      `json:"telemetry"`
	OTLP      *otlpCounts `json:"otlp,omitempty"`
	Events    int64       `json:"events_total,omitempty"`
	// SiteRequests is Caddy's count of site requests over its life (one
	// request span each), when its HTTP metrics are on.
	SiteRequests int64  `json:"site_requests,omitempty"`
	Error        string `json:"error,omitempty"`
	Profile      string `json:"profile,omitempty"`
}

func run(ctx context.Context, o options) int {
	start := time.Now()
	workDir := o.workDir
	if workDir == "" {
		dir, err := os.MkdirTemp("", "oidcaddy-load-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		workDir = dir
	}
	profDir := o.outDir
	if profDir == "" {
		profDir = workDir
	}
	if o.outDir != "" {
		if err := os.MkdirAll(o.outDir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			return 1
		}
	}
	load1, _ := loadAverage()
	fmt.Printf("load: %s, %d CPUs, load average before: %s, generator %s, %s per scenario, %d connections, telemetry %s\n",
		time.Now().Format(time.RFC3339), runtime.NumCPU(), load1, o.gen, o.duration, o.conns, o.telemetry.Name)

	var results []outcome
	failed := false
	for i, cr := range plan() {
		var todo []scenario
		for _, s := range cr.scenarios {
			if o.scenarios["all"] || o.scenarios[s.name] {
				todo = append(todo, s)
			}
		}
		if len(todo) == 0 {
			continue
		}
		out, err := runConfig(ctx, o, filepath.Join(workDir, fmt.Sprintf("run%d", i)), profDir, cr, todo)
		results = append(results, out...)
		if err != nil {
			fmt.Fprintf(os.Stderr, "load: %s: %v\n", cr.label, err)
			failed = true
			break
		}
	}
	for _, r := range results {
		if r.Error != "" || len(r.Checks) > 0 || r.Failed > 0 {
			failed = true
		}
	}
	load2, _ := loadAverage()
	fmt.Printf("\nload average after: %s; whole run %s\n\n", load2, time.Since(start).Round(time.Second))
	table := renderTable(results)
	fmt.Print(table)
	for _, r := range results {
		for _, c := range r.Checks {
			fmt.Printf("CHECK FAILED %s/%s: %s\n", r.Config, r.Scenario, c)
		}
		if r.Error != "" {
			fmt.Printf("ERROR %s/%s: %s\n", r.Config, r.Scenario, r.Error)
		}
	}
	for _, r := range results {
		if r.Profile != "" {
			fmt.Printf("\nCPU profile of %s/%s (top by flat time):\n%s\n", r.Config, r.Scenario, r.Profile)
		}
	}
	if o.outDir != "" {
		raw, _ := json.MarshalIndent(map[string]any{
			"date": time.Now().Format(time.RFC3339), "cpus": runtime.NumCPU(), "load_average_before": load1,
			"load_average_after": load2, "generator": o.gen, "telemetry": o.telemetry.Name, "duration_s": o.duration.Seconds(), "connections": o.conns,
			"results": results,
		}, "", "  ")
		_ = os.WriteFile(filepath.Join(o.outDir, "results.json"), raw, 0o644)
		_ = os.WriteFile(filepath.Join(o.outDir, "results.md"), []byte(table), 0o644)
		fmt.Printf("\nresults in %s\n", o.outDir)
	}
	if failed {
		fmt.Println("\nload: FAILED (errors or metric checks above)")
		return 1
	}
	return 0
}

// runConfig starts Caddy with one configuration, measures its scenarios and
// stops it.
func runConfig(ctx context.Context, o options, dir, profDir string, cr configRun, todo []scenario) ([]outcome, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	site, admin, err := twoPorts()
	if err != nil {
		return nil, err
	}
	fastPassword := randomSecret()
	fastHash, err := bcrypt.GenerateFromPassword([]byte(fastPassword), 4)
	if err != nil {
		return nil, err
	}
	cfg := siteConfig{SitePort: site, AdminPort: admin, StorageDir: filepath.Join(dir, "oidc"), SigningKey: cr.signingKey, FastUserHash: string(fastHash), Telemetry: o.telemetry}
	var sink *otlpSink
	var extraEnv []string
	if o.telemetry.exportsOTLP() {
		if sink, err = startOTLPSink(); err != nil {
			return nil, err
		}
		defer sink.close()
		extraEnv = o.telemetry.env(sink.url)
	}
	var srv *server
	if o.postgresAdminDSN != "" {
		dsn, drop, err := createDatabase(ctx, o.postgresAdminDSN)
		if err != nil {
			return nil, err
		}
		defer drop()
		cfg.Postgres = true
		extraEnv = append(extraEnv, "LOAD_DATABASE_URL="+dsn, "LOAD_KEY_ENCRYPTION_SECRET="+randomSecret())
		srv, err = startScaleOut(ctx, o.caddyBin, dir, cfg, o.instances, extraEnv...)
		if err != nil {
			return nil, err
		}
		cfg = srv.cfg
	} else if srv, err = startCaddy(ctx, o.caddyBin, dir, cfg, extraEnv...); err != nil {
		return nil, err
	}
	var out []outcome
	// final is the last scrape, after every scenario: the events and
	// requests the exported telemetry should account for.
	var final metrics
	defer func() {
		srv.stop()
		// Caddy flushes its span and log batches on a graceful stop, so
		// the sink has everything that was not dropped.
		if sink != nil && final != nil {
			c := sink.counts()
			ev := int64(final.sum("oidc_provider_events_total"))
			reqs := int64(final.sum("caddy_http_requests_total"))
			for i := range out {
				out[i].OTLP, out[i].Events, out[i].SiteRequests = &c, ev, reqs
			}
			fmt.Printf("  telemetry %s: provider events %d, site requests %d; OTLP received: request spans %d, event spans %d, span events %d, log records %d, bad requests %d\n",
				o.telemetry.Name, ev, reqs, c.RequestSpans, c.EventSpans, c.SpanEvents, c.LogRecords, c.BadRequests)
			// More received than counted is requests in flight at the
			// final scrape; fewer is what the exporters dropped.
			missing := func(want, got int64) int64 { return max(0, want-got) }
			var events, logs int64
			if o.telemetry.Tracing {
				events = missing(ev, c.EventSpans+c.SpanEvents)
			}
			if o.telemetry.LogExporter == "otlp" {
				logs = missing(ev, c.LogRecords)
			}
			if o.telemetry.Tracing && !o.telemetry.NoHTTPMetrics || events > 0 || logs > 0 {
				fmt.Printf("  telemetry %s: missing at the sink: request spans %d, event spans/span events %d, log records %d\n",
					o.telemetry.Name, missing(reqs, c.RequestSpans), events, logs)
			}
		}
		if o.outDir != "" {
			name := "caddy-" + strings.Fields(cr.label)[0] + ".log"
			_ = os.WriteFile(filepath.Join(o.outDir, name), []byte(srv.logText()), 0o644)
		}
		// Caddy's errors (its log is JSON lines), so a failed check comes
		// with its cause.
		n := 0
		for _, line := range strings.Split(srv.logText(), "\n") {
			if strings.Contains(line, `"level":"error"`) {
				if n < 20 {
					fmt.Printf("  caddy %s: %s\n", cr.label, line)
				}
				n++
			}
		}
		if n > 20 {
			fmt.Printf("  caddy %s: ... %d more errors\n", cr.label, n-20)
		}
	}()

	e := &env{o: o, srv: srv, machineKey: basicAuth(clientMachine, srv.machineSecret), fastPassword: fastPassword}
	e.flows = &flowDriver{cfg: cfg, secret: srv.webSecret, transport: newTransport(max(o.flowFull, o.flowSilent))}
	defer e.flows.transport.CloseIdleConnections()
	if err := e.prepare(ctx); err != nil {
		return nil, fmt.Errorf("preparing tokens: %w\n%s", err, srv.logText())
	}
	if o.warmup > 0 {
		_, _ = runGoLoad(ctx, 4, o.warmup, request{Method: http.MethodPost, URL: cfg.Issuer() + "/token",
			Body: "grant_type=client_credentials", Authorization: e.machineKey})
	}

	for _, s := range todo {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		if srv.exited() {
			return out, fmt.Errorf("caddy exited during the run:\n%s", srv.logText())
		}
		oc := measure(ctx, e, profDir, cr, s)
		fmt.Printf("  %-20s %-20s %9.1f %s/s  p50 %7.2f ms  p99 %7.2f ms  failed %d  in Caddy %.3f ms/req  cores: caddy %.2f, proxy %.2f, database %.2f, generator %.2f, other %.2f\n",
			cr.label, s.name, oc.Rate, s.unit, oc.P50ms, oc.P99ms, oc.Failed, oc.ServerMeanMs, oc.CaddyCores, oc.ProxyCores, oc.DatabaseCores, oc.GenCores, oc.OtherCores)
		oc.Telemetry = o.telemetry.Name
		out = append(out, oc)
	}
	if m, err := srv.scrape(ctx); err == nil {
		final = m
	}
	if srv.exited() {
		return out, fmt.Errorf("caddy exited during the run:\n%s", srv.logText())
	}
	return out, nil
}

func twoPorts() (int, int, error) {
	for range 5 {
		a, err := caddyproc.FreePort()
		if err != nil {
			return 0, 0, err
		}
		b, err := caddyproc.FreePort()
		if err != nil {
			return 0, 0, err
		}
		if a != b {
			return a, b, nil
		}
	}
	return 0, 0, errors.New("no two free loopback ports")
}

// prepare obtains an opaque client_credentials token (for introspection)
// and, through one full code flow, an opaque access token of the demo user
// (for userinfo).
func (e *env) prepare(ctx context.Context) error {
	b := e.flows.newBrowser(demoUser)
	resp, raw, err := b.do(ctx, http.MethodPost, e.srv.cfg.Issuer()+"/token", "grant_type=client_credentials&scope=read", e.machineKey)
	if err != nil {
		return err
	}
	var t struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &t) != nil || t.AccessToken == "" {
		return fmt.Errorf("client_credentials: %s: %.200s", resp.Status, raw)
	}
	e.ccToken = t.AccessToken
	tok, err := b.codeFlow(ctx, 2)
	if err != nil {
		return err
	}
	e.userToken = tok.AccessToken
	return nil
}

// measure runs one scenario between two scrapes of /metrics and two
// readings of Caddy's CPU time, with a CPU profile when asked.
func measure(ctx context.Context, e *env, profDir string, cr configRun, s scenario) outcome {
	oc := outcome{Config: cr.label, Scenario: s.name, Title: s.title, Unit: s.unit, Generator: e.o.gen, Reference: s.ref, Ceiling: s.ceiling}
	if s.unit == "flow" {
		oc.Generator = "go flow driver"
	}
	if s.setup != nil {
		if err := s.setup(ctx, e); err != nil {
			oc.Error = err.Error()
			return oc
		}
	}
	before, err := e.srv.scrape(ctx)
	if err != nil {
		oc.Error = err.Error()
		return oc
	}
	logStart := e.srv.logMark()
	cpu0, _ := e.srv.cpuTime()
	proxy0, _ := e.srv.proxyCPUTime()
	db0 := databaseCPUTime()
	busy0, _ := cpustat.MachineBusy()
	wall0 := time.Now()

	var wg sync.WaitGroup
	var profErr error
	var goroutineSummary string
	profPath := ""
	if e.o.profile["all"] || e.o.profile[s.name] {
		profPath = filepath.Join(profDir, fmt.Sprintf("cpu-%s-%s.pprof", strings.Fields(cr.label)[0], s.name))
		seconds := max(1, int(e.o.duration.Seconds())-1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Start once the load has ramped up.
			select {
			case <-time.After(500 * time.Millisecond):
			case <-ctx.Done():
				return
			}
			profErr = e.srv.cpuProfile(ctx, seconds, profPath)
		}()
		// A goroutine dump every second: where the requests wait, which
		// a CPU profile does not show (a poor man's wall-clock profile).
		wg.Add(1)
		go func() {
			defer wg.Done()
			gPath := strings.TrimSuffix(profPath, ".pprof") + ".goroutines.txt"
			var dumps []string
			for t := time.Second; t < e.o.duration-500*time.Millisecond; t += time.Second {
				select {
				case <-time.After(time.Until(wall0.Add(t))):
				case <-ctx.Done():
					return
				}
				if raw, err := e.srv.goroutines(ctx); err == nil {
					dumps = append(dumps, raw)
				}
			}
			if len(dumps) > 0 {
				_ = os.WriteFile(gPath, []byte(strings.Join(dumps, "\n\n")), 0o644)
				goroutineSummary = summarizeGoroutines(dumps, 10) + "goroutine dumps: " + gPath + "\n"
			}
		}()
	}
	res, runErr := s.run(ctx, e)
	wg.Wait()
	cpu1, _ := e.srv.cpuTime()
	proxy1, _ := e.srv.proxyCPUTime()
	db1 := databaseCPUTime()
	busy1, _ := cpustat.MachineBusy()
	wall := time.Since(wall0)
	after, err := e.srv.scrape(ctx)
	if runErr != nil {
		oc.Error = runErr.Error()
	}
	if err != nil && oc.Error == "" {
		oc.Error = err.Error()
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	oc.Completed, oc.Seconds, oc.Rate = res.Completed, res.Elapsed.Seconds(), res.rate()
	oc.P50ms, oc.P90ms, oc.P99ms, oc.MaxMs = ms(res.P50), ms(res.P90), ms(res.P99), ms(res.Max)
	oc.Failed = res.Failed
	oc.HTTPRequests = res.HTTPRequests
	oc.Storage, oc.Instances = "badger", 1
	if e.o.postgresAdminDSN != "" {
		oc.Storage, oc.Instances = "postgres", e.o.instances
	}
	if wall > 0 {
		oc.ProxyCores = (proxy1 - proxy0).Seconds() / wall.Seconds()
		oc.DatabaseCores = (db1 - db0).Seconds() / wall.Seconds()
	}
	if wall > 0 && cpu1 > cpu0 {
		oc.CaddyCores = (cpu1 - cpu0).Seconds() / wall.Seconds()
		oc.PerCore = float64(res.Completed) / (cpu1 - cpu0).Seconds()
	}
	if res.GeneratorCPU > 0 && res.Elapsed > 0 {
		oc.GenCores = res.GeneratorCPU.Seconds() / res.Elapsed.Seconds()
	}
	if wall > 0 && busy1 > busy0 {
		oc.MachineCores = (busy1 - busy0).Seconds() / wall.Seconds()
		// What neither Caddy nor the generator used: other processes, and
		// kernel work not charged to either.
		oc.OtherCores = max(0, oc.MachineCores-oc.CaddyCores-oc.ProxyCores-oc.DatabaseCores-oc.GenCores)
	}
	// A request in flight when the generator stops has its connection
	// closed under it; the provider then answers 500 and counts a
	// server_error ("context canceled"). Those are the generator's doing,
	// and are reported, not failed.
	oc.AbortedAtStop = abortedRequests(e.srv.logSince(logStart))
	if err == nil && before != nil {
		// Caddy's own view of the time a request took, from its first
		// byte read to the handler's return: what the generator's latency
		// adds to is queueing and the generator itself.
		n := after.sum("caddy_http_request_duration_seconds_count") - before.sum("caddy_http_request_duration_seconds_count")
		if n > 0 {
			oc.ServerMeanMs = (after.sum("caddy_http_request_duration_seconds_sum") - before.sum("caddy_http_request_duration_seconds_sum")) / n * 1000
		}
		d := delta{before: before, after: after, aborted: oc.AbortedAtStop, noHTTPMetrics: e.o.telemetry.NoHTTPMetrics}
		for _, c := range s.expect(d, res, int64(e.o.conns)) {
			if !c.ok {
				oc.Checks = append(oc.Checks, c.detail)
			}
		}
		for _, c := range d.always() {
			if !c.ok {
				oc.Checks = append(oc.Checks, c.detail)
			}
		}
	}
	if profPath != "" {
		if profErr != nil {
			oc.Profile = "profile failed: " + profErr.Error()
		} else {
			oc.Profile = topFunctions(ctx, e.o.caddyBin, profPath)
		}
		oc.Profile += goroutineSummary
	}
	return oc
}

// topFunctions summarises a CPU profile with `go tool pprof -top`.
func topFunctions(ctx context.Context, bin, path string) string {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var b strings.Builder
	for _, args := range [][]string{
		{"tool", "pprof", "-top", "-nodecount=25", bin, path},
		{"tool", "pprof", "-top", "-cum", "-nodecount=40", bin, path},
	} {
		out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
		if err != nil {
			return fmt.Sprintf("go tool pprof: %v\n%s", err, out)
		}
		b.Write(out)
		b.WriteString("\n")
	}
	b.WriteString("profile: " + path + "\n")
	return b.String()
}

// summarizeGoroutines reads goroutine dumps (debug=1: "N @ addrs" then
// "#\taddr\tfunc+off\tfile:line" frames per group) and lists the stacks
// with the most goroutines on average, by their innermost non-runtime
// frames.
func summarizeGoroutines(dumps []string, top int) string {
	type group struct {
		n     int
		stack string
	}
	counts := map[string]int{}
	for _, dump := range dumps {
		for _, block := range strings.Split(dump, "\n\n") {
			lines := strings.Split(strings.TrimSpace(block), "\n")
			if strings.HasPrefix(lines[0], "goroutine profile:") {
				lines = lines[1:]
			}
			if len(lines) == 0 {
				continue
			}
			var n int
			if _, err := fmt.Sscanf(lines[0], "%d @", &n); err != nil {
				continue
			}
			var frames []string
			for _, l := range lines[1:] {
				f := strings.Fields(l)
				if len(f) < 3 || f[0] != "#" {
					continue
				}
				fn, _, _ := strings.Cut(f[2], "+0x")
				if strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "internal/") || strings.HasPrefix(fn, "net.") {
					continue
				}
				if len(frames) < 7 {
					frames = append(frames, fn)
				}
			}
			stack := strings.Join(frames, " < ")
			if stack == "" {
				stack = "(runtime frames only: running or runnable)"
			}
			counts[stack] += n
		}
	}
	var groups []group
	for stack, n := range counts {
		groups = append(groups, group{n, stack})
	}
	slices.SortFunc(groups, func(a, b group) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return strings.Compare(a.stack, b.stack)
	})
	var b strings.Builder
	fmt.Fprintf(&b, "goroutines by stack, mean of %d dumps during the load:\n", len(dumps))
	for i, g := range groups {
		if i == top {
			break
		}
		fmt.Fprintf(&b, "  %6.1f  %s\n", float64(g.n)/float64(len(dumps)), g.stack)
	}
	return b.String()
}

// check is one comparison of Caddy's counters with what was sent.
type check struct {
	ok     bool
	detail string
}

// delta compares two scrapes; aborted is how many server errors the
// generator's stop caused in between.
type delta struct {
	before, after metrics
	aborted       int64
	// noHTTPMetrics: Caddy's HTTP metrics are off (-telemetry off), so
	// the response counts cannot be checked.
	noHTTPMetrics bool
}

// abortedRequests counts the provider's logged internal errors caused by a
// cancelled request context.
func abortedRequests(log string) int64 {
	var n int64
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `"event":"server_error"`) && strings.Contains(line, `"error":"context canceled"`) {
			n++
		}
	}
	return n
}

func (d delta) event(name string) int64 {
	return int64(d.after.event(name) - d.before.event(name))
}

// between checks that an event counter moved by lo..hi.
func (d delta) between(event string, lo, hi int64) check {
	got := d.event(event)
	return check{ok: got >= lo && got <= hi, detail: fmt.Sprintf("oidc_provider_events_total{event=%q} moved by %d, want %d..%d", event, got, lo, hi)}
}

// httpOnly checks the site's responses during a single-request scenario:
// all 2xx, as many as the generator counted (plus those in flight when it
// stopped).
func (d delta) httpOnly(n, slack int64) []check {
	if d.noHTTPMetrics {
		return nil
	}
	b, a := d.before.httpByClass(), d.after.httpByClass()
	ok2 := int64(a["2xx"] - b["2xx"])
	other := int64(a["1xx"]+a["3xx"]+a["4xx"]+a["5xx"]) - int64(b["1xx"]+b["3xx"]+b["4xx"]+b["5xx"])
	hi := n + slack
	// The provider answers a request whose client went away (its context
	// cancelled while the store worked) with a 5xx but no server_error
	// event and no log line (provider/respond.go). wrk's stop does that to
	// requests in flight, at most one per connection; behind the front
	// proxy (-postgres) the proxy cancels them upstream, and PostgreSQL
	// calls honour the cancellation. Every other 5xx comes with a
	// server_error event, which d.always() fails on.
	silent := max(0, int64(a["5xx"]-b["5xx"])-d.event("server_error"))
	aborted := d.aborted + min(silent, slack)
	return []check{
		{ok: ok2 >= n && ok2 <= hi, detail: fmt.Sprintf("Caddy counted %d 2xx responses, want %d..%d", ok2, n, hi)},
		{ok: other <= aborted, detail: fmt.Sprintf("Caddy counted %d non-2xx responses (1xx %.0f, 3xx %.0f, 4xx %.0f, 5xx %.0f), want 0 (+%d aborted at the generator's stop)",
			other, a["1xx"]-b["1xx"], a["3xx"]-b["3xx"], a["4xx"]-b["4xx"], a["5xx"]-b["5xx"], aborted)},
	}
}

// statusCheck checks a flow scenario: no 4xx or 5xx, and exactly as many
// 2xx and 3xx responses as requests sent.
func (d delta) statusCheck(sent int64) check {
	if d.noHTTPMetrics {
		return check{ok: true}
	}
	b, a := d.before.httpByClass(), d.after.httpByClass()
	good := int64(a["2xx"]+a["3xx"]) - int64(b["2xx"]+b["3xx"])
	bad := int64(a["4xx"]+a["5xx"]) - int64(b["4xx"]+b["5xx"])
	return check{ok: good == sent && bad == 0, detail: fmt.Sprintf("Caddy counted %d 2xx/3xx and %d 4xx/5xx responses for %d requests sent", good, bad, sent)}
}

// always holds for every scenario: no provider error counted at all.
func (d delta) always() []check {
	errs := int64(d.after.sum("oidc_provider_errors_total") - d.before.sum("oidc_provider_errors_total"))
	return []check{
		{ok: errs == d.aborted, detail: fmt.Sprintf("oidc_provider_errors_total moved by %d, want 0 (+%d aborted at the generator's stop)", errs, d.aborted)},
		d.between("server_error", d.aborted, d.aborted),
	}
}

func loadAverage() (string, error) {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown", err
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown", errors.New("unexpected /proc/loadavg")
	}
	return strings.Join(f[:3], " "), nil
}

// renderTable prints the results as a Markdown table.
func renderTable(results []outcome) string {
	rows := [][]string{{"config", "scenario", "rate/s", "p50 ms", "p90 ms", "p99 ms", "failed", "in Caddy ms/req", "Caddy cores", "gen. cores", "other cores", "per Caddy core", "× reference", "× ceiling/core", "checks"}}
	for _, r := range results {
		ref, ceil := "-", "-"
		if r.Reference > 0 {
			ref = fmt.Sprintf("%.2f (of %.0f)", r.Rate/r.Reference, r.Reference)
		}
		if r.Ceiling > 0 && r.PerCore > 0 {
			ceil = fmt.Sprintf("%.2f (of %.0f)", r.PerCore/r.Ceiling, r.Ceiling)
		}
		status := "ok"
		if len(r.Checks) > 0 || r.Error != "" {
			status = "FAILED"
		}
		if r.AbortedAtStop > 0 {
			status += fmt.Sprintf(" (%d aborted at stop: 500)", r.AbortedAtStop)
		}
		rows = append(rows, []string{r.Config, r.Scenario, fmt.Sprintf("%.1f %s", r.Rate, r.Unit),
			fmt.Sprintf("%.2f", r.P50ms), fmt.Sprintf("%.2f", r.P90ms), fmt.Sprintf("%.2f", r.P99ms),
			fmt.Sprint(r.Failed), fmt.Sprintf("%.3f", r.ServerMeanMs), fmt.Sprintf("%.2f", r.CaddyCores), fmt.Sprintf("%.2f", r.GenCores), fmt.Sprintf("%.2f", r.OtherCores),
			fmt.Sprintf("%.0f", r.PerCore), ref, ceil, status})
	}
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	line := func(row []string) {
		for i, c := range row {
			b.WriteString("| " + c + strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)) + " ")
		}
		b.WriteString("|\n")
	}
	line(rows[0])
	sep := make([]string, len(width))
	for i, w := range width {
		sep[i] = strings.Repeat("-", w)
	}
	line(sep)
	for _, row := range rows[1:] {
		line(row)
	}
	return b.String()
}
