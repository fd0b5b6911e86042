package telemetry

import (
	"strconv"
	"strings"
	"testing"
)

// A deliberately small PromQL reader: enough to find the metric names and
// label matchers in our own rules and dashboard without pulling the whole
// Prometheus module into go.mod. It errs on the side of reporting an
// identifier as a metric name, so a mistake makes the test fail, not pass.

type matcher struct {
	label, op, value string
}

type promqlRefs struct {
	metrics  []string
	matchers []matcher
	// matcherMetric[i] is the metric matchers[i] filters: the name written
	// right before its selector's braces, or "" when there is none.
	matcherMetric []string
}

// Words that are part of the language, not metric names.
var promqlKeywords = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true,
	"stdvar": true, "count": true, "count_values": true, "bottomk": true, "topk": true,
	"quantile": true, "limitk": true, "limit_ratio": true,
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
	"inf": true, "nan": true, "Inf": true, "NaN": true,
}

// Modifiers followed by a parenthesised list of label names.
var promqlLabelListKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

func skipSpace(s string, i int) int {
	for i < len(s) && strings.ContainsRune(" \t\r\n", rune(s[i])) {
		i++
	}
	return i
}

// readString reads a PromQL string literal starting at s[i] and returns its
// value and the index after it.
func readString(s string, i int) (string, int, error) {
	q := s[i]
	j := i + 1
	for j < len(s) && s[j] != q {
		if s[j] == '\\' && q != '`' {
			j++
		}
		j++
	}
	if j >= len(s) {
		return "", j, strconv.ErrSyntax
	}
	lit := s[i : j+1]
	switch q {
	case '`':
		return lit[1 : len(lit)-1], j + 1, nil
	case '\'':
		// Go has no single-quoted strings; PromQL's have the same escapes.
		lit = `"` + strings.ReplaceAll(strings.ReplaceAll(lit[1:len(lit)-1], `"`, `\"`), `\'`, `'`) + `"`
	}
	v, err := strconv.Unquote(lit)
	return v, j + 1, err
}

// parsePromQL extracts metric names and label matchers from expr. Grafana
// variables ($x, ${x}, [[x]]) are skipped as opaque tokens.
func parsePromQL(expr string) (promqlRefs, error) {
	var refs promqlRefs
	s := expr
	lastMetric, lastMetricEnd := "", -1
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			_, j, err := readString(s, i)
			if err != nil {
				return refs, err
			}
			i = j
		case c == '$':
			i++
			if i < len(s) && s[i] == '{' {
				for i < len(s) && s[i] != '}' {
					i++
				}
				i++
			} else {
				for i < len(s) && isIdentChar(s[i]) {
					i++
				}
			}
		case c == '[':
			for i < len(s) && s[i] != ']' {
				i++
			}
			i++
		case c == '{':
			ms, j, err := readMatchers(s, i)
			if err != nil {
				return refs, err
			}
			selMetric := ""
			if lastMetricEnd >= 0 && skipSpace(s, lastMetricEnd) == i {
				selMetric = lastMetric
			}
			for _, m := range ms {
				if m.label == "__name__" && m.op == "=" {
					refs.metrics = append(refs.metrics, m.value)
					selMetric = m.value
				}
			}
			refs.matchers = append(refs.matchers, ms...)
			for range ms {
				refs.matcherMetric = append(refs.matcherMetric, selMetric)
			}
			i = j
		case c >= '0' && c <= '9' || c == '.':
			for i < len(s) && (isIdentChar(s[i]) || s[i] == '.') {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			word := s[i:j]
			next := skipSpace(s, j)
			switch {
			case promqlLabelListKeywords[word]:
				if next < len(s) && s[next] == '(' {
					for next < len(s) && s[next] != ')' {
						next++
					}
					next++
				}
				i = next
				continue
			case promqlKeywords[word]:
			case next < len(s) && s[next] == '(':
				// A function call.
			default:
				refs.metrics = append(refs.metrics, word)
				lastMetric, lastMetricEnd = word, j
			}
			i = j
		default:
			i++
		}
	}
	return refs, nil
}

