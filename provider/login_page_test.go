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

// openLoginPage starts an authorization and returns the login page's URL,
// form action and CSRF token.
func (b *browser) openLoginPage(t *testing.T, authURL string) (pageURL, action, csrf string) {
	t.Helper()
	r := b.get(authURL)
	pageURL = b.h.abs(r.header.Get("Location"))
	action, csrf = page(t, b.get(pageURL))
	if !strings.HasSuffix(action, "/login") {
		t.Fatalf("not a login page: %s", action)
	}
	return pageURL, action, csrf
}

// A wrong password sends the browser back to the login page by
// POST-redirect-GET: the history entry is a GET (Back never offers to resubmit
// the form), the page keeps the login name and says what went wrong, and the
// password is neither in the redirect nor stored with the interaction.
func TestWrongPasswordKeepsLoginByPostRedirectGet(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	pageURL, action, csrf := b.openLoginPage(t, h.authorizeURL(nil))
	const typed = "wrong-password-3f9a1c"
	r := b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "login": {"alice"}, "password": {typed}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("wrong password answered %d, want 303 to the login page", r.status)
	}
	if loc := h.abs(r.header.Get("Location")); loc != pageURL {
		t.Fatalf("redirected to %q, want the login page %q", loc, pageURL)
	}
	if strings.Contains(r.header.Get("Location"), typed) || strings.Contains(r.body, typed) {
		t.Fatal("the password is in the redirect")
	}
	pg := b.get(pageURL)
	if pg.status != http.StatusOK {
		t.Fatalf("login page after the redirect: %d", pg.status)
	}
	if !strings.Contains(pg.body, `name="login" type="text"`) || !strings.Contains(pg.body, `value="alice"`) {
		t.Errorf("the login name is not kept:\n%s", pg.body)
	}
	if !strings.Contains(pg.body, `role="alert"`) || !strings.Contains(pg.body, "The username or password is not correct") {
		t.Errorf("no error message on the page:\n%s", pg.body)
	}
	if strings.Contains(pg.body, typed) {
		t.Error("the password is on the page")
	}
	// The error is in the title, which screen readers read first, and the
	// fields point at it.
	if !strings.Contains(pg.body, "<title>Error: Sign in to Web App") || !strings.Contains(pg.body, `aria-describedby="form-error"`) {
		t.Errorf("the error is not in the title or not tied to the fields:\n%s", pg.body)
	}
	uid := pageURL[strings.LastIndex(pageURL, "/")+1:]
	rec, err := h.store.Get(context.Background(), provider.KindInteraction, uid)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rec.Payload), typed) {
		t.Error("the password is stored with the interaction")
	}
	// Reloading the page (what Back does) is a plain GET that shows the
	// same page, and the right password then completes the flow.
	if again := b.get(pageURL); again.status != http.StatusOK || !strings.Contains(again.body, `value="alice"`) {
		t.Errorf("reload: %d", again.status)
	}
	r = b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "login": {"alice"}, "password": {alicePassword}})
	if r.status != http.StatusSeeOther || strings.HasPrefix(h.abs(r.header.Get("Location")), h.issuer+"/interaction/") && !strings.Contains(b.get(h.abs(r.header.Get("Location"))).body, "/consent") {
		t.Fatalf("right password after a wrong one: %d %s", r.status, r.header.Get("Location"))
	}
}

// An empty password is the same PRG, and an over-long login name is not
// put back into the page.
func TestEmptyPasswordAsksAgainByPostRedirectGet(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	pageURL, action, csrf := b.openLoginPage(t, h.authorizeURL(nil))
	r := b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "login": {"alice"}})
	if r.status != http.StatusSeeOther || h.abs(r.header.Get("Location")) != pageURL {
		t.Fatalf("empty password: %d to %q", r.status, r.header.Get("Location"))
	}
	if pg := b.get(pageURL); !strings.Contains(pg.body, "Enter your username and password.") || !strings.Contains(pg.body, `value="alice"`) {
		t.Errorf("page after an empty password:\n%s", pg.body)
	}
	long := strings.Repeat("x", 300)
	b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "login": {long}, "password": {"p"}})
	if pg := b.get(pageURL); strings.Contains(pg.body, long) {
		t.Error("an over-long login name is echoed")
	}
}

// The interaction keeps its deadline when it is saved again (the consent
// step, a failed login): before, the re-saved record had no expiry and a
// consent page stayed usable for ever.
func TestInteractionKeepsItsExpiryWhenSavedAgain(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	pageURL, action, csrf := b.openLoginPage(t, h.authorizeURL(nil))
	r := b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "login": {"alice"}, "password": {alicePassword}})
	if h.abs(r.header.Get("Location")) != pageURL {
		t.Fatalf("after the login: %d %q, want the consent page", r.status, r.header.Get("Location"))
	}
	if action, _ := page(t, b.get(pageURL)); !strings.HasSuffix(action, "/consent") {
		t.Fatalf("not the consent page: %s", action)
	}
	h.clock.advance(11 * time.Minute)
	if r := b.get(pageURL); r.status != http.StatusBadRequest || !strings.Contains(r.body, "This sign-in page has expired") {
		t.Fatalf("the page 11 minutes later: %d\n%s", r.status, r.body)
	}
}
