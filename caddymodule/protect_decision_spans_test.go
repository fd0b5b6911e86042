package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/telemetry"
)

// gateWithProvider provisions an oidc_provider (issuer localhost:8080, a
// client_credentials client "machine") and an oidc_protect gate for it.
func gateWithProvider(t *testing.T, rules []provider.GateRule) (*Handler, *Protect) {
	t.Helper()
	h := testHandler(t, t.TempDir())
	h.Clients = append(h.Clients, ClientConfig{ClientID: "machine", ClientSecret: "{env.OIDCADDY_TEST_SECRET}", GrantTypes: []string{"client_credentials"}})
	if err := h.Provision(newTestContext(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Cleanup() })
	g := &Protect{Issuer: h.Issuer, Rules: rules}
	if err := g.Provision(newTestContext(t)); err != nil {
		t.Fatal(err)
	}
	return h, g
}

// machineToken is a client_credentials access token of "machine".
func machineToken(t *testing.T, h *Handler) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "http://localhost:8080/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("machine", "not-a-real-secret")
	rec := serve(t, h, req)
	var body struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	tok := body.AccessToken
	if rec.Code != http.StatusOK || tok == "" {
		t.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	return tok
}

// Every decision of the gate is a span under Caddy's request span, with
// the decision, the deciding rule's index and the method, and never the
// token, the cookie, the subject or the query.
func TestProtectDecisionsAreSpansUnderTheRequestSpan(t *testing.T) {
	// The module's own span pipeline (telemetry.AcquireTracerProvider,
	// tested in telemetry) is off here, so the spans come from the request
	// span's provider and this recorder sees them.
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	h, g := gateWithProvider(t, []provider.GateRule{
		{Paths: []string{"/public/*"}, Subjects: []string{"machine"}},
		{Paths: []string{"/admin/*"}, Groups: []string{"admins"}},
		{Paths: []string{"/fresh/*"}, MaxAge: new(int64(300))},
	})
	tok := machineToken(t, h)

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	cases := []struct {
		name, method, path, auth string
		navigate                 bool
		status                   int
		want                     map[string]string
	}{
		{"allow", "GET", "/public/x?token=q", "Bearer " + tok, false, http.StatusTeapot,
			map[string]string{"oidc.gate.decision": "allow", "oidc.gate.rule": "0", "http.request.method": "GET", "oidc.gate.credential": "bearer"}},
		{"deny", "POST", "/admin/x", "Bearer " + tok, false, http.StatusForbidden,
			map[string]string{"oidc.gate.decision": "deny", "oidc.gate.rule": "1", "http.request.method": "POST", "oidc.gate.credential": "bearer"}},
		{"no rule", "GET", "/other", "Bearer " + tok, false, http.StatusForbidden,
			map[string]string{"oidc.gate.decision": "deny", "http.request.method": "GET", "oidc.gate.credential": "bearer"}},
		{"invalid token", "GET", "/public/x", "Bearer not-a-token", false, http.StatusUnauthorized,
			map[string]string{"oidc.gate.decision": "invalid_token", "http.request.method": "GET", "oidc.gate.credential": "bearer"}},
		{"login", "GET", "/admin/x", "", true, http.StatusSeeOther,
			map[string]string{"oidc.gate.decision": "login_required", "http.request.method": "GET", "oidc.gate.credential": "none"}},
		// a client's own token has no user login a max age could accept
		{"step-up", "GET", "/fresh/x", "Bearer " + tok, false, http.StatusUnauthorized,
			map[string]string{"oidc.gate.decision": "login_required", "oidc.gate.rule": "2", "http.request.method": "GET", "oidc.gate.credential": "bearer", "oidc.gate.step_up": "max_age"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, reqSpan := tp.Tracer("caddy").Start(context.Background(), "request "+c.name)
			req := httptest.NewRequestWithContext(ctx, c.method, "http://app.example"+c.path, nil)
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			if c.navigate {
				req.Header.Set("Sec-Fetch-Mode", "navigate")
			}
			w := httptest.NewRecorder()
			if err := g.ServeHTTP(w, req, &recordingNext{}); err != nil {
				t.Fatal(err)
			}
			reqSpan.End()
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body)
			}
			var found []sdktrace.ReadOnlySpan
			for _, s := range rec.Ended() {
				if s.Name() == telemetry.GateDecisionSpanName && s.SpanContext().TraceID() == reqSpan.SpanContext().TraceID() {
					found = append(found, s)
				}
			}
			if len(found) != 1 {
				t.Fatalf("%d decision spans in this request's trace, want 1", len(found))
			}
			s := found[0]
			if s.Parent().SpanID() != reqSpan.SpanContext().SpanID() {
				t.Errorf("parent %s, want the request span %s", s.Parent().SpanID(), reqSpan.SpanContext().SpanID())
			}
			got := map[string]string{}
			for _, kv := range s.Attributes() {
				got[string(kv.Key)] = kv.Value.Emit()
				if strings.Contains(kv.Value.Emit(), tok) || strings.Contains(kv.Value.Emit(), "machine") || strings.Contains(kv.Value.Emit(), "token=q") {
					t.Errorf("attribute %s leaks %q", kv.Key, kv.Value.Emit())
				}
			}
			if len(got) != len(c.want) {
				t.Errorf("attributes %v, want exactly %v", got, c.want)
			}
			for k, v := range c.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// A bearer token whose login is too old for the rule (here a client's own
// token: no user login at all) gets RFC 9470's challenge, 401 with
// insufficient_user_authentication and the rule's max_age, not a 403.
func TestProtectMaxAgeBearerChallenge(t *testing.T) {
	h, g := gateWithProvider(t, []provider.GateRule{{Paths: []string{"/fresh/*"}, MaxAge: new(int64(300))}})
	req := httptest.NewRequest("GET", "http://app.example/fresh/x", nil)
	req.Header.Set("Authorization", "Bearer "+machineToken(t, h))
	w := httptest.NewRecorder()
	next := &recordingNext{}
	if err := g.ServeHTTP(w, req, next); err != nil {
		t.Fatal(err)
	}
	challenge := w.Header().Get("WWW-Authenticate")
	if w.Code != http.StatusUnauthorized || next.called ||
		!strings.HasPrefix(challenge, `Bearer realm="http://app.example", error="insufficient_user_authentication", error_description="`) ||
		!strings.HasSuffix(challenge, `", max_age="300"`) {
		t.Fatalf("%d %q (upstream reached: %v)", w.Code, challenge, next.called)
	}
}
