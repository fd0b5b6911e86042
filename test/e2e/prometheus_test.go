package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/oauth2"

	"github.com/oidcaddy/oidcaddy/internal/caddyproc"
	"github.com/oidcaddy/oidcaddy/provider"
)

// The shipped alert rules and dashboard, relative to this package.
const (
	promRulesFile     = "../../telemetry/alerts/oidc_provider.rules.yml"
	promDashboardFile = "../../telemetry/dashboards/oidc_provider.json"
	promJob           = "oidcaddy-e2e"
)

// TestPrometheusScrapesCaddyForDashboardAndAlerts runs a real Prometheus
// server against a real Caddy: Prometheus scrapes Caddy's admin /metrics and
// loads the shipped alert rules, the test drives every flow the dashboard
// has a row for, and every PromQL expression of the shipped dashboard and
// rules is executed by Prometheus itself on the series Caddy exported. Then
// it stages incidents (an invalid_client burst, a wrong-password storm, the
// process killed) and waits for the matching alert to become active while
// its look-alikes stay inactive. promtool's unit tests (package telemetry)
// check the rules' thresholds and `for` timing on hand-written series; this
// test proves the real exposition, scrape labels and rule loading agree.
//
// A server_error burst is not staged here: nothing a client sends makes a
// healthy provider fail internally, and the product has no fault switch.
// promtool covers OIDCProviderServerErrors.
func TestPrometheusScrapesCaddyForDashboardAndAlerts(t *testing.T) {
	promBin := findPrometheus(t)
	rulesPath, err := filepath.Abs(promRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	rules := readPromAlertRules(t, rulesPath)
	dash := readGrafanaDashboard(t, promDashboardFile)

	cfg := newSiteConfig(t)
	cfg.ExtraClients = promExtraConfig
	srv := startCaddy(t, cfg)
	target := strings.TrimPrefix(srv.cfg.Admin(), "http://")
	prom := startPrometheus(t, promBin, target, rulesPath)

	// Baseline: Prometheus has scraped the pre-created zero series, so the
	// traffic below is an increase that rate() and increase() can see.
	prom.waitFor("the first scrape of Caddy", func() (bool, string) {
		up, err := prom.query(fmt.Sprintf(`up{job=%q} == 1`, promJob))
		if err != nil || len(up) != 1 {
			return false, fmt.Sprintf("up: %v %v", up, err)
		}
		ev, err := prom.query(fmt.Sprintf(`oidc_provider_events_total{job=%q}`, promJob))
		if err != nil || len(ev) == 0 {
			return false, fmt.Sprintf("oidc_provider_events_total: %d series, %v", len(ev), err)
		}
		return true, ""
	})

	// (1) Every catalogued event is exported at zero before it first
	// happens, and Prometheus keeps a series for each; so is the latency of
	// every endpoint.
	scraped := prom.eventCounts()
	for _, name := range provider.Catalogue {
		if _, ok := scraped[string(name)]; !ok {
			t.Errorf("Prometheus has no oidc_provider_events_total series for catalogued event %q", name)
		}
	}
	if res, err := prom.query(fmt.Sprintf(`count(oidc_provider_request_duration_seconds_count{job=%q})`, promJob)); err != nil || len(res) != 1 || res[0].Value != 14 {
		t.Errorf("oidc_provider_request_duration_seconds_count series: %v %v, want one per endpoint (14)", res, err)
	}

	// Traffic, in two rounds: oidc_provider_errors_total series only appear
	// on first use, so the second round is what rate() sees increase.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	eps := promDiscoverEndpoints(t, srv.cfg.Issuer())
	m := discover(ctx, t, srv.cfg.Issuer())
	round := func() {
		promErrorTraffic(ctx, t, srv, eps)
		promLogin(ctx, t, srv)
		promFlowTraffic(ctx, t, srv, m)
		// A typo: one wrong password, which no alert may mind.
		promPasswordStorm(ctx, t, srv, 1)
	}
	round()
	// Caddy's counters are still when the traffic stops, so Prometheus has
	// scraped all of it once it holds the same numbers.
	var caddyCounts map[string]float64
	waitScraped := func(what string) {
		t.Helper()
		prom.waitFor(what, func() (bool, string) {
			caddyCounts = srv.metrics()
			got := prom.eventCounts()
			for event, want := range caddyCounts {
				if got[event] != want {
					return false, fmt.Sprintf("event %s: Prometheus has %v, Caddy exports %v", event, got[event], want)
				}
			}
			return true, ""
		})
	}
	waitScraped("Prometheus to scrape the first round of traffic")
	round()

	// (2) Prometheus ends up with exactly the counts Caddy exports, and the
	// events the traffic triggered are among them.
	triggered := []string{
		"discovery.error", "jwks.error", "grant.error", "grant.success",
		"authorization.accepted", "authorization.success", "authorization.error",
		"interaction.started", "interaction.ended", "refresh_token.consumed", "client_credentials.saved",
		"device_code.saved", "userinfo.error", "introspection.error", "revocation.error",
		"pushed_authorization_request.success", "pushed_authorization_request.error",
		"registration_create.success", "registration_create.error", "registration_update.success", "registration_delete.success",
		"end_session.success", "end_session.error",
	}
	waitScraped("Prometheus to scrape the counts Caddy exports after the traffic")
	for _, event := range triggered {
		if caddyCounts[event] <= 0 {
			t.Errorf("the traffic did not trigger %s (Caddy exports %v)", event, caddyCounts[event])
		}
	}
	errCounts := map[string]float64{}
	errSeries, err := prom.query(fmt.Sprintf(`oidc_provider_errors_total{job=%q}`, promJob))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range errSeries {
		errCounts[s.Metric["event"]+"/"+s.Metric["error"]] = s.Value
	}
	for _, key := range []string{"grant.error/invalid_client", "authorization.error/login_required", "grant.error/authorization_pending", "authorization.error/access_denied"} {
		if errCounts[key] < 2 {
			t.Errorf("oidc_provider_errors_total %s = %v in Prometheus, want at least 2 (all: %v)", key, errCounts[key], errCounts)
		}
	}
	trafficScraped := time.Now()

	// (4) The dashboard: its variables resolve to this Caddy, and every
	// panel query runs, both with the variables at "All" and with this
	// instance selected, and shows data, or shows none because what it
	// breaks down never happened.
	checkDashboardVariables(t, prom, dash, target)
	instanceVars := map[string]map[string]string{
		"All": {"job": ".*", "instance": ".*"},
		"selected": {
			"job":      grafanaRegexEscape(promJob),
			"instance": grafanaRegexEscape(target),
		},
	}
	isTriggered := map[string]bool{}
	for _, e := range triggered {
		isTriggered[e] = true
	}
	for _, mode := range []string{"All", "selected"} {
		for _, q := range dash.queries {
			expr, err := expandGrafanaVars(q.expr, instanceVars[mode])
			if err != nil {
				t.Errorf("dashboard %s: %v", q.where, err)
				continue
			}
			res, err := prom.query(expr)
			if err != nil {
				t.Errorf("dashboard %s (%s variables): Prometheus rejects\n  %s\n  %v", q.where, mode, expr, err)
				continue
			}
			if len(res) == 0 {
				if why := prom.correctlyEmpty(expr); why != "" {
					t.Logf("dashboard %s (%s variables): no data, correctly: %s", q.where, mode, why)
				} else {
					t.Errorf("dashboard %s (%s variables): no data after real traffic\n  %s", q.where, mode, expr)
				}
				continue
			}
			// A plain rate of events the traffic triggered must show them
			// happening.
			events := promEventMatchers(expr)
			wantPositive := len(events) > 0 && !strings.Contains(expr, " / ") && !strings.Contains(expr, "error")
			for _, ev := range events {
				wantPositive = wantPositive && isTriggered[ev]
			}
			positive := false
			for _, s := range res {
				if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) || s.Value < 0 {
					t.Errorf("dashboard %s (%s variables): value %v %v\n  %s", q.where, mode, s.Value, s.Metric, expr)
				}
				positive = positive || s.Value > 0
			}
			if wantPositive && !positive {
				t.Errorf("dashboard %s (%s variables): %s, want some > 0 after the traffic\n  %s", q.where, mode, promSummary(res), expr)
			}
			t.Logf("dashboard %s (%s variables): %s", q.where, mode, promSummary(res))
		}
	}
	// The breakdown panels name what happened.
	checkDashboardBreakdowns(t, prom, dash, "event", instanceVars["All"], triggered)
	checkDashboardBreakdowns(t, prom, dash, "error", instanceVars["All"], []string{"invalid_client", "login_required", "invalid_grant", "authorization_pending", "invalid_request"})
	checkDashboardBreakdowns(t, prom, dash, "endpoint", instanceVars["All"], []string{"token", "userinfo", "introspection", "revocation", "authorize", "interaction", "par", "registration", "end_session", "device_authorization"})

	// (5) Every alert expression evaluates on the real series; none holds
	// after this traffic, which has errors of every kind but no incident.
	for _, r := range rules {
		res, err := prom.query(r.Expr)
		if err != nil {
			t.Errorf("rule %s: Prometheus rejects its expression: %v\n%s", r.name(), err, r.Expr)
			continue
		}
		t.Logf("rule %s: expression returns %s", r.name(), promSummary(res))
		if r.Alert != "" && len(res) > 0 {
			t.Errorf("alert %s holds after healthy traffic: %s", r.Alert, promSummary(res))
		}
		if r.Record != "" && strings.HasPrefix(r.Record, "oidc_provider:request_slow:") && len(res) != 1 {
			t.Errorf("recording rule %s: %s, want one series for this Caddy", r.Record, promSummary(res))
		}
	}

	// (3) Prometheus loaded the rule file and evaluates every rule without
	// error, on data that includes the traffic; every alert is inactive.
	group := prom.waitRulesEvaluated(rulesPath, trafficScraped.Add(2*time.Second))
	loaded := map[string]promRule{}
	for _, r := range group.Rules {
		loaded[r.Name] = r
		if r.LastError != "" {
			t.Errorf("rule %s: lastError %q", r.Name, r.LastError)
		}
	}
	if len(group.Rules) != len(rules) {
		t.Errorf("Prometheus loaded %d rules, the file has %d", len(group.Rules), len(rules))
	}
	for _, r := range rules {
		lr, ok := loaded[r.name()]
		if !ok {
			t.Errorf("rule %s is not among the rules Prometheus loaded", r.name())
			continue
		}
		if r.Alert != "" && lr.State != "inactive" {
			t.Errorf("alert %s is %q in Prometheus after healthy traffic, want inactive (alerts: %+v)", r.Alert, lr.State, lr.Alerts)
		}
	}
	if t.Failed() {
		return
	}

	// (6) Incidents. Each makes its alert active (pending: the `for` window
	// has begun) while the alerts of its look-alikes stay inactive.
	t.Run("invalid_client burst", func(t *testing.T) {
		promInvalidClientBurst(t, m, 150)
		prom.waitAlertActive(t, rulesPath, "OIDCProviderClientAuthFailures")
		prom.wantInactive(t, rulesPath, "OIDCProviderTokenErrorRatioHigh", "OIDCProviderServerErrors")
	})
	t.Run("wrong-password storm", func(t *testing.T) {
		promPasswordStorm(ctx, t, srv, 300)
		prom.waitAlertActive(t, rulesPath, "OIDCProviderPasswordFailureStorm")
		prom.wantInactive(t, rulesPath, "OIDCProviderSignInFailing", "OIDCProviderNoSuccessfulSignIns", "OIDCProviderServerErrors")
	})
	t.Run("process killed", func(t *testing.T) {
		if err := srv.Cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-srv.Exited()
		prom.waitAlertActive(t, rulesPath, "OIDCProviderDown")
	})
}

