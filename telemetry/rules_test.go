package telemetry

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/oidcaddy/oidcaddy/provider"
)

const (
	rulesFile     = "alerts/oidc_provider.rules.yml"
	rulesTestFile = "alerts/oidc_provider.rules.test.yml"
	dashboardFile = "dashboards/oidc_provider.json"
)

// capturingRegisterer records what RegisterMetrics hands to a registry, so
// the test checks the names the package really registers.
type capturingRegisterer struct {
	prometheus.Registerer
	collectors []prometheus.Collector
}

func (c *capturingRegisterer) Register(col prometheus.Collector) error {
	c.collectors = append(c.collectors, col)
	return c.Registerer.Register(col)
}

var descPattern = regexp.MustCompile(`fqName: ("(?:[^"\\]|\\.)*"),.*variableLabels: \{([^}]*)\}`)

// registeredMetrics returns metric name -> variable label names, read from
// the descriptors of the collectors RegisterMetrics registers.
func registeredMetrics(t *testing.T) map[string][]string {
	t.Helper()
	reg := &capturingRegisterer{Registerer: prometheus.NewRegistry()}
	if err := RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, col := range reg.collectors {
		ch := make(chan *prometheus.Desc, 16)
		go func() { col.Describe(ch); close(ch) }()
		for d := range ch {
			m := descPattern.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("cannot read descriptor %s", d)
			}
			name, err := strconv.Unquote(m[1])
			if err != nil {
				t.Fatal(err)
			}
			labels := strings.Split(m[2], ",")
			if _, ok := col.(*prometheus.HistogramVec); ok {
				// PromQL sees a histogram as three series families.
				out[name+"_bucket"] = append(labels, "le")
				out[name+"_sum"] = labels
				out[name+"_count"] = labels
				continue
			}
			out[name] = labels
		}
	}
	if len(out) < 2 {
		t.Fatalf("found only %v in the registered descriptors", out)
	}
	return out
}

// exprSource is one PromQL expression and where it came from.
type exprSource struct {
	where, expr string
}

func rulesExprs(t *testing.T) []exprSource {
	t.Helper()
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert, Record, Expr string
				For                 string
				Labels, Annotations map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	var out []exprSource
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out = append(out, exprSource{rulesFile + ": " + r.Alert + r.Record, r.Expr})
			if r.Alert != "" {
				if r.Annotations["summary"] == "" || r.Annotations["description"] == "" || r.For == "" {
					t.Errorf("alert %s needs for:, and summary and description annotations", r.Alert)
				}
				checkAlertLinks(t, r.Alert, r.Labels["severity"], r.Annotations)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no rules found")
	}

	// The unit tests' input series must be real series too.
	raw, err = os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	var tf struct {
		Tests []struct {
			Name        string
			InputSeries []struct{ Series string } `yaml:"input_series"`
		}
	}
	if err := yaml.Unmarshal(raw, &tf); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tf.Tests {
		for _, s := range tc.InputSeries {
			out = append(out, exprSource{rulesTestFile + ": " + tc.Name, s.Series})
		}
	}
	return out
}

func dashboardExprs(t *testing.T) []exprSource {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	if v, _ := d["schemaVersion"].(float64); v < 36 {
		t.Errorf("schemaVersion %v, want a current Grafana schema", d["schemaVersion"])
	}
	var out []exprSource
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			title, _ := v["title"].(string)
			if title != "" {
				path += "/" + title
			}
			if e, ok := v["expr"].(string); ok {
				out = append(out, exprSource{dashboardFile + ": " + path, e})
			}
			for k, c := range v {
				walk(path, c)
				if k == "datasource" {
					checkDatasource(t, path, c)
				}
			}
		case []any:
			for _, c := range v {
				walk(path, c)
			}
		}
	}
	walk("", d["panels"])

	tmpl, _ := d["templating"].(map[string]any)
	vars, _ := tmpl["list"].([]any)
	for _, v := range vars {
		v, _ := v.(map[string]any)
		if v["type"] != "query" {
			continue
		}
		q := v["query"]
		if m, ok := q.(map[string]any); ok {
			q = m["query"]
		}
		qs, _ := q.(string)
		if e := grafanaQueryExpr(qs); e != "" {
			out = append(out, exprSource{dashboardFile + ": variable " + v["name"].(string), e})
		}
		checkDatasource(t, "variable "+v["name"].(string), v["datasource"])
	}
	if len(out) == 0 {
		t.Fatal("no expressions found in the dashboard")
	}
	return out
}

