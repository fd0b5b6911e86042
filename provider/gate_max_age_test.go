package provider_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// maxAgePolicy: /admin/* wants admins signed in at most 15 minutes ago;
// everything else any signed-in user, however long ago.
func maxAgePolicy(t *testing.T) *provider.GatePolicy {
	t.Helper()
	pol := &provider.GatePolicy{Rules: []provider.GateRule{
		{Paths: []string{"/admin/*"}, Groups: []string{"admins"}, MaxAge: new(int64(900))},
		{Paths: []string{"*"}},
	}}
	if err := pol.Validate(); err != nil {
		t.Fatal(err)
	}
	return pol
}

// A gate session whose login is older than the rule's max age is not
// refused: the gate signs the user in again with max_age, which makes the
// provider ask for the password (OIDC Core §3.1.2.1), and the new login
// passes. A fresh login passes at once.
func TestGateMaxAgeStaleLoginSignsInAgain(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withGroupedAlice(t))
	pol := maxAgePolicy(t)
	b := h.browser()
	cookie, id := h.gateLogin(t, b)
	if v := h.p.DecideGate(pol, "GET", "/admin/users", id); v.Decision != provider.GateAllow || v.Rule != 0 {
		t.Fatalf("fresh login: %+v, want allowed by rule 0", v)
	}

	h.clock.advance(16 * time.Minute)
	id = h.gateUser(t, cookie)
	v := h.p.DecideGate(pol, "GET", "/admin/users", id)
	if v.Decision != provider.GateStepUp || v.Rule != 0 || v.MaxAge != 900 {
		t.Fatalf("16 minutes after login: %+v, want a step-up for rule 0 with max age 900", v)
	}
	if v := h.p.DecideGate(pol, "GET", "/reports", id); v.Decision != provider.GateAllow || v.Rule != 1 {
		t.Errorf("a rule without max age: %+v", v)
	}

	gl, err := h.p.StartGateReauthentication(gateOrigin, v)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(gl.AuthURL)
	if got := u.Query().Get("max_age"); got != "900" {
		t.Fatalf("re-login request max_age=%q, want 900: %s", got, gl.AuthURL)
	}
	// The provider session is 16 minutes old: max_age makes it ask again
	// instead of answering with a code at once.
	if r := b.get(gl.AuthURL); r.status != http.StatusSeeOther || strings.HasPrefix(r.header.Get("Location"), gateOrigin) {
		t.Fatalf("re-login went through without a password: %d %q", r.status, r.header.Get("Location"))
	}
	q := b.login(gl.AuthURL, alicePassword)
	fresh, _, err := h.p.FinishGateLogin(context.Background(), gateOrigin, q.Get("code"), gl.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if v := h.p.DecideGate(pol, "GET", "/admin/users", h.gateUser(t, fresh)); v.Decision != provider.GateAllow {
		t.Fatalf("after signing in again: %+v", v)
	}
	// The old gate cookie belongs to the same provider session, whose
	// authentication is now recent: it passes too.
	if v := h.p.DecideGate(pol, "GET", "/admin/users", h.gateUser(t, cookie)); v.Decision != provider.GateAllow {
		t.Errorf("the older gate session of the re-authenticated session: %+v", v)
	}
}

// A user the rule refuses anyway is denied, not sent to sign in again:
// a new login would not put them in the group.
func TestGateMaxAgeDoesNotRescueADeniedUser(t *testing.T) {
	t.Parallel()
	pol := maxAgePolicy(t)
	now := time.Unix(1_900_000_000, 0)
	staff := &provider.Identity{Subject: "s", Claims: map[string]any{"groups": []string{"staff"}}, AuthTime: now.Add(-time.Hour)}
	if v := pol.Evaluate("GET", "/admin/x", staff, now); v.Decision != provider.GateDeny {
		t.Errorf("stale non-admin: %+v, want deny", v)
	}
	admin := &provider.Identity{Subject: "a", Claims: map[string]any{"groups": []string{"admins"}}}
	for _, c := range []struct {
		age  time.Duration
		want provider.GateDecision
	}{{0, provider.GateAllow}, {900 * time.Second, provider.GateAllow}, {901 * time.Second, provider.GateStepUp}} {
		admin.AuthTime = now.Add(-c.age)
		if v := pol.Evaluate("GET", "/admin/x", admin, now); v.Decision != c.want {
			t.Errorf("admin signed in %v ago: %v, want %v", c.age, v.Decision, c.want)
		}
	}
	admin.AuthTime = time.Time{} // unknown: never recent enough
	if v := pol.Evaluate("GET", "/admin/x", admin, now); v.Decision != provider.GateStepUp {
		t.Errorf("unknown auth time: %v, want a step-up", v.Decision)
	}
	if v := pol.Evaluate("GET", "/admin/x", admin, now); v.Rule != 0 {
		t.Errorf("rule %d, want 0", v.Rule)
	}
	if v := (&provider.GatePolicy{Rules: []provider.GateRule{{Paths: []string{"/a"}}}}).Evaluate("GET", "/b", admin, now); v.Decision != provider.GateDeny || v.Rule != -1 {
		t.Errorf("no rule matches: %+v, want deny by no rule", v)
	}
}

// A user's access token, opaque or JWT, carries the login's time: fresh it
// passes a max-age rule; older than it, the rule asks for a step-up (RFC
// 9470). A client's own token has no user login and never passes one.
func TestGateMaxAgeBearerTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	pol := &provider.GatePolicy{Rules: []provider.GateRule{{Paths: []string{"/api/*"}, MaxAge: new(int64(600))}}}
	opaque, _ := h.tokens(t, "web", "openid email")["access_token"].(string)
	jwt, _ := h.tokens(t, "web-jwt", "openid email")["access_token"].(string)
	machine := h.clientToken(t, url.Values{"scope": {"read"}}, "api")
	decide := func(tok string) provider.GateDecision {
		t.Helper()
		id, err := h.p.VerifyBearer(ctx, tok)
		if err != nil || id == nil {
			t.Fatalf("token not accepted: %v", err)
		}
		return h.p.DecideGate(pol, "GET", "/api/x", id).Decision
	}
	for name, tok := range map[string]string{"opaque": opaque, "jwt": jwt} {
		if got := decide(tok); got != provider.GateAllow {
			t.Errorf("%s token of a fresh login: %v", name, got)
		}
	}
	if got := decide(machine); got != provider.GateStepUp {
		t.Errorf("client credentials token: %v, want a step-up (no user login)", got)
	}
	h.clock.advance(11 * time.Minute)
	for name, tok := range map[string]string{"opaque": opaque, "jwt": jwt} {
		if got := decide(tok); got != provider.GateStepUp {
			t.Errorf("%s token of an 11-minute-old login: %v, want a step-up", name, got)
		}
	}
}

func TestGateMaxAgeMustBePositive(t *testing.T) {
	t.Parallel()
	for _, secs := range []int64{0, -60} {
		pol := provider.GatePolicy{Rules: []provider.GateRule{{MaxAge: new(secs)}}}
		if err := pol.Validate(); err == nil || !strings.Contains(err.Error(), "rules[0].max_age") {
			t.Errorf("max_age %d: %v", secs, err)
		}
	}
	h := newHarness(t)
	if _, err := h.p.StartGateReauthentication(gateOrigin, provider.GateVerdict{Decision: provider.GateStepUp}); err == nil {
		t.Error("a re-authentication without a max age or level was started")
	}
}