// correctlyEmpty explains why a dashboard query may return no data: every
// oidc_provider_errors_total selector in it matches no series at all, since
// an error series appears on the first error of its kind. It returns ""
// when the query should have shown something.
func (p *promServer) correctlyEmpty(expr string) string {
	sels := promErrorSelectorPattern.FindAllString(expr, -1)
	if len(sels) == 0 {
		return ""
	}
	for _, sel := range sels {
		res, err := p.query("count(" + sel + ")")
		if err != nil || len(res) > 0 {
			return ""
		}
	}
	return "no such error happened: " + strings.Join(sels, ", ")
}

var promErrorSelectorPattern = regexp.MustCompile(`oidc_provider_errors_total\{[^}]*\}`)

// waitRulesEvaluated waits until every rule of the file was evaluated
// without error after since, and returns them.
func (p *promServer) waitRulesEvaluated(path string, since time.Time) promRuleGroup {
	p.t.Helper()
	var group promRuleGroup
	p.waitFor("rule evaluations after the traffic was scraped", func() (bool, string) {
		g, err := p.ruleFile(path)
		if err != nil {
			return false, err.Error()
		}
		group = g
		for _, r := range g.Rules {
			if r.Health == "err" {
				p.t.Fatalf("rule %s fails to evaluate in Prometheus: %s", r.Name, r.LastError)
			}
			if r.Health != "ok" || r.LastEvaluation.Before(since) {
				return false, fmt.Sprintf("rule %s: health %q, last evaluated %s", r.Name, r.Health, r.LastEvaluation)
			}
		}
		return true, ""
	})
	return group
}

