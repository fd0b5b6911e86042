package telemetry

import (
	"bytes"
	"context"
	stdlog "log"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// stallingExporter blocks its first export until released, standing in for
// a collector that stopped answering. It is a log record exporter and a
// span exporter; it keeps the record bodies and span names it exported.
type stallingExporter struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once

	mu       sync.Mutex
	exported []string
}

func newStallingExporter() *stallingExporter {
	return &stallingExporter{started: make(chan struct{}), release: make(chan struct{})}
}

func (e *stallingExporter) take(names ...string) {
	e.once.Do(func() {
		close(e.started)
		<-e.release
	})
	e.mu.Lock()
	defer e.mu.Unlock()
	e.exported = append(e.exported, names...)
}

func (e *stallingExporter) Export(_ context.Context, recs []sdklog.Record) error {
	for _, r := range recs {
		e.take(r.Body().AsString())
	}
	return nil
}

func (e *stallingExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	for _, s := range spans {
		e.take(s.Name())
	}
	return nil
}
func (e *stallingExporter) Shutdown(context.Context) error   { return nil }
func (e *stallingExporter) ForceFlush(context.Context) error { return nil }

func droppedValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// With the exporter stalled, a full queue drops log records and spans
// without blocking the caller, counts each one, and says so once in the
// log; what was queued is still exported, and nothing after shutdown.
func TestBatchersCountWhatTheyDropAndWarnOnce(t *testing.T) {
	for _, kind := range []string{"log records", "spans"} {
		t.Run(kind, func(t *testing.T) {
			var logged bytes.Buffer
			prev := stdlog.Writer()
			stdlog.SetOutput(&logged)
			defer stdlog.SetOutput(prev)

			exp := newStallingExporter()
			dropped := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_dropped_total", Help: "test"})
			var emit func(string)
			var flush, shutdown func(context.Context) error
			if kind == "log records" {
				b := newLogBatcher(exp, 2, dropped)
				lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(b))
				logger := lp.Logger("test")
				emit = func(body string) {
					var r log.Record
					r.SetBody(attribute.StringValue(body))
					logger.Emit(context.Background(), r)
				}
				flush, shutdown = b.ForceFlush, lp.Shutdown
			} else {
				b := newSpanBatcher(exp, 2, dropped)
				tp := newTracerProvider(b, nil)
				tracer := tp.Tracer("test")
				emit = func(name string) {
					_, s := tracer.Start(context.Background(), name)
					s.End()
				}
				flush, shutdown = b.ForceFlush, tp.Shutdown
			}

			// The first export stalls the batcher.
			emit("first")
			flushed := make(chan error, 1)
			go func() { flushed <- flush(context.Background()) }()
			<-exp.started
			for i := 0; i < 10; i++ {
				emit("during-stall")
			}
			if got := droppedValue(t, dropped); got != 8 {
				t.Errorf("dropped %v with a queue of 2 and 10 emitted during the stall, want 8", got)
			}
			if n := strings.Count(logged.String(), "dropping OpenTelemetry "+kind); n != 1 {
				t.Errorf("the drop was logged %d times, want once:\n%s", n, logged.String())
			}

			close(exp.release)
			if err := <-flushed; err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			emit("after-shutdown")
			exp.mu.Lock()
			defer exp.mu.Unlock()
			if got := strings.Join(exp.exported, ","); got != "first,during-stall,during-stall" {
				t.Errorf("exported %q, want the first and the two queued ones", got)
			}
		})
	}
}
