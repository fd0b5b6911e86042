package telemetry

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"

	"github.com/oidcaddy/oidcaddy/provider"
)

// sampleEvent builds the event the provider would plausibly emit for name,
// with every field that kind of event carries.
func sampleEvent(name provider.EventName) provider.Event {
	e := provider.Event{Name: name, ClientID: "client-" + string(name)}
	switch {
	case name == provider.EventServerError:
		e.ErrorCode = provider.ErrCodeServerError
		e.ErrorDescription = "the server encountered an internal error"
		e.Cause = errors.New("store: write failed")
	case strings.HasSuffix(string(name), ".error"):
		e.ErrorCode = provider.ErrCodeInvalidRequest
		e.ErrorDescription = "missing required parameter"
	case name == provider.EventInteractionStarted:
		e.Prompt = "login"
	case name == provider.EventGrantRevoked || strings.HasPrefix(string(name), "refresh_token."):
		e.GrantID = "grant-" + string(name)
	}
	return e
}

func attrMap(kvs []attribute.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

func logAttrMap(r *sdklog.Record) map[string]string {
	m := map[string]string{}
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		m[string(kv.Key)] = kv.Value.Emit()
		return true
	})
	return m
}

// TestEveryEventIsAChildSpanAndATraceCorrelatedLogRecord is the contract
// with Caddy's tracing: one span per event under the request span, and one
// log record carrying the request's trace id and its event span's id.
func TestEveryEventIsAChildSpanAndATraceCorrelatedLogRecord(t *testing.T) {
	h := newHarness(t, sdktrace.AlwaysSample())
	for _, name := range provider.Catalogue {
		h.sink.Emit(h.reqCtx, sampleEvent(name))
	}
	h.reqSpan.End()

	reqSC := h.reqSpan.SpanContext()
	spans := h.eventSpans()
	if len(spans) != len(provider.Catalogue) {
		t.Fatalf("got %d event spans, want %d (one per catalogue event)", len(spans), len(provider.Catalogue))
	}
	seen := map[string]int{}
	spanIDs := map[string]string{}
	for _, s := range spans {
		seen[s.Name]++
		spanIDs[s.Name] = s.SpanContext.SpanID().String()
		if s.SpanContext.TraceID() != reqSC.TraceID() {
			t.Errorf("span %q: trace id %s, want the request's %s", s.Name, s.SpanContext.TraceID(), reqSC.TraceID())
		}
		if s.Parent.SpanID() != reqSC.SpanID() {
			t.Errorf("span %q: parent span id %s, want the request span %s", s.Name, s.Parent.SpanID(), reqSC.SpanID())
		}
		if s.InstrumentationScope.Name != InstrumentationName {
			t.Errorf("span %q: scope %q, want %q", s.Name, s.InstrumentationScope.Name, InstrumentationName)
		}
		if got := attrMap(s.Attributes)[string(AttrEvent)]; got != s.Name {
			t.Errorf("span %q: %s = %q", s.Name, AttrEvent, got)
		}
	}
	for _, name := range provider.Catalogue {
		if seen[string(name)] != 1 {
			t.Errorf("event %q: %d spans, want 1", name, seen[string(name)])
		}
	}

	recs := h.logs.all()
	if len(recs) != len(provider.Catalogue) {
		t.Fatalf("got %d log records, want %d", len(recs), len(provider.Catalogue))
	}
	for i, r := range recs {
		want := string(provider.Catalogue[i])
		if r.EventName() != want {
			t.Errorf("record %d: EventName %q, want %q", i, r.EventName(), want)
		}
		if r.TraceID() != reqSC.TraceID() || r.SpanID().String() != spanIDs[want] {
			t.Errorf("record %q: trace/span %s/%s, want the request's trace %s and the event span %s", want, r.TraceID(), r.SpanID(), reqSC.TraceID(), spanIDs[want])
		}
		if r.Timestamp().IsZero() || r.ObservedTimestamp().IsZero() {
			t.Errorf("record %q: timestamp %v observed %v, want both set", want, r.Timestamp(), r.ObservedTimestamp())
		}
		if r.InstrumentationScope().Name != InstrumentationName {
			t.Errorf("record %q: scope %q", want, r.InstrumentationScope().Name)
		}
		if got := logAttrMap(&r)[string(AttrEvent)]; got != want {
			t.Errorf("record %q: %s = %q", want, AttrEvent, got)
		}
	}
}