// waitAlertActive waits until Prometheus holds the alert pending or firing.
func (p *promServer) waitAlertActive(t *testing.T, path, alert string) {
	t.Helper()
	p.waitFor(alert+" to become active", func() (bool, string) {
		g, err := p.ruleFile(path)
		if err != nil {
			return false, err.Error()
		}
		for _, r := range g.Rules {
			if r.Name == alert {
				return r.State == "pending" || r.State == "firing", fmt.Sprintf("state %q", r.State)
			}
		}
		return false, "not loaded"
	})
}

// wantInactive checks that none of the alerts is pending or firing.
func (p *promServer) wantInactive(t *testing.T, path string, alerts ...string) {
	t.Helper()
	g, err := p.ruleFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range g.Rules {
		for _, a := range alerts {
			if r.Name == a && r.State != "inactive" {
				t.Errorf("alert %s is %s: the incident is not its business (alerts: %+v)", a, r.State, r.Alerts)
			}
		}
	}
}

// findPrometheus returns the prometheus binary, or fails the test: a
// missing binary must not pass silently, except where the environment says
// so.
func findPrometheus(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	if os.Getenv("OIDCADDY_SKIP_PROMETHEUS") == "1" {
		t.Skip("prometheus not found; skipped because OIDCADDY_SKIP_PROMETHEUS=1")
	}
	t.Fatal("the prometheus server binary is not on PATH, so the dashboard and alert rules cannot be checked against a real Prometheus. Install it (Debian: apt-get install prometheus) or set OIDCADDY_SKIP_PROMETHEUS=1 to skip")
	return ""
}

