package telemetry

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// Each gate decision is a span under the request span, carrying only the
// bounded attributes: decision, rule index, method, credential, step-up.
func TestGateDecisionIsASpanUnderTheRequestSpan(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, req := tp.Tracer("caddy-test").Start(context.Background(), "request")
	sink := NewSink(Options{})

	start := time.Now().Add(-time.Millisecond)
	sink.GateDecision(ctx, GateDecisionInfo{Decision: GateDeny, Rule: 2, Method: "DELETE", Credential: GateSessionCookie, Start: start})
	sink.GateDecision(ctx, GateDecisionInfo{Decision: GateLoginRequired, Rule: 0, Method: "GET", Credential: GateSessionCookie, StepUp: GateStepUpMaxAge})
	sink.GateDecision(ctx, GateDecisionInfo{Decision: GateInvalidToken, Rule: -1, Method: "BREW", Credential: GateBearerToken})
	sink.GateDecision(ctx, GateDecisionInfo{Decision: GateLoginRequired, Rule: 1, Method: "GET", Credential: GateBearerToken, StepUp: GateStepUpACR})
	req.End()

	var got []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == GateDecisionSpanName {
			got = append(got, s)
		}
	}
	if len(got) != 4 {
		t.Fatalf("%d decision spans, want 4", len(got))
	}
	want := []map[string]string{
		{"oidc.gate.decision": "deny", "oidc.gate.rule": "2", "http.request.method": "DELETE", "oidc.gate.credential": "session"},
		{"oidc.gate.decision": "login_required", "oidc.gate.rule": "0", "http.request.method": "GET", "oidc.gate.credential": "session", "oidc.gate.step_up": "max_age"},
		// no rule decided; a made-up method is not exported as sent
		{"oidc.gate.decision": "invalid_token", "http.request.method": "_OTHER", "oidc.gate.credential": "bearer"},
		{"oidc.gate.decision": "login_required", "oidc.gate.rule": "1", "http.request.method": "GET", "oidc.gate.credential": "bearer", "oidc.gate.step_up": "acr"},
	}
	for i, s := range got {
		if s.Parent().SpanID() != req.SpanContext().SpanID() || s.SpanContext().TraceID() != req.SpanContext().TraceID() {
			t.Errorf("span %d: parent %s in trace %s, want the request span %s", i, s.Parent().SpanID(), s.SpanContext().TraceID(), req.SpanContext().SpanID())
		}
		if s.SpanKind() != trace.SpanKindInternal || s.InstrumentationScope().Name != InstrumentationName {
			t.Errorf("span %d: kind %v scope %q", i, s.SpanKind(), s.InstrumentationScope().Name)
		}
		attrs := attrMap(s.Attributes())
		if len(attrs) != len(want[i]) {
			t.Errorf("span %d: attributes %v, want exactly %v", i, attrs, want[i])
		}
		for k, v := range want[i] {
			if attrs[k] != v {
				t.Errorf("span %d: %s = %q, want %q", i, k, attrs[k], v)
			}
		}
	}
	// The span covers the decision from when the gate began.
	if !got[0].StartTime().Equal(start) {
		t.Errorf("start %v, want %v", got[0].StartTime(), start)
	}
}

// With span_events the decision is an event on the request span; without a
// recording request span (tracing off, not sampled) there is no span, and
// every way the decision is still counted.
func TestGateDecisionSpanEventsAndNoTracing(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, req := tp.Tracer("caddy-test").Start(context.Background(), "request")

	allowed := func() float64 { return counterValue(t, gateDecisionCounters[GateAllow]) }
	before := allowed()
	NewSink(Options{SpanEvents: true}).GateDecision(ctx, GateDecisionInfo{Decision: GateAllow, Rule: 1, Method: "GET", Credential: GateBearerToken})
	NewSink(Options{}).GateDecision(context.Background(), GateDecisionInfo{Decision: GateAllow, Rule: -1, Method: "GET"})
	var nilSink *Sink
	nilSink.GateDecision(ctx, GateDecisionInfo{Decision: GateAllow, Rule: -1, Method: "GET"})
	req.End()

	ended := rec.Ended()
	if len(ended) != 1 || ended[0].Name() != "request" {
		t.Fatalf("spans %d, want only the request span", len(ended))
	}
	ev := ended[0].Events()
	if len(ev) != 1 || ev[0].Name != GateDecisionSpanName || attrMap(ev[0].Attributes)["oidc.gate.decision"] != "allow" || attrMap(ev[0].Attributes)["oidc.gate.rule"] != "1" {
		t.Fatalf("request span events: %+v", ev)
	}
	if got := allowed(); got != before+3 {
		t.Errorf("allow counted %v times, want 3", got-before)
	}
}
