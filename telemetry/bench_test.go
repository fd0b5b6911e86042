package telemetry

import (
	"context"
	"testing"

	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/oidcaddy/oidcaddy/provider"
)

// discardSpans and discardLogs are processors that drop what they get, so
// benchmarks measure the Sink and the SDK's recording, not an exporter, and
// memory stays flat however long b.Loop runs.
type discardSpans struct{}

func (discardSpans) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (discardSpans) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (discardSpans) Shutdown(context.Context) error                  { return nil }
func (discardSpans) ForceFlush(context.Context) error                { return nil }

type discardLogs struct{}

func (discardLogs) OnEmit(context.Context, *sdklog.Record) error           { return nil }
func (discardLogs) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (discardLogs) Shutdown(context.Context) error                         { return nil }
func (discardLogs) ForceFlush(context.Context) error                       { return nil }

func benchRequestCtx(b *testing.B, sampler sdktrace.Sampler) context.Context {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(discardSpans{}), sdktrace.WithSampler(sampler))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("caddy-bench").Start(context.Background(), "request")
	b.Cleanup(func() { span.End() })
	return ctx
}

// BenchmarkEmit measures the per-event cost on the request path.
func BenchmarkEmit(b *testing.B) {
	success := provider.Event{Name: provider.EventGrantSuccess, ClientID: "app1", GrantID: "g-1"}
	failure := provider.Event{Name: provider.EventGrantError, ClientID: "app1", ErrorCode: "invalid_grant", ErrorDescription: "grant request is invalid"}
	lp := newLoggerProvider(discardLogs{})
	b.Cleanup(func() { _ = lp.Shutdown(context.Background()) })

	cases := []struct {
		name       string
		event      provider.Event
		sampler    sdktrace.Sampler // nil: no span in the context
		logs       bool
		spanEvents bool
	}{
		{"no-tracing-no-logger", success, nil, false, false},
		{"no-tracing-no-logger-error", failure, nil, false, false},
		{"unsampled-request-span", success, sdktrace.NeverSample(), false, false},
		{"recording-span", success, sdktrace.AlwaysSample(), false, false},
		{"recording-span-error", failure, sdktrace.AlwaysSample(), false, false},
		{"no-tracing-logger", success, nil, true, false},
		{"recording-span-and-logger", success, sdktrace.AlwaysSample(), true, false},
		{"span-event-on-request-span", success, sdktrace.AlwaysSample(), false, true},
		{"span-event-on-request-span-and-logger", success, sdktrace.AlwaysSample(), true, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			if c.sampler != nil {
				ctx = benchRequestCtx(b, c.sampler)
			}
			opts := Options{SpanEvents: c.spanEvents}
			if c.logs {
				opts.LoggerProvider = lp
			}
			s := newSink(opts, newMetrics())
			b.ReportAllocs()
			for b.Loop() {
				s.Emit(ctx, c.event)
			}
		})
	}
}

// BenchmarkClientCredentialsRequestTelemetry measures what the telemetry of
// one client_credentials request costs: Caddy's request span (started and
// ended as Caddy's tracing handler does) and the request's two events
// (client_credentials.saved, grant.success), in each mode an operator can
// choose. "caddy-span-only" is the baseline of Caddy's own tracing with the
// module counting metrics only; docs/performance.md gives the others as
// ratios to it.
func BenchmarkClientCredentialsRequestTelemetry(b *testing.B) {
	events := []provider.Event{
		{Name: provider.EventClientCredentialsSaved, ClientID: "api-client"},
		{Name: provider.EventGrantSuccess, ClientID: "api-client"},
	}
	lp := newLoggerProvider(discardLogs{})
	b.Cleanup(func() { _ = lp.Shutdown(context.Background()) })
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(discardSpans{}), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	caddyTracer := tp.Tracer("caddy")

	cases := []struct {
		name           string
		tracing        bool
		opts           Options
		metricsOnlyOff bool
	}{
		{name: "metrics-only", tracing: false},
		{name: "caddy-span-only", tracing: true, metricsOnlyOff: true},
		{name: "caddy-span+event-spans", tracing: true},
		{name: "caddy-span+event-spans+log-records", tracing: true, opts: Options{LoggerProvider: lp}},
		{name: "caddy-span+span-events", tracing: true, opts: Options{SpanEvents: true}},
		{name: "caddy-span+span-events+log-records", tracing: true, opts: Options{SpanEvents: true, LoggerProvider: lp}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := newSink(c.opts, newMetrics())
			b.ReportAllocs()
			for b.Loop() {
				ctx := context.Background()
				var span interface{ End(...trace.SpanEndOption) }
				if c.tracing {
					ctx, span = caddyTracer.Start(ctx, "POST /token", trace.WithSpanKind(trace.SpanKindServer))
				}
				for i := range events {
					if c.metricsOnlyOff {
						// Caddy's tracing alone: the module's sink sees no
						// recording span, as with tracing off.
						s.Emit(context.Background(), events[i])
					} else {
						s.Emit(ctx, events[i])
					}
				}
				if span != nil {
					span.End()
				}
			}
		})
	}
}