func TestEventAttributesSeverityAndStatus(t *testing.T) {
	cause := errors.New("badger: value log truncated")
	tests := []struct {
		name       string
		event      provider.Event
		wantAttrs  map[string]string
		wantLogMsg string // exception.message on the log record; "" = absent
		wantSev    log.Severity
		wantStatus codes.Code
		wantExcept bool // span has an exception event
		wantBody   string
	}{
		{
			name:      "success event with client only",
			event:     provider.Event{Name: provider.EventAuthorizationSuccess, ClientID: "app1"},
			wantAttrs: map[string]string{"oidc.event": "authorization.success", "oidc.client_id": "app1"},
			wantSev:   log.SeverityInfo,
			wantBody:  "oidc authorization.success",
		},
		{
			name:      "grant id is exported hashed",
			event:     provider.Event{Name: provider.EventGrantRevoked, ClientID: "app1", GrantID: "g-123"},
			wantAttrs: map[string]string{"oidc.event": "grant.revoked", "oidc.client_id": "app1", "oidc.grant_id_hash": GrantIDHash("g-123")},
			wantSev:   log.SeverityInfo,
			wantBody:  "oidc grant.revoked",
		},
		{
			name:      "prompt",
			event:     provider.Event{Name: provider.EventInteractionStarted, ClientID: "app1", Prompt: "consent"},
			wantAttrs: map[string]string{"oidc.event": "interaction.started", "oidc.client_id": "app1", "oidc.prompt": "consent"},
			wantSev:   log.SeverityInfo,
			wantBody:  "oidc interaction.started",
		},
		{
			name:  "handled error is a warning without span error status",
			event: provider.Event{Name: provider.EventGrantError, ClientID: "app1", ErrorCode: "invalid_grant", ErrorDescription: "grant request is invalid"},
			wantAttrs: map[string]string{"oidc.event": "grant.error", "oidc.client_id": "app1",
				"oauth.error": "invalid_grant", "oauth.error_description": "grant request is invalid"},
			wantSev:  log.SeverityWarn,
			wantBody: "oidc grant.error: invalid_grant",
		},
		{
			name:       "server_error records the cause",
			event:      provider.Event{Name: provider.EventServerError, ErrorCode: "server_error", ErrorDescription: "the server encountered an internal error", Cause: cause},
			wantAttrs:  map[string]string{"oidc.event": "server_error", "oauth.error": "server_error", "oauth.error_description": "the server encountered an internal error"},
			wantLogMsg: cause.Error(),
			wantSev:    log.SeverityError,
			wantStatus: codes.Error,
			wantExcept: true,
			wantBody:   "oidc server_error: server_error",
		},
		{
			name:       "server_error without cause still fails the span",
			event:      provider.Event{Name: provider.EventServerError, ErrorCode: "server_error"},
			wantAttrs:  map[string]string{"oidc.event": "server_error", "oauth.error": "server_error"},
			wantSev:    log.SeverityError,
			wantStatus: codes.Error,
			wantBody:   "oidc server_error: server_error",
		},
		{
			name:      "cause outside server_error is not exported",
			event:     provider.Event{Name: provider.EventUserinfoError, ErrorCode: "invalid_token", Cause: cause},
			wantAttrs: map[string]string{"oidc.event": "userinfo.error", "oauth.error": "invalid_token"},
			wantSev:   log.SeverityWarn,
			wantBody:  "oidc userinfo.error: invalid_token",
		},
		{
			// The body and severity of catalogued events are made once per
			// name; an uncatalogued name must still get its own.
			name:      "uncatalogued event keeps its own name in the body",
			event:     provider.Event{Name: "made.up", ClientID: "app1"},
			wantAttrs: map[string]string{"oidc.event": "made.up", "oidc.client_id": "app1"},
			wantSev:   log.SeverityInfo,
			wantBody:  "oidc made.up",
		},
		{
			name:      "uncatalogued error event is a warning",
			event:     provider.Event{Name: "made.up.error"},
			wantAttrs: map[string]string{"oidc.event": "made.up.error"},
			wantSev:   log.SeverityWarn,
			wantBody:  "oidc made.up.error",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, sdktrace.AlwaysSample())
			h.sink.Emit(h.reqCtx, tt.event)

			spans := h.eventSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			s := spans[0]
			if s.Name != string(tt.event.Name) {
				t.Errorf("span name %q, want %q", s.Name, tt.event.Name)
			}
			assertAttrs(t, "span", attrMap(s.Attributes), tt.wantAttrs)
			if s.Status.Code != tt.wantStatus {
				t.Errorf("span status %v, want %v", s.Status.Code, tt.wantStatus)
			}
			gotExcept := false
			for _, ev := range s.Events {
				if ev.Name == "exception" {
					gotExcept = true
					if msg := attrMap(ev.Attributes)["exception.message"]; msg != tt.wantLogMsg {
						t.Errorf("span exception.message %q, want %q", msg, tt.wantLogMsg)
					}
				}
			}
			if gotExcept != tt.wantExcept {
				t.Errorf("span exception event present = %v, want %v", gotExcept, tt.wantExcept)
			}

			recs := h.logs.all()
			if len(recs) != 1 {
				t.Fatalf("%d log records, want 1", len(recs))
			}
			r := recs[0]
			if r.Severity() != tt.wantSev {
				t.Errorf("severity %v, want %v", r.Severity(), tt.wantSev)
			}
			if got := r.Body().AsString(); got != tt.wantBody {
				t.Errorf("body %q, want %q", got, tt.wantBody)
			}
			wantLog := map[string]string{}
			for k, v := range tt.wantAttrs {
				wantLog[k] = v
			}
			if tt.wantLogMsg != "" {
				wantLog[string(AttrExceptionMessage)] = tt.wantLogMsg
			}
			assertAttrs(t, "log", logAttrMap(&r), wantLog)
		})
	}
}

