package main

import (
	"fmt"
	"sort"
	"strings"
)

// telemetryMode is one telemetry setting of the Caddy under test, for
// measuring what telemetry costs per request (-telemetry, LOAD_TELEMETRY).
// The module's Prometheus counters cannot be switched off: every mode has
// them.
type telemetryMode struct {
	Name, Title string
	// NoHTTPMetrics leaves out Caddy's global `metrics` option (its
	// per-request HTTP metrics); the harness's HTTP status checks then
	// have nothing to read and are skipped.
	NoHTTPMetrics bool
	// Tracing puts Caddy's `tracing` directive on the site; its spans go
	// to the driver's loopback OTLP sink.
	Tracing bool
	// SpanEvents is the module's span_events option: events as span
	// events on the request span instead of spans of their own.
	SpanEvents bool
	// LogExporter is the module's log_exporter ("" leaves it out: off,
	// since the Caddy process gets no OTEL_LOGS_EXPORTER).
	LogExporter string
}

var telemetryModes = map[string]telemetryMode{
	"off": {Title: "no Caddy metrics, no tracing, no log records (module counters stay)",
		NoHTTPMetrics: true, LogExporter: "none"},
	"metrics": {Title: "Caddy metrics + module counters (the harness default)"},
	"tracing": {Title: "Caddy tracing; module events as span events (span_events), no log records",
		Tracing: true, SpanEvents: true, LogExporter: "none"},
	"tracing-spans": {Title: "Caddy tracing + a span per event (module default), no log records",
		Tracing: true, LogExporter: "none"},
	"tracing-spans-logs": {Title: "Caddy tracing + a span per event + a log record per event (OTLP)",
		Tracing: true, LogExporter: "otlp"},
	"tracing-span-events-logs": {Title: "Caddy tracing + span_events + a log record per event (OTLP)",
		Tracing: true, SpanEvents: true, LogExporter: "otlp"},
}

func lookupTelemetry(name string) (telemetryMode, error) {
	m, ok := telemetryModes[name]
	if !ok {
		var names []string
		for n := range telemetryModes {
			names = append(names, n)
		}
		sort.Strings(names)
		return m, fmt.Errorf("no telemetry mode %q (one of %s)", name, strings.Join(names, ", "))
	}
	m.Name = name
	return m, nil
}

// exportsOTLP reports whether Caddy exports anything to the OTLP sink.
func (m telemetryMode) exportsOTLP() bool { return m.Tracing || m.LogExporter == "otlp" }

// env is the OpenTelemetry environment of the Caddy process: OTLP over
// HTTP/protobuf to the sink on loopback.
func (m telemetryMode) env(sinkURL string) []string {
	if !m.exportsOTLP() {
		return nil
	}
	env := []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + sinkURL,
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_TRACES_EXPORTER=otlp",
	}
	if m.LogExporter == "otlp" {
		env = append(env, "OTEL_LOGS_EXPORTER=otlp")
	}
	return env
}
