package provider_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const (
	phishRedirect = "https://phish.example/cb"
	phishBye      = "https://phish.example/bye"
)

// registerPhisher registers, as anyone may under open registration, a client
// whose redirect URIs point at the registrant's own site.
func (h *harness) registerPhisher(t *testing.T) (id, secret string) {
	t.Helper()
	r := h.register(`{"redirect_uris":["`+phishRedirect+`"],"post_logout_redirect_uris":["`+phishBye+`"],"client_name":"Totally Legit"}`, "")
	if r.status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	info := jsonBody(t, r)
	return info["client_id"].(string), info["client_secret"].(string)
}

func wantErrorPage(t *testing.T, what string, r response) {
	t.Helper()
	if loc := r.header.Get("Location"); loc != "" || r.status != http.StatusBadRequest {
		t.Errorf("%s: %d Location %q, want an error page (400) and no redirect", what, r.status, loc)
	}
}

// RFC 9700 §4.11.2: a self-registered client's redirect URI is whatever its
// registrant chose, so an error answered by redirecting there at once turns
// the provider into an open redirector with a trustworthy-looking link. For
// such clients errors are shown on a page until the user has authenticated
// and approved the client (or acted on one of its pages); configured clients
// keep the immediate redirect (TestPromptNone).
func TestRegisteredClientErrorsDoNotRedirectBeforeTheUserActed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, openRegistration)
	id, secret := h.registerPhisher(t)
	_, challenge := pkce("p")
	authz := func(over map[string]string) string {
		m := map[string]string{"client_id": id, "redirect_uri": phishRedirect, "code_challenge": challenge, "code_challenge_method": "S256"}
		for k, v := range over {
			m[k] = v
		}
		return h.authorizeURL(m)
	}

	b := h.browser()
	wantErrorPage(t, "prompt=none without a session", b.get(authz(map[string]string{"prompt": "none"})))
	wantErrorPage(t, "unsupported response_type", b.get(authz(map[string]string{"response_type": "token"})))
	wantErrorPage(t, "invalid scope", b.get(authz(map[string]string{"scope": "email"})))

	// Logged in (for another client), but never approved this one.
	_, ch := pkce("t")
	b.login(h.authorizeURL(map[string]string{"client_id": "trusted", "code_challenge": ch, "code_challenge_method": "S256"}), alicePassword)
	wantErrorPage(t, "prompt=none, logged in, no consent", b.get(authz(map[string]string{"prompt": "none"})))

	// The user acted on the client's consent page: denying goes back to it.
	r := b.get(authz(nil))
	for range 2 {
		if loc := r.header.Get("Location"); r.status == http.StatusSeeOther && strings.Contains(loc, "/interaction/") {
			pg := b.get(h.abs(loc))
			action, csrf := page(t, pg)
			r = b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "decision": {"deny"}})
		}
	}
	if q := redirectParams(t, r, phishRedirect); q.Get("error") != "access_denied" {
		t.Errorf("denied consent: %v", q)
	}

	// Once the user has approved the client, its errors go back to it.
	q := b.login(authz(nil), alicePassword)
	if q.Get("code") == "" {
		t.Fatalf("approved login: %v", q)
	}
	if q := redirectParams(t, b.get(authz(map[string]string{"response_type": "token"})), phishRedirect); q.Get("error") != "unsupported_response_type" {
		t.Errorf("error for an approved registered client: %v", q)
	}
	if q := redirectParams(t, b.get(authz(map[string]string{"prompt": "none", "scope": "openid profile"})), phishRedirect); q.Get("error") != "consent_required" {
		t.Errorf("prompt=none with wider scope for an approved registered client: %v", q)
	}
	_ = secret
}

// RP-Initiated Logout 1.0 §3: without an id_token_hint the OP must not
// redirect after logout unless it has other means of trusting the target;
// for a self-registered client it has none. Configured clients keep the
// redirect (TestLogoutErrors).
func TestRegisteredClientPostLogoutRedirectNeedsIDTokenHint(t *testing.T) {
	t.Parallel()
	h := newHarness(t, openRegistration)
	id, secret := h.registerPhisher(t)
	logout := url.Values{"client_id": {id}, "post_logout_redirect_uri": {phishBye}, "state": {"s"}}

	// No session, no hint: the user sees the logged-out page, not the phisher's.
	if r := h.browser().get(h.issuer + "/session/end?" + logout.Encode()); r.status != http.StatusOK || r.header.Get("Location") != "" {
		t.Errorf("logout without session or hint: %d Location %q", r.status, r.header.Get("Location"))
	}

	// With an ID token the client got, the redirect happens.
	b := h.browser()
	verifier, challenge := pkce("h")
	q := b.login(h.authorizeURL(map[string]string{"client_id": id, "redirect_uri": phishRedirect, "code_challenge": challenge, "code_challenge_method": "S256"}), alicePassword)
	tr := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {phishRedirect}, "code_verifier": {verifier}}, id, secret)
	if tr.status != http.StatusOK {
		t.Fatalf("code exchange: %d %s", tr.status, tr.body)
	}
	idt := jsonBody(t, tr)["id_token"].(string)
	r := b.get(h.issuer + "/session/end?" + url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {phishBye}, "state": {"s"}}.Encode())
	if r.status != http.StatusSeeOther || r.header.Get("Location") != phishBye+"?state=s" {
		t.Errorf("logout with the client's id_token_hint: %d Location %q", r.status, r.header.Get("Location"))
	}
}
