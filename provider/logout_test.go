package provider_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/oidcaddy/oidcaddy/provider"
)

// loggedIn returns a browser with a session and the ID token of its login.
func (h *harness) loggedIn(t *testing.T) (*browser, string) {
	b := h.browser()
	code, verifier := h.codeFor(b, nil)
	r := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}, "web", webSecret)
	return b, jsonBody(t, r)["id_token"].(string)
}

func (h *harness) stillLoggedIn(b *browser) bool {
	r := b.get(h.authorizeURL(map[string]string{"prompt": "none"}))
	u, _ := url.Parse(r.header.Get("Location"))
	return u != nil && u.Query().Get("code") != ""
}

func TestLogoutWithIDTokenHint(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b, idt := h.loggedIn(t)
	h.events.reset()
	r := b.get(h.issuer + "/session/end?" + url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://rp.example/bye"}, "state": {"s1"}}.Encode())
	if r.status != 303 || r.header.Get("Location") != "https://rp.example/bye?state=s1" {
		t.Fatalf("logout: %d %q %s", r.status, r.header.Get("Location"), r.body)
	}
	if h.events.count(provider.EventSessionDestroyed) != 1 || h.events.count(provider.EventEndSessionSuccess) != 1 {
		t.Errorf("events: %v", h.events.names())
	}
	if h.stillLoggedIn(b) {
		t.Fatal("the session survived logout")
	}
	// An expired hint still identifies the client.
	b2, idt2 := h.loggedIn(t)
	h.clock.advance(2 * 3600e9)
	if r := b2.get(h.issuer + "/session/end?" + url.Values{"id_token_hint": {idt2}, "post_logout_redirect_uri": {"https://rp.example/bye"}}.Encode()); r.status != 303 {
		t.Fatalf("logout with an expired hint: %d %s", r.status, r.body)
	}
}

// Without proof that the request is the relying party's, the user confirms.
func TestLogoutNeedsConfirmationWithoutHint(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b, _ := h.loggedIn(t)
	r := b.get(h.issuer + "/session/end?" + url.Values{"client_id": {"web"}, "post_logout_redirect_uri": {"https://rp.example/bye"}, "state": {"s2"}}.Encode())
	if r.status != 200 || !strings.Contains(r.body, `name="decision" value="logout"`) {
		t.Fatalf("confirmation page: %d %s", r.status, r.body)
	}
	assertNoInlineScript(t, r)
	if !h.stillLoggedIn(b) {
		t.Fatal("logged out without confirmation")
	}
	action, csrf := page(t, r)
	stateField := regexpField(r.body, "logout_state")
	// A forged form (another site) has no valid CSRF token.
	if r := b.postForm(h.abs(action), url.Values{"csrf_token": {"forged"}, "decision": {"logout"}, "logout_state": {stateField}}); r.status != 403 {
		t.Errorf("forged confirmation: %d", r.status)
	}
	if r := b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "decision": {"stay"}, "logout_state": {stateField}}); r.status != 303 || !h.stillLoggedIn(b) {
		t.Errorf("stay signed in: %d", r.status)
	}
	r = b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "decision": {"logout"}, "logout_state": {stateField}})
	if r.status != 303 || r.header.Get("Location") != "https://rp.example/bye?state=s2" || h.stillLoggedIn(b) {
		t.Fatalf("confirmed logout: %d %q", r.status, r.header.Get("Location"))
	}
}

func TestLogoutErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, idt := h.loggedIn(t)
	for _, tc := range []struct {
		name string
		q    url.Values
	}{
		{"unregistered redirect", url.Values{"client_id": {"web"}, "post_logout_redirect_uri": {"https://evil.example/"}}},
		{"redirect without client", url.Values{"post_logout_redirect_uri": {"https://rp.example/bye"}}},
		{"forged hint", url.Values{"id_token_hint": {idt[:len(idt)-4] + "AAAA"}}},
		{"hint of another client", url.Values{"id_token_hint": {idt}, "client_id": {"post"}}},
		{"unknown client", url.Values{"client_id": {"nobody"}}},
	} {
		h.events.reset()
		r := h.browser().get(h.issuer + "/session/end?" + tc.q.Encode())
		if r.status != 400 || r.header.Get("Location") != "" || h.events.count(provider.EventEndSessionError) != 1 {
			t.Errorf("%s: %d %q %v", tc.name, r.status, r.header.Get("Location"), h.events.names())
		}
	}
	// No session: nothing to do, the redirect still happens.
	if r := h.browser().get(h.issuer + "/session/end?" + url.Values{"client_id": {"web"}, "post_logout_redirect_uri": {"https://rp.example/bye"}}.Encode()); r.status != 303 {
		t.Errorf("logout without a session: %d", r.status)
	}
}

