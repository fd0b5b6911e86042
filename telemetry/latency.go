package telemetry

import (
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oidcaddy/oidcaddy/provider"
)

// Endpoint is the bounded value of the endpoint label of
// oidc_provider_request_duration_seconds: one per provider endpoint, never a
// path, so a scanner probing paths cannot mint series.
type Endpoint uint8

// The endpoints, in the order of endpointNames.
const (
	EndpointOther Endpoint = iota
	EndpointDiscovery
	EndpointJWKS
	EndpointAuthorize
	EndpointToken
	EndpointUserinfo
	EndpointIntrospection
	EndpointRevocation
	EndpointPAR
	EndpointDeviceAuthorization
	EndpointDevice
	EndpointEndSession
	EndpointRegistration
	EndpointInteraction
	endpointCount
)

var endpointNames = [endpointCount]string{
	EndpointOther:               "other",
	EndpointDiscovery:           "discovery",
	EndpointJWKS:                "jwks",
	EndpointAuthorize:           "authorize",
	EndpointToken:               "token",
	EndpointUserinfo:            "userinfo",
	EndpointIntrospection:       "introspection",
	EndpointRevocation:          "revocation",
	EndpointPAR:                 "par",
	EndpointDeviceAuthorization: "device_authorization",
	EndpointDevice:              "device",
	EndpointEndSession:          "end_session",
	EndpointRegistration:        "registration",
	EndpointInteraction:         "interaction",
}

func (e Endpoint) String() string {
	if e >= endpointCount {
		return endpointNames[EndpointOther]
	}
	return endpointNames[e]
}

var endpointByPath = map[string]Endpoint{
	provider.PathDiscovery:     EndpointDiscovery,
	provider.PathJWKS:          EndpointJWKS,
	provider.PathAuthorization: EndpointAuthorize,
	provider.PathToken:         EndpointToken,
	provider.PathUserinfo:      EndpointUserinfo,
	provider.PathIntrospection: EndpointIntrospection,
	provider.PathRevocation:    EndpointRevocation,
	provider.PathPAR:           EndpointPAR,
	provider.PathDeviceAuth:    EndpointDeviceAuthorization,
	provider.PathDevice:        EndpointDevice,
	provider.PathEndSession:    EndpointEndSession,
	provider.PathRegistration:  EndpointRegistration,
}

// EndpointOf names the endpoint of a path relative to the issuer's path
// (e.g. "/token", "/register/abc", "/interaction/uid/login").
func EndpointOf(rel string) Endpoint {
	if e, ok := endpointByPath[rel]; ok {
		return e
	}
	switch {
	case strings.HasPrefix(rel, provider.PathInteraction):
		return EndpointInteraction
	case strings.HasPrefix(rel, provider.PathRegistration+"/"):
		return EndpointRegistration // RFC 7592 client configuration
	}
	return EndpointOther
}

// latencyBuckets span a cached JWKS answer (~50 µs) to a login page posting
// a password hashed with a costly KDF (hundreds of ms) and a slow store.
// 0.1 and 0.25 s are bucket bounds because the latency SLO of the shipped
// alert rules is set on them.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// latency is the request duration histogram with its children pre-created,
// so every endpoint is exported from the start and an observation is one
// array index.
type latency struct {
	vec      *prometheus.HistogramVec
	children [endpointCount]prometheus.Observer
}

func newLatency() *latency {
	l := &latency{vec: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: metricsNamespace,
		Name:      "request_duration_seconds",
		Help:      "Time to answer a request to a provider endpoint, from the module receiving it to the handler returning, by endpoint.",
		Buckets:   latencyBuckets,
	}, []string{"endpoint"})}
	for e := Endpoint(0); e < endpointCount; e++ {
		l.children[e] = l.vec.WithLabelValues(e.String())
	}
	return l
}

func (l *latency) observe(e Endpoint, d time.Duration) {
	if e >= endpointCount {
		e = EndpointOther
	}
	l.children[e].Observe(d.Seconds())
}

func (l *latency) register(reg prometheus.Registerer) error {
	if err := reg.Register(l.vec); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) && are.ExistingCollector == l.vec {
			return nil
		}
		return err
	}
	return nil
}

var stdLatency = newLatency()

// ObserveRequest records how long a request to endpoint e took, in the
// process-wide histogram that RegisterMetrics registers.
func ObserveRequest(e Endpoint, d time.Duration) { stdLatency.observe(e, d) }
