package telemetry

import (
	"context"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/oidcaddy/oidcaddy/provider"
)

// discardTransport answers every OTLP export with an empty 200 after
// reading the request body, so the exporters do their real work (OTLP
// transform, protobuf encoding, the HTTP request) and no receiver's CPU is
// counted with the process under test.
type discardTransport struct{}

func (discardTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode:    http.StatusOK,
		Header:        http.Header{"Content-Type": []string{"application/x-protobuf"}},
		Body:          io.NopCloser(strings.NewReader("")),
		ContentLength: 0,
		Request:       r,
	}, nil
}

// processCPU is the CPU time (user + system) of the whole process so far:
// the request path and the batching and export goroutines alike.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEventTelemetry measures the telemetry of one client_credentials
// request (opaque token) as the server pays for it, export included: Caddy's
// request span from a TracerProvider built as Caddy's `tracing` builds it (a
// BatchSpanProcessor in front of the OTLP/HTTP exporter), the request's two
// provider events (client_credentials.saved, grant.success; see
// provider/doc.go) through the real Sink, and in the log modes the module's
// own log pipeline (logBatcher in front of the OTLP/HTTP log exporter). Both
// exporters post to a transport that discards the body.
//
// cpu-ns/op is the process's CPU time (getrusage) per request, including
// the batching and export goroutines and the garbage collector; ns/op alone
// misses work done on the other core. Each run ends with a flush of both
// pipelines inside the timed part, so every span and record made is also
// exported. The span processor blocks instead of dropping when its queue is
// full, and the loop waits (without CPU) when the log batcher's queue is
// half full: a benchmark loop outruns any exporter, and a dropped span or
// record would look cheap. dropped-log/op must stay 0 for a run to count.
//
// "caddy-span" is the baseline: Caddy's tracing with the module counting
// metrics only. docs/performance.md reports the others as ratios to it and
// to "caddy-span+span-events" (the load test's baseline mode 3).
func BenchmarkEventTelemetry(b *testing.B) {
	events := []provider.Event{
		{Name: provider.EventClientCredentialsSaved, ClientID: "api-client"},
		{Name: provider.EventGrantSuccess, ClientID: "api-client"},
	}
	// What otelhttp puts on Caddy's server span, roughly: the request span
	// carries its own attributes to export in every mode.
	requestAttrs := []attribute.KeyValue{
		attribute.String("http.request.method", "POST"),
		attribute.String("url.scheme", "http"),
		attribute.String("server.address", "127.0.0.1"),
		attribute.Int("server.port", 8443),
		attribute.String("network.peer.address", "127.0.0.1"),
		attribute.Int("network.peer.port", 51234),
		attribute.String("user_agent.original", "wrk"),
		attribute.String("network.protocol.version", "1.1"),
		attribute.String("url.path", "/token"),
	}
	client := &http.Client{Transport: discardTransport{}}

	cases := []struct {
		name       string
		moduleSees bool // the sink gets the request span's context
		spanEvents bool
		logs       bool
	}{
		{name: "caddy-span"},
		{name: "caddy-span+span-events", moduleSees: true, spanEvents: true},
		{name: "caddy-span+event-spans", moduleSees: true},
		{name: "caddy-span+event-spans+log-records", moduleSees: true, logs: true},
		{name: "caddy-span+span-events+log-records", moduleSees: true, spanEvents: true, logs: true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			spanExp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint("127.0.0.1:4318"), otlptracehttp.WithInsecure(), otlptracehttp.WithHTTPClient(client))
			if err != nil {
				b.Fatal(err)
			}
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(spanExp, sdktrace.WithBlocking()))
			b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			caddyTracer := tp.Tracer("github.com/caddyserver/caddy/v2/modules/caddyhttp/tracing")

			dropped := prometheus.NewCounter(prometheus.CounterOpts{Name: "bench_dropped"})
			opts := Options{SpanEvents: c.spanEvents}
			var lp *sdklog.LoggerProvider
			var batcher logBatcher
			if c.logs {
				logExp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint("127.0.0.1:4318"), otlploghttp.WithInsecure(), otlploghttp.WithHTTPClient(client))
				if err != nil {
					b.Fatal(err)
				}
				batcher = newLogBatcher(logExp, logQueueSize, dropped)
				lp = newLoggerProvider(batcher)
				b.Cleanup(func() { _ = lp.Shutdown(context.Background()) })
				opts.LoggerProvider = lp
			}
			s := newSink(opts, newMetrics())

			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU(b)
			for i := 0; i < b.N; i++ {
				reqCtx, span := caddyTracer.Start(ctx, "POST /token", trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(requestAttrs...))
				sinkCtx := ctx
				if c.moduleSees {
					sinkCtx = reqCtx
				}
				for j := range events {
					s.Emit(sinkCtx, events[j])
				}
				span.End()
				if batcher.batcher != nil {
					// Pace the loop as a server that is not overloaded:
					// waiting costs no CPU, and the batcher then drops
					// nothing, which would make the records look cheap.
					for len(batcher.queue) > cap(batcher.queue)/2 {
						time.Sleep(100 * time.Microsecond)
					}
				}
			}
			if err := tp.ForceFlush(ctx); err != nil {
				b.Fatal(err)
			}
			if lp != nil {
				if err := lp.ForceFlush(ctx); err != nil {
					b.Fatal(err)
				}
			}
			cpu := processCPU(b) - cpu0
			b.StopTimer()
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			b.ReportMetric(counterValue(b, dropped)/float64(b.N), "dropped-log/op")
		})
	}
}
