package telemetry

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// Defaults of the log record batcher: the SDK's batch processor's.
const (
	logQueueSize   = 2048
	logBatchSize   = 512
	logExportEvery = time.Second
)

// droppedRecords counts log records the batcher could not queue because the
// exporter fell behind.
var droppedRecords = prometheus.NewCounter(prometheus.CounterOpts{
	Namespace: metricsNamespace,
	Name:      "telemetry_dropped_log_records_total",
	Help:      "Provider event log records dropped because the OpenTelemetry log exporter could not keep up.",
})

// logBatcher is the log processor of the module's records: a batcher that
// counts what it drops.
type logBatcher struct {
	*batcher[sdklog.Record]
}

var _ sdklog.Processor = logBatcher{}

func newLogBatcher(exp sdklog.Exporter, queueSize int, dropped prometheus.Counter) logBatcher {
	return logBatcher{newBatcher(batchExporter[sdklog.Record]{export: exp.Export, flush: exp.ForceFlush, shutdown: exp.Shutdown},
		queueSize, logBatchSize, logExportEvery, dropped,
		"oidc_provider: dropping OpenTelemetry log records: the log exporter cannot keep up (counted in oidc_provider_telemetry_dropped_log_records_total; logged once)")}
}

// OnEmit queues a copy of r (the SDK reuses r after the call), or counts it
// dropped when the queue is full. It never blocks a request.
func (b logBatcher) OnEmit(_ context.Context, r *sdklog.Record) error {
	b.offer(r.Clone())
	return nil
}

// Enabled reports that every record is wanted: filtering by severity is
// the exporter's and the backend's business.
func (b logBatcher) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