func assertAttrs(t *testing.T, where string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s attribute %s = %q, want %q", where, k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s has unexpected attribute %s = %q", where, k, v)
		}
	}
}

func TestGrantIDHash(t *testing.T) {
	// FIPS 180-2 test vector: SHA-256("abc") starts ba7816bf8f01cfea.
	if got := GrantIDHash("abc"); got != "ba7816bf8f01cfea" {
		t.Fatalf("GrantIDHash(abc) = %q, want ba7816bf8f01cfea", got)
	}
	if GrantIDHash("grant-1") == GrantIDHash("grant-2") {
		t.Fatal("different grants hash alike")
	}
}

// TestUnsampledOrAbsentTraceMakesNoSpan: without a recording request span
// the Sink must not start spans (that would allocate on every event for
// nothing), yet the log record still carries the trace ids it has.
func TestUnsampledOrAbsentTraceMakesNoSpan(t *testing.T) {
	t.Run("unsampled parent", func(t *testing.T) {
		h := newHarness(t, sdktrace.NeverSample())
		h.sink.Emit(h.reqCtx, sampleEvent(provider.EventGrantSuccess))
		if n := len(h.spans.GetSpans()); n != 0 {
			t.Fatalf("%d spans exported, want 0", n)
		}
		recs := h.logs.all()
		if len(recs) != 1 || recs[0].TraceID() != h.reqSpan.SpanContext().TraceID() {
			t.Fatalf("want one log record with the request's trace id, got %d records", len(recs))
		}
	})
	t.Run("no span in context", func(t *testing.T) {
		h := newHarness(t, sdktrace.AlwaysSample())
		h.sink.Emit(context.Background(), sampleEvent(provider.EventGrantSuccess))
		if n := len(h.spans.GetSpans()); n != 0 {
			t.Fatalf("%d spans exported, want 0", n)
		}
		if recs := h.logs.all(); len(recs) != 1 || recs[0].TraceID().IsValid() {
			t.Fatalf("want one log record without trace id, got %d", len(recs))
		}
	})
	t.Run("no logger provider", func(t *testing.T) {
		h := newHarness(t, sdktrace.AlwaysSample())
		s := newSink(Options{}, h.m)
		s.Emit(h.reqCtx, sampleEvent(provider.EventGrantSuccess))
		if n := len(h.eventSpans()); n != 1 {
			t.Fatalf("%d spans, want 1", n)
		}
		if n := len(h.logs.all()); n != 0 {
			t.Fatalf("%d log records, want 0", n)
		}
	})
}

