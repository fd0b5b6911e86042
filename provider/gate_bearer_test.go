package provider_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

func (h *harness) clientToken(t *testing.T, v url.Values, id string) string {
	t.Helper()
	v.Set("grant_type", "client_credentials")
	tok, _ := jsonBody(t, h.token(v, id, apiSecret))["access_token"].(string)
	if tok == "" {
		t.Fatalf("no token for %s", id)
	}
	return tok
}

// Bearer tokens at a protected site: opaque ones looked up, JWTs verified
// with the provider's keys; each outcome of the rules (RFC 6750 §3.1).
func TestVerifyBearerOutcomes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	read := &provider.GatePolicy{Rules: []provider.GateRule{{Paths: []string{"/api/*"}, Scopes: []string{"read"}}}}
	write := &provider.GatePolicy{Rules: []provider.GateRule{{Paths: []string{"/api/*"}, Scopes: []string{"write"}}}}
	aud := &provider.GatePolicy{Rules: []provider.GateRule{{Audience: apiResource}}}

	opaque := h.clientToken(t, url.Values{"scope": {"read"}}, "api")
	jwt := h.clientToken(t, url.Values{"resource": {apiResource}}, "api-jwt")
	for name, tok := range map[string]string{"opaque": opaque, "jwt": jwt} {
		id, err := h.p.VerifyBearer(ctx, tok)
		if err != nil || id == nil || !id.Bearer {
			t.Fatalf("%s: %+v %v", name, id, err)
		}
		if got := read.Evaluate("GET", "/api/x", id, time.Now()).Decision; got != provider.GateAllow {
			t.Errorf("%s with scope read: %v", name, got)
		}
		if got := write.Evaluate("GET", "/api/x", id, time.Now()).Decision; got != provider.GateInsufficientScope {
			t.Errorf("%s without scope write: %v, want insufficient_scope", name, got)
		}
	}
	jwtID, _ := h.p.VerifyBearer(ctx, jwt)
	opaqueID, _ := h.p.VerifyBearer(ctx, opaque)
	if jwtID.Subject != "api-jwt" || aud.Evaluate("GET", "/", jwtID, time.Now()).Decision != provider.GateAllow {
		t.Errorf("JWT for the resource: %+v", jwtID)
	}
	if aud.Evaluate("GET", "/", opaqueID, time.Now()).Decision != provider.GateInvalidAudience {
		t.Error("a token for another audience passed the audience rule")
	}
	for name, tok := range map[string]string{"garbage": "not-a-token", "tampered jwt": jwt[:len(jwt)-3] + "AAA", "empty": ""} {
		if id, err := h.p.VerifyBearer(ctx, tok); id != nil || err != nil {
			t.Errorf("%s: %+v %v", name, id, err)
		}
	}
	if r := h.revoke(opaque, "api", apiSecret); r.status != 200 {
		t.Fatalf("revocation: %d", r.status)
	}
	if id, _ := h.p.VerifyBearer(ctx, opaque); id != nil {
		t.Error("a revoked opaque token was accepted")
	}
	h.clock.advance(2 * time.Hour)
	if id, _ := h.p.VerifyBearer(ctx, jwt); id != nil {
		t.Error("an expired JWT was accepted")
	}
}

func TestGatePolicyFirstMatchingRuleDecides(t *testing.T) {
	t.Parallel()
	pol := &provider.GatePolicy{
		Bypass: []string{"/healthz", "/static/*"},
		Rules: []provider.GateRule{
			{Paths: []string{"/admin/*"}, Groups: []string{"admins"}},
			{Paths: []string{"/reports"}, Methods: []string{"POST"}, Emails: []string{"BOSS@example.com"}},
			{Paths: []string{"*"}, Groups: []string{"staff"}},
		},
	}
	if err := pol.Validate(); err != nil {
		t.Fatal(err)
	}
	staff := &provider.Identity{Subject: "s", Claims: map[string]any{"groups": []any{"staff"}, "email": "s@example.com"}}
	admin := &provider.Identity{Subject: "a", Claims: map[string]any{"groups": []string{"staff", "admins"}}}
	boss := &provider.Identity{Subject: "b", Claims: map[string]any{"email": "boss@example.com"}}
	cases := []struct {
		method, path string
		id           *provider.Identity
		want         provider.GateDecision
	}{
		{"GET", "/admin/users", staff, provider.GateDeny}, // the wider rule below does not rescue it
		{"GET", "/admin/users", admin, provider.GateAllow},
		{"GET", "/admin", admin, provider.GateAllow},
		{"GET", "/administrator", staff, provider.GateAllow}, // not below /admin
		{"GET", "/x/../admin/users", staff, provider.GateDeny},
		{"POST", "/reports", boss, provider.GateAllow},
		{"POST", "/reports", staff, provider.GateDeny},
		{"GET", "/reports", staff, provider.GateAllow},
		{"GET", "/reports", boss, provider.GateDeny}, // not staff
	}
	for _, c := range cases {
		if got := pol.Evaluate(c.method, c.path, c.id, time.Now()).Decision; got != c.want {
			t.Errorf("%s %s as %s: %v, want %v", c.method, c.path, c.id.Subject, got, c.want)
		}
	}
	for p, want := range map[string]bool{"/healthz": true, "/static/app.js": true, "/static/../admin": false, "/healthz/x": false, "/": false} {
		if pol.Bypassed(p) != want {
			t.Errorf("Bypassed(%q) = %v", p, !want)
		}
	}
	// With no rules every signed-in user passes.
	if (&provider.GatePolicy{}).Evaluate("GET", "/", boss, time.Now()).Decision != provider.GateAllow {
		t.Error("no rules: denied")
	}
	for _, bad := range []provider.GatePolicy{{Bypass: []string{"healthz"}}, {Rules: []provider.GateRule{{Paths: []string{"/a*b"}}}}, {Rules: []provider.GateRule{{Methods: []string{"get"}}}}} {
		if bad.Validate() == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}