// promServer is a Prometheus child process with its own port and storage,
// never the system's service.
type promServer struct {
	t      *testing.T
	url    string
	cmd    *exec.Cmd
	log    *caddyproc.Log
	exited chan struct{}
}

func startPrometheus(t *testing.T, bin, target, rulesPath string) *promServer {
	t.Helper()
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err == nil {
		first, _, _ := strings.Cut(string(out), "\n")
		t.Logf("%s", first)
	}
	dir := t.TempDir()
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: %q
    metrics_path: /metrics
    static_configs:
      - targets: [%q]
`, rulesPath, promJob, target)
	configPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	dataDir := filepath.Join(dir, "data")
	p := &promServer{t: t, url: "http://" + addr, log: &caddyproc.Log{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin,
		"--config.file="+configPath,
		"--storage.tsdb.path="+dataDir,
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), "HOME="+dir)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	// Registered after t.TempDir, so it runs before the directory goes.
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", p.log.String())
		}
	})
	p.waitFor("Prometheus to be ready", func() (bool, string) {
		resp, err := http.Get(p.url + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	// The server answering is this child, not a system service that
	// happened to hold the port.
	var flags map[string]string
	if err := p.apiGet("/api/v1/status/flags", nil, &flags); err != nil {
		t.Fatal(err)
	}
	if flags["storage.tsdb.path"] != dataDir || flags["config.file"] != configPath {
		t.Fatalf("the Prometheus at %s is not the one this test started: storage.tsdb.path %q, config.file %q", addr, flags["storage.tsdb.path"], flags["config.file"])
	}
	return p
}

func (p *promServer) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.t.Errorf("prometheus did not stop within 10s of SIGTERM; killing it")
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// waitFor polls cond for up to 30 s; on timeout the test fails with what
// cond last reported.
func (p *promServer) waitFor(what string, cond func() (bool, string)) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-p.exited:
			p.t.Fatalf("prometheus exited while waiting for %s:\n%s", what, p.log.String())
		default:
		}
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out waiting for %s: %s", what, detail)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// apiGet calls the HTTP API and decodes its data field into out.
func (p *promServer) apiGet(path string, params url.Values, out any) error {
	client := &http.Client{Timeout: 10 * time.Second}
	u := p.url + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	resp, err := client.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Status    string          `json:"status"`
		Data      json.RawMessage `json:"data"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
		Warnings  []string        `json:"warnings"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("%s: %s: %v: %s", path, resp.Status, err, body)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s: %s: %s", path, resp.Status, env.ErrorType, env.Error)
	}
	if len(env.Warnings) > 0 {
		return fmt.Errorf("%s: warnings %q", path, env.Warnings)
	}
	return json.Unmarshal(env.Data, out)
}

type promSample struct {
	Metric map[string]string
	Value  float64
}

// query runs an instant query at the current time.
func (p *promServer) query(expr string) ([]promSample, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.apiGet("/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return nil, err
	}
	parse := func(pair []any) (float64, error) {
		if len(pair) != 2 {
			return 0, fmt.Errorf("sample %v", pair)
		}
		s, _ := pair[1].(string)
		return strconv.ParseFloat(s, 64)
	}
	switch data.ResultType {
	case "vector":
		var vec []struct {
			Metric map[string]string `json:"metric"`
			Value  []any             `json:"value"`
		}
		if err := json.Unmarshal(data.Result, &vec); err != nil {
			return nil, err
		}
		out := make([]promSample, 0, len(vec))
		for _, s := range vec {
			v, err := parse(s.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, promSample{Metric: s.Metric, Value: v})
		}
		return out, nil
	case "scalar":
		var pair []any
		if err := json.Unmarshal(data.Result, &pair); err != nil {
			return nil, err
		}
		v, err := parse(pair)
		return []promSample{{Metric: map[string]string{}, Value: v}}, err
	default:
		return nil, fmt.Errorf("unexpected result type %q for %s", data.ResultType, expr)
	}
}

// eventCounts returns Prometheus' latest oidc_provider_events_total by
// event.
func (p *promServer) eventCounts() map[string]float64 {
	p.t.Helper()
	res, err := p.query(fmt.Sprintf(`oidc_provider_events_total{job=%q}`, promJob))
	if err != nil {
		p.t.Fatal(err)
	}
	out := map[string]float64{}
	for _, s := range res {
		out[s.Metric["event"]] = s.Value
	}
	return out
}

type promRule struct {
	Name           string    `json:"name"`
	Query          string    `json:"query"`
	Type           string    `json:"type"`
	State          string    `json:"state"`
	Health         string    `json:"health"`
	LastError      string    `json:"lastError"`
	LastEvaluation time.Time `json:"lastEvaluation"`
	Alerts         []struct {
		Labels map[string]string `json:"labels"`
		State  string            `json:"state"`
	} `json:"alerts"`
}

type promRuleGroup struct {
	Name  string     `json:"name"`
	File  string     `json:"file"`
	Rules []promRule `json:"rules"`
}

// ruleFile returns the rules of every group Prometheus loaded from path,
// as one group.
func (p *promServer) ruleFile(path string) (promRuleGroup, error) {
	var data struct {
		Groups []promRuleGroup `json:"groups"`
	}
	if err := p.apiGet("/api/v1/rules", nil, &data); err != nil {
		return promRuleGroup{}, err
	}
	all := promRuleGroup{File: path}
	for _, g := range data.Groups {
		if g.File == path {
			all.Name += g.Name + " "
			all.Rules = append(all.Rules, g.Rules...)
		}
	}
	if len(all.Rules) == 0 {
		return all, fmt.Errorf("no rules loaded from %s (%d groups)", path, len(data.Groups))
	}
	return all, nil
}

// promAlertRule is one rule of the file; Record is set for a recording
// rule.
type promAlertRule struct {
	Alert, Record, Expr string
}

func (r promAlertRule) name() string { return r.Alert + r.Record }

func readPromAlertRules(t *testing.T, path string) []promAlertRule {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Name  string
			Rules []promAlertRule
		}
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []promAlertRule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no rules", path)
	}
	return out
}

// grafanaDashboard is what the test uses of the Grafana dashboard JSON.
type grafanaDashboard struct {
	queries []grafanaQuery
	// variables maps a query variable's name to its label_values query.
	variables map[string]string
}

type grafanaQuery struct {
	where, expr string
}

func readGrafanaDashboard(t *testing.T, path string) grafanaDashboard {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string            `json:"title"`
		Panels  []json.RawMessage `json:"panels"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	}
	var d struct {
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out grafanaDashboard
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, r := range ps {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("%s: panel: %v", path, err)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("%s: panel %q target %s has no expr", path, p.Title, tg.RefID)
					continue
				}
				out.queries = append(out.queries, grafanaQuery{fmt.Sprintf("panel %q target %s", p.Title, tg.RefID), tg.Expr})
			}
			walk(p.Panels) // rows hold panels
		}
	}
	walk(d.Panels)
	if len(out.queries) == 0 {
		t.Fatalf("%s: no panel queries", path)
	}
	out.variables = map[string]string{}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q string
		if json.Unmarshal(v.Query, &q) != nil {
			var obj struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				t.Fatalf("%s: variable %s: %v", path, v.Name, err)
			}
			q = obj.Query
		}
		out.variables[v.Name] = q
	}
	return out
}

