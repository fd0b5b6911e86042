package provider_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

// withBob adds a second user, bob, with alice's password.
func withBob(tb testing.TB) func(*provider.Config) {
	return func(c *provider.Config) {
		accounts, err := provider.NewStaticAccounts(
			provider.User{Login: "alice", Subject: "alice-sub", PasswordHash: hashPassword(tb), Claims: map[string]any{"name": "Alice Liddell", "email": "alice@example.com"}},
			provider.User{Login: "bob", Subject: "bob-sub", PasswordHash: hashPassword(tb), Claims: map[string]any{"name": "Bob Builder"}},
		)
		if err != nil {
			tb.Fatal(err)
		}
		c.Accounts = accounts
	}
}

// The consent page says which account is signed in, offers "Not you? Use
// another account", which really runs a new login for the same request,
// and makes Allow the primary button.
func TestConsentShowsAccountAndSwitchesAccount(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withBob(t))
	b := h.browser()
	pageURL, action, csrf := b.openLoginPage(t, h.authorizeURL(nil))
	b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "login": {"alice"}, "password": {alicePassword}})
	consent := b.get(pageURL)
	if !strings.Contains(consent.body, "Signed in as <strong>Alice Liddell (alice@example.com)</strong>") {
		t.Fatalf("the consent page does not show the account:\n%s", consent.body)
	}
	if !strings.Contains(consent.body, `value="allow" class="primary"`) || strings.Contains(consent.body, `value="deny" class="primary"`) {
		t.Errorf("Allow is not the (only) primary button:\n%s", consent.body)
	}
	if strings.Index(consent.body, `value="allow"`) > strings.Index(consent.body, `value="deny"`) {
		t.Error("Allow does not come first")
	}
	if !strings.Contains(consent.body, "Not you? Use another account") {
		t.Fatalf("no way to use another account:\n%s", consent.body)
	}
	// "Not you?" with a forged token is refused; with the page's token it
	// leads to a login page for the same request.
	if r := b.postForm(pageURL+"/switch", url.Values{"csrf_token": {"forged"}}); r.status != http.StatusForbidden {
		t.Errorf("switch with a forged token: %d", r.status)
	}
	r := b.postForm(pageURL+"/switch", url.Values{"csrf_token": {csrf}})
	if r.status != http.StatusSeeOther || h.abs(r.header.Get("Location")) != pageURL {
		t.Fatalf("switch: %d to %q", r.status, r.header.Get("Location"))
	}
	loginAction, _ := page(t, b.get(pageURL))
	if !strings.HasSuffix(loginAction, "/login") {
		t.Fatalf("after switching, not a login page: %s", loginAction)
	}
	// A consent answer while the new login is pending is refused.
	if r := b.postForm(pageURL+"/consent", url.Values{"csrf_token": {csrf}, "decision": {"allow"}}); r.status != http.StatusBadRequest {
		t.Errorf("consent before the new login: %d", r.status)
	}
	b.postForm(h.abs(loginAction), url.Values{"csrf_token": {csrf}, "login": {"bob"}, "password": {alicePassword}})
	consent = b.get(pageURL)
	if !strings.Contains(consent.body, "Signed in as <strong>Bob Builder</strong>") {
		t.Fatalf("after the new login the consent page does not show bob:\n%s", consent.body)
	}
	r = b.postForm(pageURL+"/consent", url.Values{"csrf_token": {csrf}, "decision": {"allow"}})
	q := redirectParams(t, r, webRedirect)
	if q.Get("code") == "" || q.Get("state") != "st-123" {
		t.Fatalf("no code after switching accounts: %v", q)
	}
	tok := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {webRedirect}}, "web", webSecret)
	if tok.status != http.StatusOK {
		t.Fatalf("token: %d %s", tok.status, tok.body)
	}
	idt, _ := jsonBody(t, tok)["id_token"].(string)
	parts := strings.Split(idt, ".")
	if len(parts) != 3 || !strings.Contains(decodeSegment(t, parts[1]), `"sub":"bob-sub"`) {
		t.Fatalf("the ID token is not bob's: %s", idt)
	}
	// Switching is offered only on the consent step.
	if r := b.postForm(pageURL+"/switch", url.Values{"csrf_token": {csrf}}); r.status != http.StatusBadRequest {
		t.Errorf("switch on a finished interaction: %d", r.status)
	}
}
