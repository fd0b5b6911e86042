package telemetry

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/oidcaddy/oidcaddy/provider"
)

func TestEndpointOfNamesEveryProviderPath(t *testing.T) {
	for rel, want := range map[string]string{
		provider.PathDiscovery:                 "discovery",
		provider.PathJWKS:                      "jwks",
		provider.PathAuthorization:             "authorize",
		provider.PathToken:                     "token",
		provider.PathUserinfo:                  "userinfo",
		provider.PathIntrospection:             "introspection",
		provider.PathRevocation:                "revocation",
		provider.PathPAR:                       "par",
		provider.PathDeviceAuth:                "device_authorization",
		provider.PathDevice:                    "device",
		provider.PathEndSession:                "end_session",
		provider.PathRegistration:              "registration",
		provider.PathRegistration + "/x":       "registration",
		provider.PathInteraction + "uid":       "interaction",
		provider.PathInteraction + "uid/login": "interaction",
		"/assets/oidcaddy.css":                 "other",
		"/tokenx":                              "other",
		"/../token":                            "other",
		"":                                     "other",
	} {
		if got := EndpointOf(rel).String(); got != want {
			t.Errorf("EndpointOf(%q) = %q, want %q", rel, got, want)
		}
	}
	if got := Endpoint(200).String(); got != "other" {
		t.Errorf("out-of-range endpoint names %q", got)
	}
}

func TestRequestDurationIsExportedPerEndpointFromZero(t *testing.T) {
	l := newLatency()
	reg := prometheus.NewRegistry()
	if err := l.register(reg); err != nil {
		t.Fatal(err)
	}
	if err := l.register(reg); err != nil {
		t.Fatalf("registering again: %v", err)
	}
	hist := func() map[string]*dto.Histogram {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*dto.Histogram{}
		for _, mf := range mfs {
			if mf.GetName() != "oidc_provider_request_duration_seconds" || mf.GetType() != dto.MetricType_HISTOGRAM {
				t.Fatalf("unexpected metric family %s (%v)", mf.GetName(), mf.GetType())
			}
			for _, m := range mf.Metric {
				out[m.Label[0].GetValue()] = m.Histogram
			}
		}
		return out
	}
	// Every endpoint is exported before its first request.
	if h := hist(); len(h) != int(endpointCount) {
		t.Errorf("%d series before any request, want %d: %v", len(h), endpointCount, h)
	}
	l.observe(EndpointToken, 3*time.Millisecond)
	l.observe(EndpointToken, 200*time.Millisecond)
	l.observe(Endpoint(250), time.Millisecond)

	h := hist()
	tok := h["token"]
	if tok.GetSampleCount() != 2 || tok.GetSampleSum() < 0.2029 || tok.GetSampleSum() > 0.2031 {
		t.Errorf("token: count %d sum %v, want 2 and 0.203", tok.GetSampleCount(), tok.GetSampleSum())
	}
	for _, b := range tok.Bucket {
		want := uint64(0)
		switch {
		case b.GetUpperBound() >= 0.25:
			want = 2
		case b.GetUpperBound() >= 0.005:
			want = 1
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("token bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	if h["other"].GetSampleCount() != 1 {
		t.Errorf("an out-of-range endpoint was not counted as other")
	}
	if h["userinfo"].GetSampleCount() != 0 {
		t.Errorf("userinfo counted a request it did not get")
	}
}

func BenchmarkObserveRequest(b *testing.B) {
	l := newLatency()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		l.observe(EndpointToken, time.Since(start))
	}
}
