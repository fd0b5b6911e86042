package telemetry

import (
	"context"
	"sync"
	"testing"

	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// logRecorder is an sdklog.Exporter that keeps every record in memory. With
// a SimpleProcessor it sees each record synchronously inside Emit.
type logRecorder struct {
	mu      sync.Mutex
	records []sdklog.Record
}

func (r *logRecorder) Export(_ context.Context, recs []sdklog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range recs {
		r.records = append(r.records, rec.Clone())
	}
	return nil
}

func (r *logRecorder) Shutdown(context.Context) error   { return nil }
func (r *logRecorder) ForceFlush(context.Context) error { return nil }

func (r *logRecorder) all() []sdklog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sdklog.Record(nil), r.records...)
}

// harness wires a Sink with fresh metrics to an in-memory span exporter and
// log recorder, and holds a recording "request" span standing in for the one
// Caddy's tracing handler puts in the request context.
type harness struct {
	sink     *Sink
	m        *metrics
	spans    *tracetest.InMemoryExporter
	logs     *logRecorder
	reqCtx   context.Context
	reqSpan  trace.Span
	provider *sdktrace.TracerProvider
}

func newHarness(t testing.TB, sampler sdktrace.Sampler) *harness {
	t.Helper()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans), sdktrace.WithSampler(sampler))
	logs := &logRecorder{}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(logs)))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = lp.Shutdown(context.Background())
	})
	m := newMetrics()
	ctx, span := tp.Tracer("caddy-test").Start(context.Background(), "request")
	return &harness{
		sink:     newSink(Options{LoggerProvider: lp}, m),
		m:        m,
		spans:    spans,
		logs:     logs,
		reqCtx:   ctx,
		reqSpan:  span,
		provider: tp,
	}
}

// eventSpans returns the exported spans other than the request span.
func (h *harness) eventSpans() tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, s := range h.spans.GetSpans() {
		if s.Name != "request" {
			out = append(out, s)
		}
	}
	return out
}