// checkDashboardVariables runs the job and instance variables' queries the
// way Grafana does (label_values(match, label) is the label values API) and
// expects this Caddy among the answers.
func checkDashboardVariables(t *testing.T, prom *promServer, dash grafanaDashboard, target string) {
	t.Helper()
	want := map[string]string{"job": promJob, "instance": target}
	all := map[string]string{"job": ".*", "instance": ".*"}
	for name, value := range want {
		q, ok := dash.variables[name]
		if !ok {
			t.Errorf("dashboard has no %s variable", name)
			continue
		}
		inner, ok := strings.CutPrefix(strings.TrimSpace(q), "label_values(")
		comma := strings.LastIndex(inner, ",")
		if !ok || !strings.HasSuffix(inner, ")") || comma < 0 {
			t.Errorf("dashboard variable %s: query %q is not label_values(match, label)", name, q)
			continue
		}
		match, err := expandGrafanaVars(strings.TrimSpace(inner[:comma]), all)
		if err != nil {
			t.Errorf("dashboard variable %s: %v", name, err)
			continue
		}
		label := strings.TrimSpace(strings.TrimSuffix(inner[comma+1:], ")"))
		var values []string
		if err := prom.apiGet("/api/v1/label/"+url.PathEscape(label)+"/values", url.Values{"match[]": {match}}, &values); err != nil {
			t.Errorf("dashboard variable %s: %v", name, err)
			continue
		}
		found := false
		for _, v := range values {
			found = found || v == value
		}
		if !found {
			t.Errorf("dashboard variable %s offers %v, want %q among them", name, values, value)
		}
	}
}

