package telemetry

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestStoreHealthyGauge(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if err := RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if err := RegisterMetrics(reg); err != nil {
		t.Fatalf("registering again: %v", err)
	}
	healthy := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "oidc_provider_store_healthy" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("oidc_provider_store_healthy not exported")
		return 0
	}
	if v := healthy(); v != 1 {
		t.Fatalf("no store: %v, want 1", v)
	}
	SetStoreHealthy("/a", false)
	SetStoreHealthy("/b", false)
	SetStoreHealthy("/a", true)
	if v := healthy(); v != 0 {
		t.Fatalf("one store unhealthy: %v, want 0", v)
	}
	ForgetStore("/b")
	if v := healthy(); v != 1 {
		t.Fatalf("all healthy again: %v, want 1", v)
	}
}
