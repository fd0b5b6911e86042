package telemetry

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Defaults of the event span batcher: the SDK's batch span processor's.
const (
	spanQueueSize   = 2048
	spanBatchSize   = 512
	spanExportEvery = 5 * time.Second
)

const envTracesExporter = "OTEL_TRACES_EXPORTER"

// droppedSpans counts event spans the batcher could not queue because the
// exporter fell behind.
var droppedSpans = prometheus.NewCounter(prometheus.CounterOpts{
	Namespace: metricsNamespace,
	Name:      "telemetry_dropped_spans_total",
	Help:      "Provider event and gate decision spans dropped because the OpenTelemetry span exporter could not keep up.",
})

// spanBatcher is the span processor of the module's own spans: a batcher
// that counts what it drops. Spans not sampled are not exported.
type spanBatcher struct {
	*batcher[sdktrace.ReadOnlySpan]
}

var _ sdktrace.SpanProcessor = spanBatcher{}

func newSpanBatcher(exp sdktrace.SpanExporter, queueSize int, dropped prometheus.Counter) spanBatcher {
	return spanBatcher{newBatcher(batchExporter[sdktrace.ReadOnlySpan]{export: exp.ExportSpans, flush: noRelease, shutdown: exp.Shutdown},
		queueSize, spanBatchSize, spanExportEvery, dropped,
		"oidc_provider: dropping OpenTelemetry spans: the span exporter cannot keep up (counted in oidc_provider_telemetry_dropped_spans_total; logged once)")}
}

// OnStart does nothing: spans are queued when they end.
func (b spanBatcher) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd queues s, or counts it dropped when the queue is full. It never
// blocks a request.
func (b spanBatcher) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.SpanContext().IsSampled() {
		b.offer(s)
	}
}

// tracerProviders are the module's TracerProviders in use, by resolved
// OTEL_TRACES_EXPORTER.
var tracerProviders pipelines[*sdktrace.TracerProvider]

// AcquireTracerProvider returns the process-wide TracerProvider that exports
// the module's own spans (one per event, one per gate decision), creating it
// on first use, and a release function that must be called once when the
// caller no longer needs it; the last release flushes and shuts it down.
//
// Caddy's tracing handler exports its request spans through a batch
// processor of its own that drops spans silently when its queue is full.
// The module's spans are children of those request spans (same trace, the
// request span as parent) but leave through this pipeline, whose batcher
// counts what it drops (oidc_provider_telemetry_dropped_spans_total). The
// exporter is built from the same environment Caddy's tracing reads
// (OTEL_TRACES_EXPORTER, default otlp, and the OTEL_EXPORTER_OTLP_*
// variables), and the resource is the one Caddy's tracing gives its spans:
// the SDK's default (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) and the
// web engine's name and version, so the spans land in the same service. When the exporter is "none" the provider is nil:
// the Sink then starts its spans from the request span's provider.
func AcquireTracerProvider(ctx context.Context, webEngineName, webEngineVersion string) (trace.TracerProvider, func(context.Context) error, error) {
	key := os.Getenv(envTracesExporter)
	if key == "none" {
		return nil, noRelease, nil
	}
	tp, release, err := tracerProviders.acquire(key, func() (*sdktrace.TracerProvider, bool, error) {
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("telemetry: span exporter from %s=%q: %w", envTracesExporter, key, err)
		}
		if autoexport.IsNoneSpanExporter(exp) {
			return nil, false, nil
		}
		res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
			attribute.String("webengine.name", webEngineName), attribute.String("webengine.version", webEngineVersion)))
		if err != nil {
			res = resource.Default() // conflicting schema URLs: keep the default's
		}
		return newTracerProvider(newSpanBatcher(exp, spanQueueSize, droppedSpans), res), true, nil
	})
	if tp == nil {
		// A nil *sdktrace.TracerProvider in the interface would not be nil.
		return nil, release, err
	}
	return tp, release, nil
}

// newTracerProvider is the TracerProvider of the module's spans. The Sink
// starts a span only under a sampled request span, so the parent decides.
func newTracerProvider(p sdktrace.SpanProcessor, res *resource.Resource) *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p), sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
}
