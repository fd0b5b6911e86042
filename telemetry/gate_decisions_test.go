package telemetry

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// The decision counter exports all five values from the start, counts
// each, and takes nothing outside the set.
func TestGateDecisionsBoundedLabels(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if err := RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	counts := func() map[string]float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "oidc_provider_gate_decisions_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				out[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
		return out
	}
	before := counts()
	if len(before) != 5 {
		t.Fatalf("series: %v, want the 5 decisions", before)
	}
	CountGateDecision(GateDeny)
	CountGateDecision(GateInsufficientScope)
	CountGateDecision(GateDecision(99))
	CountGateDecision(GateDecision(-1))
	after := counts()
	if len(after) != 5 || after["deny"] != before["deny"]+1 || after["insufficient_scope"] != before["insufficient_scope"]+1 || after["allow"] != before["allow"] {
		t.Fatalf("before %v, after %v", before, after)
	}
}
