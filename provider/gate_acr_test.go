package provider_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/internal/formflow"
	"github.com/oidcaddy/oidcaddy/provider"
)

// acrPolicy: /admin/* wants a two-factor login; everything else any login.
func acrPolicy(t *testing.T) *provider.GatePolicy {
	t.Helper()
	pol := &provider.GatePolicy{Rules: []provider.GateRule{
		{Paths: []string{"/admin/*"}, ACR: provider.ACRMultiFactor},
		{Paths: []string{"*"}},
	}}
	if err := pol.Validate(); err != nil {
		t.Fatal(err)
	}
	return pol
}

// gateSignIn runs a gate login (or re-authentication) gl as user through
// the provider's pages, and finishes it into a gate cookie.
func (h *harness) gateSignIn(t *testing.T, b *browser, gl *provider.GateLogin, s *signIn) (string, *provider.Identity) {
	t.Helper()
	r, err := (&formflow.Browser{Client: b.c}).Authorize(gl.AuthURL, h.issuer+"/interaction/", 6, s.answer)
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := url.Parse(r.Header.Get("Location"))
	if r.Status != http.StatusSeeOther || loc.Query().Get("code") == "" {
		t.Fatalf("gate sign-in did not return a code: %d %s", r.Status, r.Body)
	}
	cookie, id, err := h.p.FinishGateLogin(context.Background(), gateOrigin, loc.Query().Get("code"), gl.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	return cookie, id
}

// A browser signed in with a password meets a rule wanting mfa: the gate
// signs it in again with acr_values=mfa, the provider asks for the code
// only (the session is there), and the new gate session passes. The older
// gate session of the same provider session passes too, as it does after
// a max_age re-login: the session itself is now at mfa.
func TestGateACRRuleStepsUpToACode(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withSecondFactorUsers(t))
	pol := acrPolicy(t)
	b := h.browser()
	gl, err := h.p.StartGateLogin(gateOrigin)
	if err != nil {
		t.Fatal(err)
	}
	cookie, id := h.gateSignIn(t, b, gl, &signIn{user: "bob"})
	if id.ACR != provider.ACRPassword {
		t.Fatalf("password login: acr %q", id.ACR)
	}
	if v := h.p.DecideGate(pol, "GET", "/reports", id); v.Decision != provider.GateAllow {
		t.Errorf("a rule without a level: %+v", v)
	}
	v := h.p.DecideGate(pol, "GET", "/admin/users", id)
	if v.Decision != provider.GateStepUp || !v.BelowLevel || v.ACR != "mfa" || v.Rule != 0 {
		t.Fatalf("password login on an mfa rule: %+v, want a step-up to mfa", v)
	}
	gl, err = h.p.StartGateReauthentication(gateOrigin, v)
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := url.Parse(gl.AuthURL); u.Query().Get("acr_values") != "mfa" || u.Query().Has("max_age") {
		t.Fatalf("step-up request %s, want acr_values=mfa and no max_age", gl.AuthURL)
	}
	h.clock.advance(time.Minute)
	up := &signIn{user: "bob", code: func() string { return bobCode(t, h.clock.now()) }}
	fresh, id := h.gateSignIn(t, b, gl, up)
	if !slices.Equal(up.pages, []string{"otp"}) {
		t.Errorf("step-up pages %v, want only the code", up.pages)
	}
	if v := h.p.DecideGate(pol, "GET", "/admin/users", id); v.Decision != provider.GateAllow || id.ACR != "mfa" {
		t.Fatalf("after the code: %+v (acr %q)", v, id.ACR)
	}
	for name, c := range map[string]string{"new": fresh, "older": cookie} {
		if v := h.p.DecideGate(pol, "GET", "/admin/users", h.gateUser(t, c)); v.Decision != provider.GateAllow {
			t.Errorf("%s gate session after the step-up: %+v", name, v)
		}
	}
}

