package telemetry

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// BenchmarkGateDecisionSpan measures what a gate decision costs the request:
// the count alone (tracing off, or an unsampled request), its span, or its
// span event on the request span.
func BenchmarkGateDecisionSpan(b *testing.B) {
	info := GateDecisionInfo{Decision: GateAllow, Rule: 1, Method: "GET", Credential: GateSessionCookie, Start: time.Now()}
	for _, c := range []struct {
		name       string
		sampler    sdktrace.Sampler // nil: no span in the context
		spanEvents bool
	}{
		{"no-tracing", nil, false},
		{"unsampled-request-span", sdktrace.NeverSample(), false},
		{"recording-span", sdktrace.AlwaysSample(), false},
		{"span-event-on-request-span", sdktrace.AlwaysSample(), true},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			if c.sampler != nil {
				ctx = benchRequestCtx(b, c.sampler)
			}
			sink := NewSink(Options{SpanEvents: c.spanEvents})
			b.ReportAllocs()
			for b.Loop() {
				sink.GateDecision(ctx, info)
			}
		})
	}
}
