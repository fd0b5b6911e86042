package telemetry

import (
	"context"
	"errors"
	stdlog "log"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// batcher is the batching half of the module's export pipelines (log
// records, event spans) that counts what it drops: a bounded queue filled
// without blocking the request, and one goroutine exporting batches of up
// to batchSize items at least every exportEvery. The SDKs' own batch
// processors drop silently (or through OpenTelemetry's global logger or
// meter provider, which this module does not set), so an operator would not
// know the backend misses events.
type batcher[T any] struct {
	exp         batchExporter[T]
	batchSize   int
	exportEvery time.Duration
	queue       chan T
	flushes     chan chan struct{}
	stop        chan struct{}
	stopped     chan struct{}

	dropped  prometheus.Counter
	warning  string // logged once, at the first drop
	warnOnce sync.Once
	stopOnce sync.Once
}

// batchExporter is what a batcher needs of an SDK exporter.
type batchExporter[T any] struct {
	export   func(context.Context, []T) error
	flush    func(context.Context) error
	shutdown func(context.Context) error
}

// exportTimeout bounds one export call, as the SDKs' batch processors do.
const exportTimeout = 30 * time.Second

func newBatcher[T any](exp batchExporter[T], queueSize, batchSize int, exportEvery time.Duration, dropped prometheus.Counter, warning string) *batcher[T] {
	b := &batcher[T]{
		exp:         exp,
		batchSize:   batchSize,
		exportEvery: exportEvery,
		queue:       make(chan T, queueSize),
		flushes:     make(chan chan struct{}),
		stop:        make(chan struct{}),
		stopped:     make(chan struct{}),
		dropped:     dropped,
		warning:     warning,
	}
	go b.run()
	return b
}

// offer queues v, or counts it dropped when the queue is full. It never
// blocks a request. After Shutdown it ignores v.
func (b *batcher[T]) offer(v T) {
	select {
	case <-b.stop:
		return
	default:
	}
	select {
	case b.queue <- v:
	default:
		b.dropped.Inc()
		// Caddy routes the standard logger into its own log.
		b.warnOnce.Do(func() { stdlog.Print(b.warning) })
	}
}

func (b *batcher[T]) run() {
	defer close(b.stopped)
	ticker := time.NewTicker(b.exportEvery)
	defer ticker.Stop()
	batch := make([]T, 0, b.batchSize)
	export := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), exportTimeout)
		_ = b.exp.export(ctx, batch) // a failed export is the exporter's to report
		cancel()
		clear(batch)
		batch = batch[:0]
	}
	add := func(v T) {
		batch = append(batch, v)
		if len(batch) == b.batchSize {
			export()
		}
	}
	drain := func() {
		for {
			select {
			case v := <-b.queue:
				add(v)
			default:
				export()
				return
			}
		}
	}
	for {
		select {
		case v := <-b.queue:
			add(v)
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
func (b *batcher[T]) ForceFlush(ctx context.Context) error {
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
	return b.exp.flush(ctx)
}

// Shutdown exports what is queued and shuts the exporter down. Items
// offered afterwards are ignored.
func (b *batcher[T]) Shutdown(ctx context.Context) error {
	var err error
	b.stopOnce.Do(func() {
		close(b.stop)
		select {
		case <-b.stopped:
		case <-ctx.Done():
			err = ctx.Err()
		}
		err = errors.Join(err, b.exp.shutdown(ctx))
	})
	return err
}