// checkDashboardBreakdowns expects the dashboard queries that break down by label
// to show each of want.
func checkDashboardBreakdowns(t *testing.T, prom *promServer, dash grafanaDashboard, label string, vars map[string]string, want []string) {
	t.Helper()
	by := regexp.MustCompile(`by\s*\(([^)]*)\)`)
	seen := map[string]bool{}
	breakdowns := 0
	for _, q := range dash.queries {
		m := by.FindStringSubmatch(q.expr)
		if m == nil || !strings.Contains(m[1], label) {
			continue
		}
		breakdowns++
		expr, err := expandGrafanaVars(q.expr, vars)
		if err != nil {
			continue // reported by the caller's loop
		}
		res, _ := prom.query(expr)
		for _, s := range res {
			seen[s.Metric[label]] = true
		}
	}
	if breakdowns == 0 {
		t.Errorf("no dashboard panel breaks the metrics down by %s", label)
		return
	}
	for _, v := range want {
		if !seen[v] {
			t.Errorf("the dashboard's breakdowns by %s do not show %q after it happened (shown: %v)", label, v, seen)
		}
	}
}

// grafanaBuiltins are the values the test gives Grafana's own variables:
// the 1 s scrape interval makes a 1m rate window ample, and the range is the
// length of this test, rounded up.
var grafanaBuiltins = map[string]string{
	"__rate_interval": "1m",
	"__interval":      "15s",
	"__range":         "5m",
}

