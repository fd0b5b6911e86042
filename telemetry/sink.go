package telemetry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/oidcaddy/oidcaddy/provider"
)

// InstrumentationName names the tracer and logger scope of everything the
// Sink exports.
const InstrumentationName = "github.com/oidcaddy/oidcaddy"

// Attribute keys set on spans and log records. Nothing else is exported
// (apart from the exception.* keys of the span event that span.RecordError
// adds for server_error).
const (
	AttrEvent            = attribute.Key("oidc.event")
	AttrClientID         = attribute.Key("oidc.client_id")
	AttrGrantIDHash      = attribute.Key("oidc.grant_id_hash")
	AttrError            = attribute.Key("oauth.error")
	AttrErrorDescription = attribute.Key("oauth.error_description")
	AttrPrompt           = attribute.Key("oidc.prompt")
	// AttrExceptionMessage carries the Cause of server_error on log records.
	AttrExceptionMessage = attribute.Key("exception.message")
)

// maxAttrs bounds the attributes of one event so they fit one attrBuf.
const maxAttrs = 7

// Options configures a Sink.
type Options struct {
	// LoggerProvider receives one log record per event. Nil disables log
	// records; AcquireLoggerProvider returns nil when log export is off.
	LoggerProvider log.LoggerProvider

	// SpanEvents records each event as a span event on the request span
	// instead of as a child span of its own: one span per request for
	// operators who pay per span. Log records then carry the request
	// span's id.
	SpanEvents bool

	// TracerProvider, when set, makes the module's spans (events, gate
	// decisions): still children of the request span, but exported by
	// this provider's pipeline, whose drops are counted
	// (AcquireTracerProvider). Nil starts them from the request span's own
	// provider (Caddy's), whose batch processor drops silently.
	TracerProvider trace.TracerProvider
}

// Sink turns provider events into Prometheus counts, OpenTelemetry spans and
// OpenTelemetry log records. It implements provider.EventSink. The zero value,
// and a nil *Sink, count metrics only.
type Sink struct {
	m          *metrics
	logger     log.Logger
	spanEvents bool
	// tracer caches the tracer of the last TracerProvider seen on a request
	// span. The SDK's Tracer takes a mutex and a map lookup keyed by the
	// whole instrumentation scope on every call; every request of one
	// Caddy config carries the same provider, so one comparison replaces it.
	tracer atomic.Pointer[cachedTracer]
	// own is the tracer of Options.TracerProvider, when one was given.
	own trace.Tracer
}

type cachedTracer struct {
	provider trace.TracerProvider
	tracer   trace.Tracer
}

// tracerUnder returns the tracer of the Sink's spans under parent: its own
// pipeline's, or else one from the parent's provider.
func (s *Sink) tracerUnder(parent trace.Span) trace.Tracer {
	if s.own != nil {
		return s.own
	}
	return s.tracerOf(parent.TracerProvider())
}

// tracerOf returns the Sink's tracer from tp, from the cache when tp is the
// provider it was made from. A new provider (a config reload) replaces it.
func (s *Sink) tracerOf(tp trace.TracerProvider) trace.Tracer {
	if c := s.tracer.Load(); c != nil && c.provider == tp {
		return c.tracer
	}
	t := tp.Tracer(InstrumentationName)
	// Comparing interfaces panics when both hold the same uncomparable
	// type, so only a provider of a comparable type (the SDK's is a
	// pointer) is cached; another type never equals a cached one.
	if tp != nil && reflect.TypeOf(tp).Comparable() {
		s.tracer.Store(&cachedTracer{provider: tp, tracer: t})
	}
	return t
}

var _ provider.EventSink = (*Sink)(nil)

// NewSink returns a Sink that counts into the package-level collectors (see
// RegisterMetrics) and logs through opts.LoggerProvider when it is set.
func NewSink(opts Options) *Sink {
	return newSink(opts, std)
}

func newSink(opts Options, m *metrics) *Sink {
	s := &Sink{m: m, spanEvents: opts.SpanEvents}
	if opts.TracerProvider != nil {
		s.own = opts.TracerProvider.Tracer(InstrumentationName)
	}
	if opts.LoggerProvider != nil {
		s.logger = opts.LoggerProvider.Logger(InstrumentationName)
	}
	return s
}

