package telemetry

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// unhealthyStores holds the databases that currently refuse writes, keyed by
// a name the caller chooses (its directory). It is never a label: the gauge
// says whether any store is unhealthy, the log line of the transition says
// which one and why.
var unhealthyStores = struct {
	sync.Mutex
	m map[string]struct{}
}{m: map[string]struct{}{}}

var storeHealthy = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
	Namespace: metricsNamespace,
	Name:      "store_healthy",
	Help: "1 while every OIDC provider database of the process takes writes; 0 while one refuses them " +
		"(a write failed, or free disk space is below the safety margin) and write requests get 503 temporarily_unavailable.",
}, func() float64 {
	unhealthyStores.Lock()
	defer unhealthyStores.Unlock()
	if len(unhealthyStores.m) > 0 {
		return 0
	}
	return 1
})

// SetStoreHealthy records whether the store called name takes writes.
func SetStoreHealthy(name string, healthy bool) {
	unhealthyStores.Lock()
	defer unhealthyStores.Unlock()
	if healthy {
		delete(unhealthyStores.m, name)
	} else {
		unhealthyStores.m[name] = struct{}{}
	}
}

// ForgetStore drops the store called name (it was closed).
func ForgetStore(name string) { SetStoreHealthy(name, true) }
