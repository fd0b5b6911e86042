// Package telemetry exports the OpenID Connect provider's events
// (provider.Event, one of the names of provider.Catalogue) as Prometheus
// metrics, OpenTelemetry spans and OpenTelemetry log records. It does not
// import Caddy: the Caddy module calls RegisterMetrics with the config's
// metrics registry, AcquireLoggerProvider for log export, and hands NewSink's
// Sink to the provider as its provider.EventSink.
//
// # API
//
//   - RegisterMetrics(reg) registers the collectors below. They are package
//     level, so counts survive Caddy config reloads (each load has a new
//     registry); registering them again is not an error.
//   - NewSink(Options) returns a *Sink; Sink.Emit counts the event, adds a
//     span and emits a log record. The zero Sink counts only.
//   - AcquireLoggerProvider(ctx, exporter) returns a shared, reference-counted
//     OpenTelemetry LoggerProvider for Options.LoggerProvider, and its release
//     function.
//   - GrantIDHash is the exported form of a grant id.
//   - Sink.GateDecision counts an oidc_protect decision and records its span
//     (see Gate decisions); CountGateDecision only counts.
//
// # Metrics
//
//	oidc_provider_events_total{event}        counter, every event
//	oidc_provider_errors_total{event,error}  counter, *.error events and server_error
//	oidc_provider_gate_decisions_total{decision}  counter, oidc_protect decisions
//
// event is a name of provider.Catalogue. Every catalogue name is created at
// zero so it is exported before it first happens; a name outside the
// catalogue is counted as event="uncatalogued". error is the event's OAuth
// error code when it is one of the known codes (the constants of
// provider/errors.go and the registered codes of RFC 7009, RFC 7591, RFC 8628,
// RFC 8707 and OIDC Core), and "other" otherwise, including when empty.
// errors_total series appear on first use. No label ever carries a client
// id, user, URL or free text, so the number of series is fixed.
//
// Alert rules for these metrics are in alerts/oidc_provider.rules.yml (with
// promtool unit tests beside them) and a Grafana dashboard is in
// dashboards/oidc_provider.json.
//
// # Spans
//
// For each event, when the request context carries a recording and sampled
// span, Emit starts and ends a span named after the event from that span's
// TracerProvider (Caddy's tracing handler does not set the global provider),
// with tracer name "github.com/oidcaddy/oidcaddy". It is therefore a child of
// Caddy's request span, exported by Caddy's span pipeline (so this package
// cannot count the spans that pipeline drops; README says how to check).
// Without tracing, or for a request span that is not sampled (even if it
// records), no span is made. server_error spans have status Error (description
// "server_error") and, when the event has a Cause, an "exception" span event
// from span.RecordError (exception.type, exception.message). With
// Options.SpanEvents, the event is instead a span event (same name and
// attributes) on the request span, and server_error marks the request span.
//
// # Log records
//
// With Options.LoggerProvider set, Emit emits one record per event through the
// logger "github.com/oidcaddy/oidcaddy", in the context of the event's span
// so it carries the trace id and the event span's id (the request span's with
// SpanEvents): EventName is the event name, Timestamp and
// ObservedTimestamp are set, severity is INFO (WARN for *.error events, ERROR
// for server_error), and the body is "oidc <event>" or "oidc <event>:
// <error code>". server_error records also carry exception.message, the text
// of the event's Cause.
//
// # Attribute keys
//
// Event spans and log records carry only these, each when the event has the field:
//
//	oidc.event                the event name (always)
//	oidc.client_id            Event.ClientID
//	oidc.grant_id_hash        hex of the first 8 bytes of SHA-256(Event.GrantID)
//	oauth.error               Event.ErrorCode
//	oauth.error_description   Event.ErrorDescription
//	oidc.prompt               Event.Prompt
//	exception.message         Event.Cause.Error(), server_error log records only
//
// The grant id itself, the Cause's other fields or wrapped errors, context
// values and baggage are never exported.
//
// # Gate decisions
//
// The Caddy module's oidc_protect handler records each decision through the
// Sink of the provider it gates for (Sink.GateDecision): it counts it in
// oidc_provider_gate_decisions_total{decision} (allow, deny, login_required,
// invalid_token, insufficient_scope; a max_age step-up counts as
// login_required) and, when the request context carries a recording span,
// starts and ends the span "oidc_protect.decision" as a child of it, with the
// Sink's cached tracer (with Options.SpanEvents, a span event of that name on
// the request span instead). The span starts at GateDecisionInfo.Start, when
// the gate began, so it covers the session or token lookup. Its attributes,
// each from a closed set:
//
//	oidc.gate.decision     the decision label
//	oidc.gate.rule         index of the deciding rule (absent when none decided)
//	http.request.method    the method; "_OTHER" outside the standard ones
//	oidc.gate.credential   none, session or bearer
//	oidc.gate.step_up      max_age, when a rule's max_age asked for a new login
//
// No token, cookie, subject, email, path or query is exported. Gate decisions
// make no log records.
//
// # The span pipeline
//
// Event and gate decision spans are started with the tracer of
// Options.TracerProvider when one is given: caddymodule gives the one
// AcquireTracerProvider shares per OTEL_TRACES_EXPORTER setting, built from
// the environment Caddy's tracing reads and with its resource. The spans
// are children of the request span (the parent comes from the context),
// so traces stay whole, but they are exported by spanBatcher, which counts
// what a full queue drops in oidc_provider_telemetry_dropped_spans_total;
// Caddy's batch span processor drops silently. Without a provider (export
// "none", or tests), spans come from the request span's own provider.
//
// # Enabling log export
//
// The exporter setting given to AcquireLoggerProvider decides:
//
//	""         on only if OTEL_LOGS_EXPORTER is set; autoexport then builds
//	           the exporter it names and OTEL_EXPORTER_OTLP_* configure it
//	"none"     off
//	"otlp"     OTLP whatever OTEL_LOGS_EXPORTER says; the protocol comes from
//	           OTEL_EXPORTER_OTLP_LOGS_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL
//	           (http/protobuf by default, or grpc) and the endpoint, headers
//	           etc. from the other OTEL_EXPORTER_OTLP_* variables
//	"console"  JSON on standard output
//
// When export is off the provider is nil and the Sink makes no log records.
// Records are batched by logBatcher, which counts what a full queue drops in
// oidc_provider_telemetry_dropped_log_records_total. One provider exists per
// setting and is shared by every caller; Caddy provisions a new config before
// cleaning up the old one, so the provider and its connection live across a
// reload, and the last release flushes and shuts it down (tracer providers
// are shared the same way). No OpenTelemetry global is set.
//
// # Cost
//
// With no recording span and no logger, Emit is a map lookup and one or two
// atomic adds, without allocation (tens of nanoseconds). A recorded span
// costs about as much as any sampled OpenTelemetry span (~1.6 µs) plus its
// export. Emit allocates nothing of its own beyond what the SDK needs: the
// attributes are built in a pooled buffer that the span and the log record
// copy, the log body and severity of each catalogued event are made once,
// and the log provider skips the SDK's key de-duplication (the Sink never
// repeats a key). BenchmarkEventTelemetry measures one client_credentials
// request's telemetry with export, as process CPU per request;
// docs/performance.md has the figures.
package telemetry