var grafanaVarPattern = regexp.MustCompile(`\$\{([A-Za-z_]\w*)(?::[^}]*)?\}|\$([A-Za-z_]\w*)|\[\[([A-Za-z_]\w*)\]\]`)

// expandGrafanaVars replaces the Grafana variables in expr the way Grafana
// does before it sends the query; an unknown variable is an error, as the
// query would reach Prometheus with a literal $.
func expandGrafanaVars(expr string, vars map[string]string) (string, error) {
	var unknown []string
	out := grafanaVarPattern.ReplaceAllStringFunc(expr, func(m string) string {
		sub := grafanaVarPattern.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		if v, ok := grafanaBuiltins[name]; ok {
			return v
		}
		if v, ok := vars[name]; ok {
			return v
		}
		unknown = append(unknown, m)
		return m
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("unknown Grafana variables %v in %s", unknown, expr)
	}
	return out, nil
}

// grafanaRegexEscape is how Grafana writes a selected value of a
// multi-value variable into a =~ matcher: regexp-escaped, then escaped again
// for the PromQL string.
func grafanaRegexEscape(v string) string {
	return strings.ReplaceAll(regexp.QuoteMeta(v), `\`, `\\`)
}

var promEventMatcherPattern = regexp.MustCompile(`event\s*=\s*"([^"]*)"`)

// promEventMatchers returns the events an expression selects with event="...".
func promEventMatchers(expr string) []string {
	var out []string
	for _, m := range promEventMatcherPattern.FindAllStringSubmatch(expr, -1) {
		out = append(out, m[1])
	}
	return out
}

func promLabelValues(res []promSample, label string) []string {
	var out []string
	for _, s := range res {
		out = append(out, s.Metric[label])
	}
	sort.Strings(out)
	return out
}

func promSummary(res []promSample) string {
	if len(res) == 0 {
		return "no series"
	}
	parts := make([]string, 0, len(res))
	for _, s := range res {
		var ls []string
		for k, v := range s.Metric {
			if k != "job" && k != "instance" {
				ls = append(ls, k+"="+v)
			}
		}
		sort.Strings(ls)
		parts = append(parts, fmt.Sprintf("{%s} %.4g", strings.Join(ls, ","), s.Value))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// promEndpoints are the provider URLs the traffic uses, from discovery.
type promEndpoints struct {
	Discovery string
	JWKS      string `json:"jwks_uri"`
	Token     string `json:"token_endpoint"`
}

func promDiscoverEndpoints(t *testing.T, issuer string) promEndpoints {
	t.Helper()
	eps := promEndpoints{Discovery: issuer + "/.well-known/openid-configuration"}
	resp, err := http.Get(eps.Discovery)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&eps); err != nil {
		t.Fatalf("discovery document: %v", err)
	}
	if eps.JWKS == "" || eps.Token == "" {
		t.Fatalf("discovery document lacks jwks_uri or token_endpoint: %+v", eps)
	}
	return eps
}

// promErrorTraffic triggers discovery.error and jwks.error (POST to GET
// endpoints), grant.error with invalid_client (an unknown client), and
// authorization.error with login_required (prompt=none without a session).
func promErrorTraffic(ctx context.Context, t *testing.T, srv *caddyServer, eps promEndpoints) {
	t.Helper()
	for _, u := range []string{eps.Discovery, eps.JWKS} {
		resp, err := http.Post(u, "application/x-www-form-urlencoded", strings.NewReader("x=1"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %s, want 405", u, resp.Status)
		}
	}

	form := url.Values{
		"grant_type":   {"authorization_code"},
		"code":         {"not-a-code"},
		"redirect_uri": {"http://localhost:5556/callback"},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, eps.Token, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("no-such-client", "wrong-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tokErr struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tokErr)
	resp.Body.Close()
	if tokErr.Error != "invalid_client" {
		t.Errorf("token request with an unknown client: %s error %q, want invalid_client", resp.Status, tokErr.Error)
	}

	app := clientSpec{ID: "demo-app", Secret: demoClientSecret, RedirectURI: "http://localhost:5556/callback"}
	rp := newRelyingParty(ctx, t, srv.cfg.Issuer(), app)
	ar := rp.newAuthRequest(oauth2.SetAuthURLParam("prompt", "none"))
	res := newBrowser(t).authorize(ctx, ar.URL, app.RedirectURI, demoUser)
	if res.Error != "login_required" {
		t.Errorf("prompt=none without a session: %+v, want error login_required", res)
	}
}

// promLogin runs one authorization code flow: login, consent, code
// exchange.
func promLogin(ctx context.Context, t *testing.T, srv *caddyServer) {
	t.Helper()
	app := clientSpec{ID: "demo-app", Secret: demoClientSecret, RedirectURI: "http://localhost:5556/callback"}
	rp := newRelyingParty(ctx, t, srv.cfg.Issuer(), app)
	ar := rp.newAuthRequest()
	res := newBrowser(t).authorize(ctx, ar.URL, app.RedirectURI, demoUser)
	if res.Error != "" || res.Code == "" {
		t.Fatalf("login: %+v", res)
	}
	if _, err := rp.conf.Exchange(ctx, res.Code, oauth2.VerifierOption(ar.Verifier)); err != nil {
		t.Fatalf("code exchange: %v", err)
	}
}