// A user without a second factor can never reach mfa: the rule denies at
// once, saying why (no sign-in loop); a user with one who is not signed in
// at mfa is stepped up; a rule at pwd lets any login through.
func TestGateACRRuleDeniesAUserWithoutASecondFactor(t *testing.T) {
	t.Parallel()
	pol := acrPolicy(t)
	now := time.Unix(1_900_000_000, 0)
	alice := &provider.Identity{Subject: "alice", ACR: "pwd", AuthTime: now}
	if v := pol.Evaluate("GET", "/admin/x", alice, now); v.Decision != provider.GateDeny || !v.NoSecondFactor {
		t.Errorf("no second factor: %+v, want deny with NoSecondFactor", v)
	}
	bob := &provider.Identity{Subject: "bob", ACR: "pwd", AuthTime: now, CanMultiFactor: true}
	if v := pol.Evaluate("GET", "/admin/x", bob, now); v.Decision != provider.GateStepUp {
		t.Errorf("second factor, password login: %+v, want a step-up", v)
	}
	bob.ACR = "mfa"
	if v := pol.Evaluate("GET", "/admin/x", bob, now); v.Decision != provider.GateAllow {
		t.Errorf("mfa login: %+v", v)
	}
	atPwd := &provider.GatePolicy{Rules: []provider.GateRule{{ACR: "pwd"}}}
	if v := atPwd.Evaluate("GET", "/x", alice, now); v.Decision != provider.GateAllow {
		t.Errorf("a pwd rule refused a password login: %+v", v)
	}
	bad := &provider.GatePolicy{Rules: []provider.GateRule{{}, {ACR: "gold"}}}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "rules[1].acr") || !strings.Contains(err.Error(), "pwd, mfa") {
		t.Errorf("unknown level: %v", err)
	}
}

// A bearer token carries its login's level: an mfa rule lets an mfa
// user's token through (opaque and JWT) and asks a password-level token,
// or a client's own, for a step-up (RFC 9470 §3).
func TestGateACRRuleOnBearerTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withSecondFactorUsers(t))
	ctx := context.Background()
	pol := &provider.GatePolicy{Rules: []provider.GateRule{{Paths: []string{"/api/*"}, ACR: "mfa"}}}
	decide := func(tok string) provider.GateVerdict {
		t.Helper()
		id, err := h.p.VerifyBearer(ctx, tok)
		if err != nil || id == nil {
			t.Fatalf("token not accepted: %v", err)
		}
		return h.p.DecideGate(pol, "GET", "/api/x", id)
	}
	tokenAs := func(clientID, acrValues string, code func() string) string {
		t.Helper()
		verifier, challenge := pkce("b")
		over := map[string]string{"client_id": clientID, "code_challenge": challenge, "code_challenge_method": "S256"}
		if acrValues != "" {
			over["acr_values"] = acrValues
		}
		q := (&signIn{user: "bob", code: code}).run(t, h, h.browser(), h.authorizeURL(over))
		r := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}, clientID, webSecret)
		if r.status != http.StatusOK {
			t.Fatalf("code exchange: %d %s", r.status, r.body)
		}
		return jsonBody(t, r)["access_token"].(string)
	}
	for _, client := range []string{"web", "web-jwt"} {
		pwd := tokenAs(client, "", nil)
		if v := decide(pwd); v.Decision != provider.GateStepUp || v.ACR != "mfa" {
			t.Errorf("%s password token: %+v, want a step-up to mfa", client, v)
		}
		h.clock.advance(30 * time.Second) // a fresh code for each sign-in
		mfa := tokenAs(client, "mfa", func() string { return bobCode(t, h.clock.now()) })
		if v := decide(mfa); v.Decision != provider.GateAllow {
			t.Errorf("%s mfa token: %+v", client, v)
		}
	}
	if v := decide(h.clientToken(t, url.Values{"scope": {"read"}}, "api")); v.Decision != provider.GateStepUp {
		t.Errorf("client credentials token: %+v, want a step-up (no user login)", v)
	}
}
