package telemetry

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/oidcaddy/oidcaddy/provider"
)

// Secrets a careless caller has lying around while emitting events. None of
// them is in a field the Sink may export.
const (
	secretInContext    = "S3CRET-access-token-in-ctx-value"
	secretInBaggage    = "S3CRET-password-in-baggage"
	secretGrantHandle  = "S3CRET-raw-grant-handle" // exported only as a hash
	secretCauseField   = "S3CRET-client-secret-in-cause-struct"
	secretCauseWrapped = "S3CRET-refresh-token-in-wrapped-cause"
	secretOtherCause   = "S3CRET-cause-of-a-handled-error"
	secretRequestAttr  = "S3CRET-bearer-header-on-request-span"
)

var allSecrets = []string{
	secretInContext, secretInBaggage, secretGrantHandle, secretCauseField,
	secretCauseWrapped, secretOtherCause, secretRequestAttr,
}

type ctxKey struct{}

// storeError looks like what a store adapter might return: a safe message,
// with the offending record kept in a field and the driver error wrapped.
type storeError struct {
	op     string
	record string
	inner  error
}

func (e *storeError) Error() string { return "store: " + e.op + " failed" }
func (e *storeError) Unwrap() error { return e.inner }

// allowed attribute keys, by where they may appear.
var (
	allowedSpanKeys = map[string]bool{
		"oidc.event": true, "oidc.client_id": true, "oidc.grant_id_hash": true,
		"oauth.error": true, "oauth.error_description": true, "oidc.prompt": true,
	}
	allowedLogKeys          = union(allowedSpanKeys, map[string]bool{"exception.message": true})
	allowedSpanEventKeys    = map[string]bool{"exception.type": true, "exception.message": true}
	allowedSpanEventNames   = map[string]bool{"exception": true}
	allowedStatusDescriptor = map[string]bool{"": true, "server_error": true}
)

func union(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func TestNoSecretLeavesTheProcessAndOnlyAllowedKeysAreExported(t *testing.T) {
	h := newHarness(t, sdktrace.AlwaysSample())
	h.reqSpan.SetAttributes(attribute.String("http.request.header.authorization", secretRequestAttr))

	member, err := baggage.NewMember("session", secretInBaggage)
	if err != nil {
		t.Fatal(err)
	}
	bag, err := baggage.New(member)
	if err != nil {
		t.Fatal(err)
	}
	ctx := baggage.ContextWithBaggage(context.WithValue(h.reqCtx, ctxKey{}, secretInContext), bag)

	cause := &storeError{op: "save client", record: secretCauseField, inner: fmt.Errorf("driver: %s", secretCauseWrapped)}
	events := []provider.Event{
		{Name: provider.EventServerError, ClientID: "app1", GrantID: secretGrantHandle, ErrorCode: "server_error",
			ErrorDescription: "the server encountered an internal error", Cause: cause},
		{Name: provider.EventGrantError, ClientID: "app1", GrantID: secretGrantHandle, ErrorCode: "invalid_grant",
			ErrorDescription: "grant request is invalid", Cause: fmt.Errorf("code %s already used", secretOtherCause)},
		{Name: provider.EventGrantRevoked, ClientID: "app1", GrantID: secretGrantHandle},
		{Name: provider.EventRefreshTokenConsumed, ClientID: "app1", GrantID: secretGrantHandle},
		{Name: provider.EventInteractionStarted, ClientID: "app1", Prompt: "login"},
	}
	for _, name := range provider.Catalogue {
		events = append(events, sampleEvent(name))
	}
	for _, e := range events {
		h.sink.Emit(ctx, e)
	}
	h.reqSpan.End()

	// Everything a backend would receive from the Sink, flattened to text.
	var exported []string
	spans := h.eventSpans()
	if len(spans) != len(events) {
		t.Fatalf("%d spans, want %d", len(spans), len(events))
	}
	for _, s := range spans {
		exported = append(exported, s.Name, s.Status.Description)
		if !allowedStatusDescriptor[s.Status.Description] {
			t.Errorf("span %q: status description %q", s.Name, s.Status.Description)
		}
		for _, kv := range s.Attributes {
			exported = append(exported, string(kv.Key), kv.Value.Emit())
			if !allowedSpanKeys[string(kv.Key)] {
				t.Errorf("span %q exports key %q outside the allow-list", s.Name, kv.Key)
			}
		}
		for _, ev := range s.Events {
			exported = append(exported, ev.Name)
			if !allowedSpanEventNames[ev.Name] {
				t.Errorf("span %q has event %q outside the allow-list", s.Name, ev.Name)
			}
			for _, kv := range ev.Attributes {
				exported = append(exported, string(kv.Key), kv.Value.Emit())
				if !allowedSpanEventKeys[string(kv.Key)] {
					t.Errorf("span %q event %q exports key %q outside the allow-list", s.Name, ev.Name, kv.Key)
				}
			}
		}
		if len(s.Links) != 0 {
			t.Errorf("span %q has links", s.Name)
		}
	}
	recs := h.logs.all()
	if len(recs) != len(events) {
		t.Fatalf("%d log records, want %d", len(recs), len(events))
	}
	for _, r := range recs {
		exported = append(exported, r.EventName(), r.SeverityText(), r.Body().Emit())
		r.WalkAttributes(func(kv attribute.KeyValue) bool {
			exported = append(exported, string(kv.Key), kv.Value.Emit())
			if !allowedLogKeys[string(kv.Key)] {
				t.Errorf("log record %q exports key %q outside the allow-list", r.EventName(), kv.Key)
			}
			return true
		})
	}

	reg := prometheus.NewPedanticRegistry()
	if err := h.m.register(reg); err != nil {
		t.Fatal(err)
	}
	for k := range series(t, reg) {
		exported = append(exported, k)
		if strings.Contains(k, "app1") || strings.Contains(k, "client-") {
			t.Errorf("client id in a metric label: %s", k)
		}
	}

	all := strings.Join(exported, "\n")
	for _, secret := range allSecrets {
		if strings.Contains(all, secret) {
			t.Errorf("secret %q was exported", secret)
		}
	}
	// The assertions above would pass vacuously if nothing was exported.
	for _, mustHave := range []string{GrantIDHash(secretGrantHandle), "store: save client failed", "app1", "invalid_grant"} {
		if !strings.Contains(all, mustHave) {
			t.Errorf("expected exported text %q missing", mustHave)
		}
	}
}
