package telemetry

import (
	"context"
	"errors"
	stdlog "log"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// Defaults of the log record batcher: the SDK's batch processor's.
const (
	logQueueSize     = 2048
	logBatchSize     = 512
	logExportEvery   = time.Second
	logExportTimeout = 30 * time.Second
)

// droppedRecords counts log records the batcher could not queue because the
// exporter fell behind. The SDK's own batch processor drops them silently
// (or through OpenTelemetry's global logger, which this module does not
// set), so an operator would not know the log backend misses events.
var droppedRecords = prometheus.NewCounter(prometheus.CounterOpts{
	Namespace: metricsNamespace,
	Name:      "telemetry_dropped_log_records_total",
	Help:      "Provider event log records dropped because the OpenTelemetry log exporter could not keep up.",
})

// logBatcher is a batching log processor that counts what it drops: a
// bounded queue filled without blocking the request, and one goroutine
// exporting batches of up to logBatchSize records at least every
// logExportEvery.
type logBatcher struct {
	exp     sdklog.Exporter
	queue   chan sdklog.Record
	flushes chan chan struct{}
	stop    chan struct{}
	stopped chan struct{}

	dropped  prometheus.Counter
	warnOnce sync.Once
	stopOnce sync.Once
}

var _ sdklog.Processor = (*logBatcher)(nil)

func newLogBatcher(exp sdklog.Exporter, queueSize int, dropped prometheus.Counter) *logBatcher {
	b := &logBatcher{
		exp:     exp,
		queue:   make(chan sdklog.Record, queueSize),
		flushes: make(chan chan struct{}),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
		dropped: dropped,
	}
	go b.run()
	return b
}

// OnEmit queues a copy of r (the SDK reuses r after the call), or counts it
// dropped when the queue is full. It never blocks a request.
func (b *logBatcher) OnEmit(_ context.Context, r *sdklog.Record) error {
	select {
	case <-b.stop:
		return nil
	default:
	}
	select {
	case b.queue <- r.Clone():
	default:
		b.dropped.Inc()
		b.warnOnce.Do(func() {
			// Caddy routes the standard logger into its own log.
			stdlog.Printf("oidc_provider: dropping OpenTelemetry log records: the log exporter cannot keep up (counted in oidc_provider_telemetry_dropped_log_records_total; logged once)")
		})
	}
	return nil
}

// Enabled reports that every record is wanted: filtering by severity is
// the exporter's and the backend's business.
func (b *logBatcher) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }

func (b *logBatcher) run() {
	defer close(b.stopped)
	ticker := time.NewTicker(logExportEvery)
	defer ticker.Stop()
	batch := make([]sdklog.Record, 0, logBatchSize)
	export := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), logExportTimeout)
		_ = b.exp.Export(ctx, batch) // a failed export is the exporter's to report
		cancel()
		clear(batch)
		batch = batch[:0]
	}
	add := func(r sdklog.Record) {
		batch = append(batch, r)
		if len(batch) == logBatchSize {
			export()
		}
	}
	drain := func() {
		for {
			select {
			case r := <-b.queue:
				add(r)
			default:
				export()
				return
			}
		}
	}
	for {
		select {
		case r := <-b.queue:
			add(r)
		case <-ticker.C:
			export()
		case done := <-b.flushes:
			drain()
			close(done)
		case <-b.stop:
			drain()
			return
		}
	}
}

// ForceFlush exports everything queued so far.
func (b *logBatcher) ForceFlush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case b.flushes <- done:
	case <-b.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.exp.ForceFlush(ctx)
}

// Shutdown exports what is queued and shuts the exporter down. Records
// emitted afterwards are ignored.
func (b *logBatcher) Shutdown(ctx context.Context) error {
	var err error
	b.stopOnce.Do(func() {
		close(b.stop)
		select {
		case <-b.stopped:
		case <-ctx.Done():
			err = ctx.Err()
		}
		err = errors.Join(err, b.exp.Shutdown(ctx))
	})
	return err
}

func registerDropped(reg prometheus.Registerer) error {
	if err := reg.Register(droppedRecords); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) && are.ExistingCollector == droppedRecords {
			return nil
		}
		return err
	}
	return nil
}