// runbookPattern is where an alert's runbook_url must point: the runbook
// shipped for it in docs/runbooks.
var runbookPattern = regexp.MustCompile(`^https://github\.com/oidcaddy/oidcaddy/blob/main/(docs/runbooks/([A-Za-z]+)\.md)$`)

// checkAlertLinks: an operator paged at night gets a severity that says how
// bad it is, a runbook that exists and explains it, and the dashboard.
func checkAlertLinks(t *testing.T, alert, severity string, ann map[string]string) {
	t.Helper()
	if severity != "critical" && severity != "warning" {
		t.Errorf("alert %s: severity %q, want critical (users affected: page) or warning (a trend: ticket)", alert, severity)
	}
	m := runbookPattern.FindStringSubmatch(ann["runbook_url"])
	if m == nil || m[2] != alert {
		t.Errorf("alert %s: runbook_url %q, want .../docs/runbooks/%s.md", alert, ann["runbook_url"], alert)
	} else {
		raw, err := os.ReadFile("../" + m[1])
		if err != nil {
			t.Errorf("alert %s: runbook: %v", alert, err)
		}
		for _, section := range []string{"# " + alert + "\n", "## What it means", "## How to confirm", "## What to do"} {
			if !strings.Contains(string(raw), section) {
				t.Errorf("alert %s: runbook %s lacks %q", alert, m[1], strings.TrimSpace(section))
			}
		}
	}
	var dash struct{ UID string }
	if raw, err := os.ReadFile(dashboardFile); err == nil {
		_ = json.Unmarshal(raw, &dash)
	}
	if dash.UID == "" || !strings.HasPrefix(ann["dashboard_url"], "/d/"+dash.UID+"/") {
		t.Errorf("alert %s: dashboard_url %q does not link the shipped dashboard (uid %q)", alert, ann["dashboard_url"], dash.UID)
	}
}

// TestEveryRunbookBelongsToAnAlert keeps docs/runbooks free of runbooks for
// alerts that no longer exist.
func TestEveryRunbookBelongsToAnAlert(t *testing.T) {
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	files, err := os.ReadDir("../docs/runbooks")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(f.Name(), ".md")
		if !strings.Contains(string(raw), "- alert: "+name+"\n") {
			t.Errorf("docs/runbooks/%s has no alert %s in %s", f.Name(), name, rulesFile)
		}
	}
}

// Every query must use the ${DS_PROMETHEUS} input, or the dashboard breaks
// on import into a Grafana whose data source has another uid.
func checkDatasource(t *testing.T, where string, ds any) {
	t.Helper()
	m, ok := ds.(map[string]any)
	if !ok || m["type"] == "grafana" {
		return
	}
	if m["uid"] != "${DS_PROMETHEUS}" {
		t.Errorf("%s: datasource %v, want uid ${DS_PROMETHEUS}", where, m)
	}
}

// allowedLabelValues returns, per label the package defines, a check that a
// matcher value names something that can exist.
func allowedLabelValues() map[string]map[string]bool {
	events := map[string]bool{}
	for _, n := range provider.Catalogue {
		events[string(n)] = true
	}
	codes := map[string]bool{OtherError: true}
	for _, c := range errorCodes {
		codes[c] = true
	}
	endpoints := map[string]bool{}
	for _, e := range endpointNames {
		endpoints[e] = true
	}
	buckets := map[string]bool{"+Inf": true}
	for _, b := range latencyBuckets {
		buckets[strconv.FormatFloat(b, 'g', -1, 64)] = true
	}
	return map[string]map[string]bool{"event": events, "error": codes, "endpoint": endpoints, "le": buckets}
}

// matcherProblem explains why m cannot match what the package exports, or
// returns "".
func matcherProblem(m matcher, allowed map[string]bool) string {
	if strings.Contains(m.value, "$") {
		return "" // a Grafana variable, resolved from label_values
	}
	switch m.op {
	case "=", "!=":
		if !allowed[m.value] {
			return "no such value"
		}
	case "=~", "!~":
		for _, alt := range splitTopLevelAlternatives(m.value) {
			re, err := regexp.Compile("^(?:" + alt + ")$")
			if err != nil {
				return err.Error()
			}
			hit := false
			for v := range allowed {
				hit = hit || re.MatchString(v)
			}
			if !hit {
				return "alternative " + strconv.Quote(alt) + " matches no value"
			}
		}
	default:
		return "unknown operator"
	}
	return ""
}

// splitTopLevelAlternatives splits a regexp at the | outside any group, so
// each alternative of "a\.error|b\.(x|y)" is checked on its own.
func splitTopLevelAlternatives(re string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(re); i++ {
		switch re[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
		case '|':
			if depth == 0 {
				out = append(out, re[start:i])
				start = i + 1
			}
		}
	}
	return append(out, re[start:])
}