// recordOnlyRequests records the "request" span without sampling it and
// samples every other span regardless of its parent, so a child started
// under such a request would be exported on its own.
type recordOnlyRequests struct{}

func (recordOnlyRequests) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if p.Name == "request" {
		return sdktrace.SamplingResult{Decision: sdktrace.RecordOnly}
	}
	return sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample}
}

func (recordOnlyRequests) Description() string { return "recordOnlyRequests" }

// TestRecordedButUnsampledRequestMakesNoSpan: a request span that records
// but is not sampled is never exported, so the event gets no span (which
// would cost as much as an exported one, and with a sampler that is not
// parent-based would be exported as an orphan) and no span event.
func TestRecordedButUnsampledRequestMakesNoSpan(t *testing.T) {
	for _, spanEvents := range []bool{false, true} {
		h := newHarness(t, recordOnlyRequests{})
		h.sink.spanEvents = spanEvents
		if !h.reqSpan.IsRecording() || h.reqSpan.SpanContext().IsSampled() {
			t.Fatal("the request span should record without being sampled")
		}
		h.sink.Emit(h.reqCtx, sampleEvent(provider.EventGrantSuccess))
		h.reqSpan.End()
		if n := len(h.spans.GetSpans()); n != 0 {
			t.Errorf("span_events=%v: %d spans exported, want 0", spanEvents, n)
		}
		recs := h.logs.all()
		if len(recs) != 1 || recs[0].SpanID() != h.reqSpan.SpanContext().SpanID() {
			t.Errorf("span_events=%v: want one log record in the request span's context, got %d", spanEvents, len(recs))
		}
	}
}

// A Sink's spans follow whichever TracerProvider the request carries, so two
// Caddy configs with different tracing settings do not mix.
func TestSpanUsesTheRequestSpansProvider(t *testing.T) {
	a := newHarness(t, sdktrace.AlwaysSample())
	b := newHarness(t, sdktrace.AlwaysSample())
	s := newSink(Options{}, newMetrics())
	// a, b, a: the Sink keeps a tracer for the last provider it saw, and
	// must not keep using it for requests of another one.
	s.Emit(a.reqCtx, sampleEvent(provider.EventGrantSuccess))
	s.Emit(b.reqCtx, sampleEvent(provider.EventGrantError))
	s.Emit(a.reqCtx, sampleEvent(provider.EventSessionSaved))
	check := func(h *harness, want ...string) {
		t.Helper()
		var got tracetest.SpanStubs = h.eventSpans()
		var names []string
		for _, s := range got {
			names = append(names, s.Name)
		}
		if !slices.Equal(names, want) {
			t.Fatalf("provider got spans %q, want %q", names, want)
		}
	}
	check(a, "grant.success", "session.saved")
	check(b, "grant.error")
}