func regexpField(body, name string) string {
	i := strings.Index(body, `name="`+name+`" value="`)
	if i < 0 {
		return ""
	}
	rest := body[i+len(`name="`+name+`" value="`):]
	v := rest[:strings.Index(rest, `"`)]
	return strings.ReplaceAll(v, "&amp;", "&")
}

// Back-channel logout: each client of the session gets a logout token that
// a relying party library verifies against the JWKS.
func TestBackchannelLogout(t *testing.T) {
	t.Parallel()
	rp := newLogoutReceiver(t)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer broken.Close()
	h := newHarness(t, func(c *provider.Config) {
		cs := testClients(t)
		cs["web"].BackchannelLogoutURI = rp.URL
		cs["trusted"].BackchannelLogoutURI = broken.URL
		c.Clients = cs
	})
	b, idt := h.loggedIn(t)
	_, ch := pkce("t")
	b.login(h.authorizeURL(map[string]string{"client_id": "trusted", "code_challenge": ch, "code_challenge_method": "S256"}), alicePassword)
	h.events.reset()
	if r := b.get(h.issuer + "/session/end?" + url.Values{"id_token_hint": {idt}}.Encode()); r.status != 200 {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if h.events.count(provider.EventBackchannelSuccess) != 1 || h.events.count(provider.EventBackchannelError) != 1 {
		t.Fatalf("events: %v", h.events.names())
	}
	tokens := rp.received()
	if len(tokens) != 1 {
		t.Fatalf("logout tokens received: %d", len(tokens))
	}
	set, _ := jwk.Parse([]byte(h.browser().get(h.issuer + "/jwks").body))
	tok, err := jwt.Parse([]byte(tokens[0]), jwt.WithKeySet(set), jwt.WithIssuer(h.issuer), jwt.WithAudience("web"), jwt.WithClock(jwt.ClockFunc(h.clock.now)))
	if err != nil {
		t.Fatalf("logout token rejected by jwx: %v", err)
	}
	var events map[string]any
	var sid string
	tok.Get("events", &events)
	tok.Get("sid", &sid)
	if _, ok := events["http://schemas.openid.net/event/backchannel-logout"]; !ok || sid == "" {
		t.Errorf("logout token claims: events=%v sid=%q", events, sid)
	}
	if tok.Has("nonce") {
		t.Errorf("a logout token must not contain nonce")
	}
	msg, _ := jws.Parse([]byte(tokens[0]))
	if typ, _ := msg.Signatures()[0].ProtectedHeaders().Type(); typ != "logout+jwt" {
		t.Errorf("typ = %q", typ)
	}
}

// "Stay signed in" on a confirmation with nowhere to return to says that the
// person is still signed in: the page never reports a logout that did not
// happen.
func TestStayingSignedInIsNotReportedAsSignedOut(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b, _ := h.loggedIn(t)
	r := b.get(h.issuer + "/session/end")
	if r.status != 200 || !strings.Contains(r.body, `name="decision" value="stay"`) {
		t.Fatalf("confirmation page: %d %s", r.status, r.body)
	}
	action, csrf := page(t, r)
	stateField := regexpField(r.body, "logout_state")
	r = b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "decision": {"stay"}, "logout_state": {stateField}})
	if r.status != 200 || !h.stillLoggedIn(b) {
		t.Fatalf("stay signed in: %d, still logged in %v", r.status, h.stillLoggedIn(b))
	}
	if strings.Contains(r.body, "signed out") || !strings.Contains(r.body, "You are still signed in") {
		t.Errorf("stay signed in answered with the wrong page:\n%s", r.body)
	}
	r = b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "decision": {"logout"}, "logout_state": {stateField}})
	if r.status != 200 || !strings.Contains(r.body, "You are signed out") || h.stillLoggedIn(b) {
		t.Fatalf("confirmed logout: %d, still logged in %v", r.status, h.stillLoggedIn(b))
	}
}
