package telemetry

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// GateDecision is the outcome of one request at an oidc_protect gate: a
// closed set, so the decision label can never mint series (no path, site,
// user or client ever becomes a label).
type GateDecision int

const (
	GateAllow GateDecision = iota
	GateDeny
	GateLoginRequired
	GateInvalidToken
	GateInsufficientScope
	gateDecisionCount
)

var gateDecisionLabels = [gateDecisionCount]string{"allow", "deny", "login_required", "invalid_token", "insufficient_scope"}

var gateDecisions = func() *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace,
		Name:      "gate_decisions_total",
		Help:      "Requests decided by oidc_protect gates, by decision (allow, deny, login_required, invalid_token, insufficient_scope).",
	}, []string{"decision"})
	for _, l := range gateDecisionLabels {
		v.WithLabelValues(l) // exported as 0 before the first request
	}
	return v
}()

// gateDecisionCounters are the label children, resolved once.
var gateDecisionCounters = func() (c [gateDecisionCount]prometheus.Counter) {
	for i, l := range gateDecisionLabels {
		c[i] = gateDecisions.WithLabelValues(l)
	}
	return c
}()

// CountGateDecision counts one gate decision; values outside the set are ignored.
func CountGateDecision(d GateDecision) {
	if d >= 0 && d < gateDecisionCount {
		gateDecisionCounters[d].Inc()
	}
}

// GateDecisionSpanName names the span of one gate decision.
const GateDecisionSpanName = "oidc_protect.decision"

// Attribute keys of gate decision spans. Every value comes from a closed
// set (or is a rule's index in the configuration), so a span never carries
// a token, cookie, user, path or query.
const (
	AttrGateDecision   = attribute.Key("oidc.gate.decision")
	AttrGateRule       = attribute.Key("oidc.gate.rule")
	AttrGateCredential = attribute.Key("oidc.gate.credential")
	AttrGateStepUp     = attribute.Key("oidc.gate.step_up")
	// AttrHTTPMethod is OpenTelemetry's semantic convention key; methods
	// outside the standard set are "_OTHER", as the convention says.
	AttrHTTPMethod = attribute.Key("http.request.method")
)

// GateCredential is what the request presented.
type GateCredential int

const (
	GateNoCredential GateCredential = iota
	GateSessionCookie
	GateBearerToken
	gateCredentialCount
)

var gateCredentialLabels = [gateCredentialCount]string{"none", "session", "bearer"}

// GateStepUp is why a signed-in request must authenticate again.
type GateStepUp int

const (
	GateNoStepUp GateStepUp = iota
	// GateStepUpMaxAge: the login is older than the rule's max_age.
	GateStepUpMaxAge
	// GateStepUpACR: the login is below the rule's authentication level.
	GateStepUpACR
	gateStepUpCount
)

var gateStepUpLabels = [gateStepUpCount]string{"", "max_age", "acr"}

// GateDecisionInfo is one decision of a gate, as its span shows it.
type GateDecisionInfo struct {
	Decision GateDecision
	// Rule is the index of the rule that decided; negative when none did
	// (no rules, no matching rule, no identity).
	Rule       int
	Method     string
	Credential GateCredential
	StepUp     GateStepUp
	// Start is when the gate began deciding: the span covers the lookups
	// of the session or token. Zero: the span starts when it is recorded.
	Start time.Time
}

// GateDecision counts the decision (oidc_provider_gate_decisions_total)
// and, when ctx carries a recording span (Caddy's request span), records it
// under that span as the span GateDecisionSpanName, with the Sink's cached
// tracer of that span's TracerProvider; with Options.SpanEvents, as a span
// event on the request span instead. A nil Sink only counts.
func (s *Sink) GateDecision(ctx context.Context, d GateDecisionInfo) {
	CountGateDecision(d.Decision)
	if s == nil || d.Decision < 0 || d.Decision >= gateDecisionCount {
		return
	}
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return // tracing off or not sampled: nothing more to pay
	}
	var buf [5]attribute.KeyValue
	attrs := append(buf[:0], AttrGateDecision.String(gateDecisionLabels[d.Decision]), AttrHTTPMethod.String(spanMethod(d.Method)))
	if d.Rule >= 0 {
		attrs = append(attrs, AttrGateRule.Int(d.Rule))
	}
	if d.Credential >= 0 && d.Credential < gateCredentialCount {
		attrs = append(attrs, AttrGateCredential.String(gateCredentialLabels[d.Credential]))
	}
	if d.StepUp > 0 && d.StepUp < gateStepUpCount {
		attrs = append(attrs, AttrGateStepUp.String(gateStepUpLabels[d.StepUp]))
	}
	if s.spanEvents {
		parent.AddEvent(GateDecisionSpanName, trace.WithAttributes(attrs...))
		return
	}
	opts := [3]trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...)}
	startOpts := opts[:2]
	if !d.Start.IsZero() {
		startOpts = append(startOpts, trace.WithTimestamp(d.Start))
	}
	_, span := s.tracerUnder(parent).Start(ctx, GateDecisionSpanName, startOpts...)
	span.End()
}

// spanMethod is the method as the semantic conventions bound it: a
// client's made-up method would otherwise be a value of its own choosing.
func spanMethod(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH":
		return m
	}
	return "_OTHER"
}