// TestRulesAndDashboardUseOnlyRealMetricsAndEvents keeps the shipped PromQL
// in step with the code: a renamed metric or event fails here, not silently
// in production as an alert that can never fire.
func TestRulesAndDashboardUseOnlyRealMetricsAndEvents(t *testing.T) {
	metrics := registeredMetrics(t)
	allowed := allowedLabelValues()
	// Labels Prometheus adds at scrape time.
	targetLabels := map[string]bool{"job": true, "instance": true, "__name__": true}
	// Series Prometheus itself writes for every target (availability).
	for _, name := range []string{"up", "scrape_samples_scraped"} {
		metrics[name] = nil
	}
	// Series the rule file records for its own alerts.
	for _, name := range recordedNames(t) {
		metrics[name] = []string{"job", "instance"}
	}

	sources := append(rulesExprs(t), dashboardExprs(t)...)
	used := map[string]bool{}
	for _, src := range sources {
		refs, err := parsePromQL(src.expr)
		if err != nil {
			t.Errorf("%s: cannot read %q: %v", src.where, src.expr, err)
			continue
		}
		if len(refs.metrics) == 0 {
			t.Errorf("%s: no metric in %q", src.where, src.expr)
		}
		for _, name := range refs.metrics {
			used[name] = true
			labels, ok := metrics[name]
			if !ok {
				t.Errorf("%s: metric %q is not registered by package telemetry (registered: %v)", src.where, name, keys(metrics))
				continue
			}
			for k, m := range refs.matchers {
				if mm := refs.matcherMetric[k]; mm != "" && mm != name {
					continue // this matcher filters another metric of the expression
				}
				if !targetLabels[m.label] && !contains(labels, m.label) {
					t.Errorf("%s: %s has no label %q", src.where, name, m.label)
				}
			}
		}
		for _, m := range refs.matchers {
			if vals, ok := allowed[m.label]; ok {
				if p := matcherProblem(m, vals); p != "" {
					t.Errorf("%s: matcher %s%s%q: %s", src.where, m.label, m.op, m.value, p)
				}
			}
		}
	}
	for name := range metrics {
		if strings.HasSuffix(name, "_sum") || strings.HasSuffix(name, "_count") || name == "scrape_samples_scraped" {
			continue // a histogram is used through its buckets or count
		}
		if name == "up" && !used[name] {
			t.Errorf("no alert or panel watches up: a process that is down would go unseen")
			continue
		}
		if !used[name] {
			t.Errorf("metric %s is registered but neither alerted on nor graphed", name)
		}
	}
}

// recordedNames lists the series the rule file's recording rules write.
func recordedNames(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct{ Rules []struct{ Record string } }
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				out = append(out, r.Record)
			}
		}
	}
	return out
}

func TestMatcherChecksCatchMistakes(t *testing.T) {
	events := allowedLabelValues()["event"]
	for _, m := range []matcher{
		{"event", "=", "grant.failed"},
		{"event", "=", "uncatalogued"},
		{"event", "=~", `jwks\.error|discovry\.error`},
		{"event", "!=", "token.success"},
	} {
		if matcherProblem(m, events) == "" {
			t.Errorf("matcher %v accepted", m)
		}
	}
	for _, m := range []matcher{
		{"event", "=", "grant.error"},
		{"event", "=~", `authorization\.(accepted|error)`},
		{"event", "=~", `.*\.error`},
		{"event", "=~", "$event"},
	} {
		if p := matcherProblem(m, events); p != "" {
			t.Errorf("matcher %v rejected: %s", m, p)
		}
	}
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestPromtool runs the rules through Prometheus' own checker and the unit
// tests in oidc_provider.rules.test.yml. CI installs the Debian package
// prometheus for promtool.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("OIDCADDY_SKIP_PROMTOOL") == "1" {
			t.Skip("promtool not on PATH; skipped because OIDCADDY_SKIP_PROMTOOL=1")
		}
		t.Fatal("promtool not found on PATH: the alert rules cannot be checked. Install it (Debian: apt-get install prometheus) or set OIDCADDY_SKIP_PROMTOOL=1 to skip")
	}
	for _, args := range [][]string{
		{"check", "rules", "oidc_provider.rules.yml"},
		{"test", "rules", "oidc_provider.rules.test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "alerts" // the test file names its rule file relative to itself
		out, err := cmd.CombinedOutput()
		t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
		if err != nil {
			t.Errorf("promtool %s: %v", strings.Join(args, " "), err)
		}
	}
}
