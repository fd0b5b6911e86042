package telemetry

import (
	"context"
	"testing"

	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

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
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(discardLogs{}))
	b.Cleanup(func() { _ = lp.Shutdown(context.Background()) })

	cases := []struct {
		name    string
		event   provider.Event
		sampler sdktrace.Sampler // nil: no span in the context
		logs    bool
	}{
		{"no-tracing-no-logger", success, nil, false},
		{"no-tracing-no-logger-error", failure, nil, false},
		{"unsampled-request-span", success, sdktrace.NeverSample(), false},
		{"recording-span", success, sdktrace.AlwaysSample(), false},
		{"recording-span-error", failure, sdktrace.AlwaysSample(), false},
		{"no-tracing-logger", success, nil, true},
		{"recording-span-and-logger", success, sdktrace.AlwaysSample(), true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			if c.sampler != nil {
				ctx = benchRequestCtx(b, c.sampler)
			}
			var opts Options
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
