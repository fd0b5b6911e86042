package provider_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

// A relying party's back end (oauth2-proxy --backend-logout-url, zitadel's
// rp.EndSession) calls the end_session_endpoint with the ID token as
// id_token_hint and without the browser's cookie. The session the hint's
// sid names ends, with its back-channel notifications, as if the browser had
// come itself: afterwards prompt=none needs a login.
func TestServerSideLogoutEndsTheHintsSession(t *testing.T) {
	t.Parallel()
	var notified atomic.Int32
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if v, _ := url.ParseQuery(string(body)); v.Get("logout_token") != "" {
			notified.Add(1)
		}
	}))
	defer rp.Close()
	h := newHarness(t, func(c *provider.Config) {
		cs := testClients(t)
		cs["web"].BackchannelLogoutURI = rp.URL
		c.Clients = cs
	})
	b, idt := h.loggedIn(t)
	other, _ := h.loggedIn(t) // another browser, another session: untouched
	h.events.reset()

	backend := h.browser() // no cookies
	r := backend.get(h.issuer + "/session/end?" + url.Values{"id_token_hint": {idt}}.Encode())
	if r.status != 200 || !strings.Contains(r.body, "signed out") {
		t.Fatalf("server-side logout: %d %s", r.status, r.body)
	}
	if h.stillLoggedIn(b) {
		t.Fatal("the session named by the hint survived a server-side logout")
	}
	if !h.stillLoggedIn(other) {
		t.Error("another session ended too")
	}
	for name, want := range map[provider.EventName]int{provider.EventSessionDestroyed: 1, provider.EventEndSessionSuccess: 1, provider.EventBackchannelSuccess: 1} {
		if got := h.events.count(name); got != want {
			t.Errorf("%s = %d, want %d (%v)", name, got, want, h.events.names())
		}
	}
	if notified.Load() != 1 {
		t.Errorf("back-channel logout tokens: %d, want 1", notified.Load())
	}

	// The same hint again: the session is already gone; nothing more ends
	// and nobody is notified twice.
	h.events.reset()
	r = backend.get(h.issuer + "/session/end?" + url.Values{"id_token_hint": {idt}}.Encode())
	if r.status != 200 || h.events.count(provider.EventSessionDestroyed) != 0 || notified.Load() != 1 {
		t.Errorf("second server-side logout: %d, events %v, notified %d", r.status, h.events.names(), notified.Load())
	}
}

// zitadel's rp.EndSession posts the form and follows no redirect; a
// registered post_logout_redirect_uri is still where the answer points.
func TestServerSideLogoutByPost(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b, idt := h.loggedIn(t)
	form := url.Values{"id_token_hint": {idt}, "client_id": {"web"}, "post_logout_redirect_uri": {"https://rp.example/bye"}, "state": {"s9"}}
	r := h.browser().postForm(h.issuer+"/session/end", form)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "https://rp.example/bye?state=s9" {
		t.Fatalf("server-side logout by POST: %d %q %s", r.status, r.header.Get("Location"), r.body)
	}
	if h.stillLoggedIn(b) {
		t.Fatal("the session survived")
	}
}

// Re-authenticating in the same browser (prompt=login, max_age) gives a new
// session cookie but keeps the session's sid: relying parties know the
// session by the sid of the ID tokens they already hold (refreshed ID tokens
// carry it too), so a back end logging out with such a hint must end the
// live session rather than be told of a logout that did not happen.
func TestServerSideLogoutAfterReauthentication(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b, idt := h.loggedIn(t)
	h.clock.advance(61e9)
	if q := b.login(h.authorizeURL(map[string]string{"prompt": "login"}), alicePassword); q.Get("code") == "" {
		t.Fatalf("re-login: %v", q)
	}
	if !h.stillLoggedIn(b) {
		t.Fatal("not logged in after the re-login")
	}
	if r := h.browser().get(h.issuer + "/session/end?" + url.Values{"id_token_hint": {idt}}.Encode()); r.status != 200 {
		t.Fatalf("server-side logout: %d %s", r.status, r.body)
	}
	if h.stillLoggedIn(b) {
		t.Fatal("the re-authenticated session survived a logout with an ID token of that browser's session")
	}
}
