package telemetry

import "github.com/prometheus/client_golang/prometheus"

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