// uncomparableProvider is a TracerProvider of a type that == cannot compare
// (it holds a slice): caching its tracer by comparing providers would panic.
type uncomparableProvider struct {
	embedded.TracerProvider
	inner trace.TracerProvider
	tags  []string
}

func (p uncomparableProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return p.inner.Tracer(name, opts...)
}

// spanWithProvider is a recording span that names another provider as its own.
type spanWithProvider struct {
	trace.Span
	tp trace.TracerProvider
}

func (s spanWithProvider) TracerProvider() trace.TracerProvider { return s.tp }

func TestRequestSpanOfAnUncomparableProviderStillGetsEventSpans(t *testing.T) {
	h := newHarness(t, sdktrace.AlwaysSample())
	parent := trace.SpanFromContext(h.reqCtx)
	tp := uncomparableProvider{inner: parent.TracerProvider(), tags: []string{"x"}}
	ctx := trace.ContextWithSpan(h.reqCtx, spanWithProvider{Span: parent, tp: tp})
	s := newSink(Options{}, newMetrics())
	for range 3 {
		s.Emit(ctx, sampleEvent(provider.EventGrantSuccess))
	}
	if got := len(h.eventSpans()); got != 3 {
		t.Fatalf("got %d event spans, want 3", got)
	}
}

func TestZeroAndNilSinkCountIntoPackageMetrics(t *testing.T) {
	var nilSink *Sink
	for name, s := range map[string]provider.EventSink{"zero": &Sink{}, "nil": nilSink} {
		before := counterValue(t, std.events.WithLabelValues(string(provider.EventSessionSaved)))
		s.Emit(context.Background(), provider.Event{Name: provider.EventSessionSaved})
		if got := counterValue(t, std.events.WithLabelValues(string(provider.EventSessionSaved))); got != before+1 {
			t.Errorf("%s sink: events_total{session.saved} = %v, want %v", name, got, before+1)
		}
	}
}

// TestSpanEventsModeRecordsEventsOnTheRequestSpan: with SpanEvents, an
// event adds no span, only a span event with the same attributes on the
// request span; server_error marks the request span as failed; log records
// carry the request span's id.
func TestSpanEventsModeRecordsEventsOnTheRequestSpan(t *testing.T) {
	h := newHarness(t, sdktrace.AlwaysSample())
	h.sink.spanEvents = true
	h.sink.Emit(h.reqCtx, sampleEvent(provider.EventGrantSuccess))
	h.sink.Emit(h.reqCtx, sampleEvent(provider.EventServerError))
	h.reqSpan.End()

	if spans := h.eventSpans(); len(spans) != 0 {
		t.Fatalf("got %d event spans, want none", len(spans))
	}
	var req tracetest.SpanStub
	for _, s := range h.spans.GetSpans() {
		if s.SpanContext.SpanID() == h.reqSpan.SpanContext().SpanID() {
			req = s
		}
	}
	var names []string
	for _, ev := range req.Events {
		names = append(names, ev.Name)
		if ev.Name == string(provider.EventGrantSuccess) && attrMap(ev.Attributes)[string(AttrClientID)] != "client-grant.success" {
			t.Errorf("span event %s: attributes %v", ev.Name, ev.Attributes)
		}
	}
	if got := strings.Join(names, ","); got != "grant.success,server_error,exception" {
		t.Errorf("request span events %q, want grant.success, server_error and its exception", got)
	}
	if req.Status.Code != codes.Error || req.Status.Description != provider.ErrCodeServerError {
		t.Errorf("request span status %+v, want Error server_error", req.Status)
	}
	for _, r := range h.logs.all() {
		if r.SpanID() != h.reqSpan.SpanContext().SpanID() {
			t.Errorf("record %q: span %s, want the request span", r.EventName(), r.SpanID())
		}
	}
}
