package telemetry

import (
	"errors"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"

	"github.com/oidcaddy/oidcaddy/provider"
)

const (
	metricsNamespace = "oidc_provider"

	// UncataloguedEvent is the event label value under which names missing
	// from provider.Catalogue are counted. A fixed value keeps the series
	// count bounded even if a caller invents names at run time.
	UncataloguedEvent = "uncatalogued"

	// OtherError is the error label value for codes outside the known OAuth
	// and OpenID Connect set, so a buggy or hostile code cannot mint series.
	OtherError = "other"
)

// errorCodes is the closed set of values of the error label besides
// OtherError: the constants of provider/errors.go, then the registered codes
// of the other specifications behind catalogue events (revocation, dynamic
// registration, device flow, request objects, resource indicators), so the
// provider can start using them without a telemetry change.
var errorCodes = [...]string{
	provider.ErrCodeInvalidRequest,
	provider.ErrCodeInvalidClient,
	provider.ErrCodeInvalidGrant,
	provider.ErrCodeUnauthorizedClient,
	provider.ErrCodeUnsupportedGrantType,
	provider.ErrCodeInvalidScope,
	provider.ErrCodeAccessDenied,
	provider.ErrCodeUnsupportedResponseType,
	provider.ErrCodeServerError,
	provider.ErrCodeTemporarilyUnavailable,
	provider.ErrCodeInvalidToken,
	provider.ErrCodeInsufficientScope,
	provider.ErrCodeLoginRequired,
	provider.ErrCodeConsentRequired,
	provider.ErrCodeInteractionRequired,
	provider.ErrCodeInvalidRequestURI,
	provider.ErrCodeRequestNotSupported,
	provider.ErrCodeRequestURINotSupported,
	provider.ErrCodeRegistrationNotSupported,
	"account_selection_required",    // OIDC Core §3.1.2.6
	"invalid_request_object",        // OIDC Core §3.1.2.6
	"unsupported_token_type",        // RFC 7009 §2.2.1
	"invalid_redirect_uri",          // RFC 7591 §3.2.2
	"invalid_client_metadata",       // RFC 7591 §3.2.2
	"invalid_software_statement",    // RFC 7591 §3.2.2
	"unapproved_software_statement", // RFC 7591 §3.2.2
	"authorization_pending",         // RFC 8628 §3.5
	"slow_down",                     // RFC 8628 §3.5
	"expired_token",                 // RFC 8628 §3.5
	"invalid_target",                // RFC 8707 §2
}

// otherErrorIndex is the slot of OtherError, right after the known codes.
const otherErrorIndex = len(errorCodes)

var errorCodeIndex = func() map[string]int {
	m := make(map[string]int, len(errorCodes))
	for i, c := range errorCodes {
		m[c] = i
	}
	return m
}()

// errorLabel maps any code onto the bounded label set.
func errorLabel(code string) (int, string) {
	if i, ok := errorCodeIndex[code]; ok {
		return i, errorCodes[i]
	}
	return otherErrorIndex, OtherError
}

// isErrorEvent reports whether errors_total counts the event: the *.error
// events and server_error.
func isErrorEvent(name provider.EventName) bool {
	return name == provider.EventServerError || strings.HasSuffix(string(name), ".error")
}

// metrics holds one set of collectors and the per-event children. The
// package keeps one instance for the life of the process (see std) so counts
// survive Caddy config reloads; tests build their own to start from zero.
type metrics struct {
	events *prometheus.CounterVec
	errors *prometheus.CounterVec

	// slots is written once in newMetrics and only read afterwards, so Emit
	// needs no lock.
	slots        map[provider.EventName]*eventSlot
	uncatalogued *eventSlot
}

// eventSlot caches everything Emit needs per event name, so the hot path
// does one map lookup and an atomic add instead of a label lookup.
type eventSlot struct {
	label       string
	total       prometheus.Counter
	countErrors bool
	// body, severity and severityText are the log record's for the event
	// without an error code (see body and severity in sink.go), made once
	// so that Emit builds no string per event.
	body         attribute.Value
	severity     log.Severity
	severityText string
	// errs is filled lazily: pre-creating every event x code pair would
	// export hundreds of zero series that never move.
	errs [otherErrorIndex + 1]atomic.Pointer[prometheus.Counter]
}

func newMetrics() *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Name:      "events_total",
			Help:      "Provider events emitted, by event name (the oidc-provider event catalogue).",
		}, []string{"event"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Name:      "errors_total",
			Help:      "Error events (*.error and server_error), by event name and OAuth error code; unknown codes are counted as \"other\".",
		}, []string{"event", "error"}),
		slots: make(map[provider.EventName]*eventSlot, len(provider.Catalogue)),
	}
	for _, name := range provider.Catalogue {
		m.slots[name] = m.newSlot(string(name), isErrorEvent(name))
	}
	// Whether an uncatalogued name is an error depends on the name, so count
	// decides per event for this one slot.
	m.uncatalogued = m.newSlot(UncataloguedEvent, false)
	return m
}

func (m *metrics) newSlot(label string, countErrors bool) *eventSlot {
	name := provider.EventName(label)
	sev, sevText := severity(name)
	return &eventSlot{
		label:        label,
		total:        m.events.WithLabelValues(label), // creates the zero series
		countErrors:  countErrors,
		body:         attribute.StringValue(body(&provider.Event{Name: name})),
		severity:     sev,
		severityText: sevText,
	}
}

func (m *metrics) slot(name provider.EventName) *eventSlot {
	if s, ok := m.slots[name]; ok {
		return s
	}
	return m.uncatalogued
}

func (m *metrics) count(s *eventSlot, e *provider.Event) {
	s.total.Inc()
	if !s.countErrors && (s != m.uncatalogued || !isErrorEvent(e.Name)) {
		return
	}
	i, code := errorLabel(e.ErrorCode)
	p := s.errs[i].Load()
	if p == nil {
		// WithLabelValues returns the same child for the same labels, so a
		// racing Store of another pointer to it is harmless.
		c := m.errors.WithLabelValues(s.label, code)
		p = &c
		s.errs[i].Store(p)
	}
	(*p).Inc()
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.events, m.errors}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	return registerOwn(reg, m.collectors()...)
}

// registerOwn registers cs with reg; a collector already registered there
// is no error.
func registerOwn(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	var errs []error
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			// Only our own collector counts as already registered: a foreign
			// collector under our names would silently hide our counts.
			if errors.As(err, &are) && are.ExistingCollector == c {
				continue
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// std is the process-wide metrics set: Caddy gives every config load a fresh
// registry, and re-registering these same collectors keeps the counts.
var std = newMetrics()

// RegisterMetrics registers the package's collectors
// (oidc_provider_events_total, oidc_provider_errors_total,
// oidc_provider_store_healthy, oidc_provider_gate_decisions_total,
// oidc_provider_request_duration_seconds,
// oidc_provider_telemetry_dropped_log_records_total and
// oidc_provider_telemetry_dropped_spans_total) with reg. Registering
// them again with the same registry is not an error, so it is safe to call
// on every provision.
func RegisterMetrics(reg prometheus.Registerer) error {
	return errors.Join(std.register(reg), registerOwn(reg, storeHealthy, gateDecisions, droppedRecords, droppedSpans), stdLatency.register(reg))
}