// Emit records e. It never blocks on export: spans and log records go to
// the processors of their providers, which batch outside the request.
func (s *Sink) Emit(ctx context.Context, e provider.Event) {
	if s == nil {
		// A nil *Sink in a provider.EventSink must not panic on a request.
		std.count(std.slot(e.Name), &e)
		return
	}
	m := s.m
	if m == nil {
		m = std
	}
	slot := m.slot(e.Name)
	m.count(slot, &e)

	// Caddy's tracing handler does not install a global TracerProvider; the
	// request span in the context is the parent of our span (made by the
	// module's own provider, or else by the one the request span carries). A
	// parent that is not recording means tracing is off or this request is
	// not sampled, and the default parent-based sampler would drop a child.
	// A parent that records but is not sampled (a RecordOnly decision) is
	// never exported, so neither would be a span or a span event under it:
	// the event then costs no span at all.
	parent := trace.SpanFromContext(ctx)
	tracing := parent.IsRecording() && parent.SpanContext().IsSampled()

	var sev log.Severity
	var sevText string
	logging := false
	if s.logger != nil {
		sev, sevText = slot.severity, slot.severityText
		if slot == m.uncatalogued {
			sev, sevText = severity(e.Name)
		}
		logging = s.logger.Enabled(ctx, log.EnabledParameters{Severity: sev, EventName: string(e.Name)})
	}

	if !tracing && !logging {
		return
	}

	serverError := e.Name == provider.EventServerError
	var attrs []attribute.KeyValue
	if tracing && s.spanEvents {
		// The span event keeps the slice it is given, so it gets its own.
		attrs = appendAttrs(make([]attribute.KeyValue, 0, attrCount(&e)), &e)
	} else {
		// The span and the log record copy the attributes they are given,
		// so one pooled buffer serves both and no event allocates its own.
		buf := attrBufs.Get().(*attrBuf)
		defer putAttrBuf(buf)
		attrs = appendAttrs(buf[:0], &e)
	}

	logCtx := ctx
	switch {
	case tracing && s.spanEvents:
		parent.AddEvent(string(e.Name), trace.WithAttributes(attrs...))
		if serverError {
			if e.Cause != nil {
				parent.RecordError(e.Cause)
			}
			parent.SetStatus(codes.Error, provider.ErrCodeServerError)
		}
	case tracing:
		var span trace.Span
		// The log record below is emitted in the event span's context, so
		// it carries that span's id, not the request span's.
		//
		// No start options: SpanKindInternal is the SDK's default, and the
		// attributes are set after the start, which copies them once
		// instead of three times (option, start config, span). Samplers see
		// no attributes at the start; the ones Caddy's tracing configures
		// (OTEL_TRACES_SAMPLER) decide on the parent and the trace id only.
		//
		// The parent is given in a context of its own: the SDK looks the
		// parent up again, and Caddy's request context is a long chain
		// of values to walk. Nothing else of ctx reaches the span or the
		// log record.
		logCtx, span = s.tracerUnder(parent).Start(trace.ContextWithSpan(context.Background(), parent), string(e.Name))
		span.SetAttributes(attrs...)
		if serverError {
			if e.Cause != nil {
				span.RecordError(e.Cause)
			}
			// A fixed description: the cause is already on the exception
			// event and the status must not grow free text of its own.
			span.SetStatus(codes.Error, provider.ErrCodeServerError)
		}
		span.End()
	}

	if logging {
		now := time.Now()
		var r log.Record
		r.SetEventName(string(e.Name))
		r.SetTimestamp(now)
		r.SetObservedTimestamp(now)
		r.SetSeverity(sev)
		r.SetSeverityText(sevText)
		if e.ErrorCode == "" && slot != m.uncatalogued {
			r.SetBody(slot.body)
		} else {
			r.SetBody(attribute.StringValue(body(&e)))
		}
		r.AddAttributes(attrs...)
		if serverError && e.Cause != nil {
			// Not r.SetErr: the SDK would derive exception.type from the Go
			// type, which is not part of the exported contract.
			r.AddAttributes(AttrExceptionMessage.String(e.Cause.Error()))
		}
		s.logger.Emit(logCtx, r)
	}
}

// attrBuf holds the attributes of one event while Emit hands them to the
// span and the log record, which both copy them.
type attrBuf [maxAttrs]attribute.KeyValue

var attrBufs = sync.Pool{New: func() any { return new(attrBuf) }}

func putAttrBuf(b *attrBuf) {
	clear(b[:]) // keep no client id alive in the pool
	attrBufs.Put(b)
}

// attrCount is how many attributes appendAttrs adds for e.
func attrCount(e *provider.Event) int {
	n := 1
	for _, f := range [...]string{e.ClientID, e.GrantID, e.ErrorCode, e.ErrorDescription, e.Prompt} {
		if f != "" {
			n++
		}
	}
	return n
}

func appendAttrs(attrs []attribute.KeyValue, e *provider.Event) []attribute.KeyValue {
	attrs = append(attrs, AttrEvent.String(string(e.Name)))
	if e.ClientID != "" {
		attrs = append(attrs, AttrClientID.String(e.ClientID))
	}
	if e.GrantID != "" {
		attrs = append(attrs, AttrGrantIDHash.String(GrantIDHash(e.GrantID)))
	}
	if e.ErrorCode != "" {
		attrs = append(attrs, AttrError.String(e.ErrorCode))
	}
	if e.ErrorDescription != "" {
		attrs = append(attrs, AttrErrorDescription.String(e.ErrorDescription))
	}
	if e.Prompt != "" {
		attrs = append(attrs, AttrPrompt.String(e.Prompt))
	}
	return attrs
}

// GrantIDHash is the exported form of a grant id: hex of the first 8 bytes of
// its SHA-256. Operators can correlate events of one grant, and match a
// grant id they hold, without telemetry backends holding the handle itself.
func GrantIDHash(grantID string) string {
	sum := sha256.Sum256([]byte(grantID))
	return hex.EncodeToString(sum[:8])
}

func severity(name provider.EventName) (log.Severity, string) {
	switch {
	case name == provider.EventServerError:
		return log.SeverityError, "ERROR"
	case isErrorEvent(name):
		return log.SeverityWarn, "WARN"
	default:
		return log.SeverityInfo, "INFO"
	}
}

// body is a one-line human summary built only from exported fields, for
// backends that show the body rather than attributes.
func body(e *provider.Event) string {
	if e.ErrorCode != "" {
		return "oidc " + string(e.Name) + ": " + e.ErrorCode
	}
	return "oidc " + string(e.Name)
}