// readMatchers reads a {label op "value", ...} block starting at s[i].
func readMatchers(s string, i int) ([]matcher, int, error) {
	var ms []matcher
	i++ // {
	for {
		i = skipSpace(s, i)
		if i >= len(s) {
			return nil, i, strconv.ErrSyntax
		}
		if s[i] == '}' {
			return ms, i + 1, nil
		}
		if s[i] == ',' {
			i++
			continue
		}
		j := i
		for j < len(s) && isIdentChar(s[j]) {
			j++
		}
		label := s[i:j]
		j = skipSpace(s, j)
		k := j
		for k < len(s) && strings.ContainsRune("=!~", rune(s[k])) {
			k++
		}
		op := s[j:k]
		k = skipSpace(s, k)
		if label == "" || op == "" || k >= len(s) {
			return nil, k, strconv.ErrSyntax
		}
		v, next, err := readString(s, k)
		if err != nil {
			return nil, next, err
		}
		ms = append(ms, matcher{label: label, op: op, value: v})
		i = next
	}
}

// grafanaQueryExpr returns the PromQL inside a Grafana Prometheus variable
// query: label_values(expr, label) and query_result(expr) wrap one, and
// label_values(label) has none.
func grafanaQueryExpr(q string) string {
	q = strings.TrimSpace(q)
	for _, fn := range []string{"label_values(", "query_result("} {
		if strings.HasPrefix(q, fn) && strings.HasSuffix(q, ")") {
			inner := q[len(fn) : len(q)-1]
			if fn == "label_values(" {
				comma := strings.LastIndex(inner, ",")
				if comma < 0 {
					return "" // label_values(label)
				}
				inner = inner[:comma]
			}
			return inner
		}
	}
	return q
}

func TestParsePromQL(t *testing.T) {
	tests := []struct {
		expr     string
		metrics  []string
		matchers []matcher
	}{
		{`up`, []string{"up"}, nil},
		{`sum by (job, instance) (rate(a_total{event="x.y"}[5m])) > 0.05`, []string{"a_total"}, []matcher{{"event", "=", "x.y"}}},
		{`a / on(event) group_left(error) b offset 5m`, []string{"a", "b"}, nil},
		{`x{event=~"jwks\\.error|discovery\\.error", error!~'a|b'} unless bool 3 * y[1h:5m]`, []string{"x", "y"},
			[]matcher{{"event", "=~", `jwks\.error|discovery\.error`}, {"error", "!~", "a|b"}}},
		{`{__name__="via_name", job=~"$job"}`, []string{"via_name"}, []matcher{{"__name__", "=", "via_name"}, {"job", "=~", "$job"}}},
		{`sum without (instance) (rate(m:recorded[$__rate_interval])) and ${var} > 1e3`, []string{"m:recorded"}, nil},
		{`label_replace(c, "dst", "$1", "src", "(.*)")`, []string{"c"}, nil},
		{`topk(5, sum by (event) (increase(z[$__range])))`, []string{"z"}, nil},
	}
	for _, tt := range tests {
		refs, err := parsePromQL(tt.expr)
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		if strings.Join(refs.metrics, ",") != strings.Join(tt.metrics, ",") {
			t.Errorf("%s: metrics %q, want %q", tt.expr, refs.metrics, tt.metrics)
		}
		if len(tt.matchers) > 0 || len(refs.matchers) > 0 {
			if len(refs.matchers) != len(tt.matchers) {
				t.Errorf("%s: matchers %q, want %q", tt.expr, refs.matchers, tt.matchers)
				continue
			}
			for i := range tt.matchers {
				if refs.matchers[i] != tt.matchers[i] {
					t.Errorf("%s: matcher %d = %q, want %q", tt.expr, i, refs.matchers[i], tt.matchers[i])
				}
			}
		}
	}
	if _, err := parsePromQL(`x{event="unterminated}`); err == nil {
		t.Error("unterminated string accepted")
	}
	for q, want := range map[string]string{
		`label_values(oidc_provider_events_total{job=~"$job"}, instance)`: `oidc_provider_events_total{job=~"$job"}`,
		`label_values(job)`: ``,
		`up`:                `up`,
	} {
		if got := grafanaQueryExpr(q); got != want {
			t.Errorf("grafanaQueryExpr(%q) = %q, want %q", q, got, want)
		}
	}
}
