package e2e

// oidc_protect in headless Chromium: the real Caddy binary gates an app on
// another host of the same Caddy, a real upstream server behind it, and a
// browser that signs in by typing into the provider's login form.

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// spoofedIdentity is what a hostile browser adds to every request it sends.
var spoofedIdentity = network.Headers{
	"X-Forwarded-User":   "admin",
	"X-Forwarded-Email":  "admin@example.com",
	"X-Forwarded-Groups": "admins",
	"X-Oidc-Assertion":   "forged",
}

// upstreamSaw is the echo upstream's answer as Chromium shows it, or fails
// when the page is not the upstream's (a login page, a 403).
func upstreamSaw(t *testing.T, tab *pageTab, wantURL string) echoed {
	t.Helper()
	if u := evalJS[string](tab, `location.href`); u != wantURL {
		t.Fatalf("the browser is at %s, want %s (page: %q)", u, wantURL, tab.text("body"))
	}
	var e echoed
	body := tab.text("body")
	if status := tab.documentStatus(); status != http.StatusOK || json.Unmarshal([]byte(body), &e) != nil || !e.Reached {
		t.Fatalf("want the upstream's answer at %s, got %d %q", wantURL, status, body)
	}
	return e
}

// onLoginPage checks that the browser is at the provider's sign-in form.
func onLoginPage(t *testing.T, tab *pageTab, issuer, after string) {
	t.Helper()
	if u := evalJS[string](tab, `location.href`); !strings.HasPrefix(u, issuer+"/interaction/") || tab.text("h1") != "Sign in" {
		t.Fatalf("%s: the browser is at %s with heading %q, want the provider's login page", after, u, tab.text("h1"))
	}
}

// onGatePage checks that the browser shows one of the gate's own pages
// with this status and heading, styled by the issuer's stylesheets (which
// the page's CSP must let it load from the other origin), then runs the
// accessibility checks on it.
func onGatePage(t *testing.T, tab *pageTab, name string, status int64, heading string) {
	t.Helper()
	if got, body := tab.documentStatus(), tab.text("body"); got != status || strings.Contains(body, "reached") {
		t.Fatalf("%s: %d %q, want %d and not the upstream", name, got, body, status)
	}
	if h1 := tab.text("h1"); h1 != heading {
		t.Errorf("%s: heading %q, want %q", name, h1, heading)
	}
	if radius := evalJS[string](tab, `getComputedStyle(document.querySelector("main")).borderTopLeftRadius`); radius == "0px" {
		t.Errorf("%s: the page is not styled (the issuer's stylesheet did not load)", name)
	}
	tab.inspect(name)
}

// signInAs types the account into the login form and submits it.
func signInAs(tab *pageTab, login string) {
	tab.do(chromedp.SendKeys(chromedp.CSS("#login"), login), chromedp.SendKeys(chromedp.CSS("#password"), "demo"))
	tab.clickTo("button.primary")
}

func (p *pageTab) cookies(urls ...string) map[string]*network.Cookie {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, time.Minute)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: urls})
	if err != nil {
		p.t.Fatal(err)
	}
	out := map[string]*network.Cookie{}
	for _, c := range res.Cookies {
		out[c.Name] = c
	}
	return out
}

// A browser opens a protected page, signs in at the provider on another
// host, and reaches the upstream with its identity (never the one it
// forged); the gate cookie is host-only, HttpOnly, SameSite=Lax and small;
// a user outside the group gets an accessible 403 page; logging out at the
// provider, through the site's logout path or at its end_session endpoint,
// sends the next protected navigation to the login page again.
func TestProtectInChromium(t *testing.T) {
	tab := newTab(t) // first: it skips when Chromium is missing
	s := startProtectedSite(t)
	issuer := s.srv.cfg.Issuer()
	tab.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: spoofedIdentity})
		return err
	}))

	// Without a session a bypassed path is proxied, with none of the
	// forged headers.
	tab.open(s.app + "/healthz")
	if e := upstreamSaw(t, tab, s.app+"/healthz"); e.User != "" || e.Email != "" || e.Groups != "" || e.Assertion != "" {
		t.Fatalf("forged identity headers reached the upstream without a session: %+v", e)
	}

	// A protected page leads to the provider's login page.
	tab.open(s.app + "/dashboard?tab=1")
	onLoginPage(t, tab, issuer, "a protected page without a session")
	tab.inspect("login through the gate")

	// Signing in leads back to the page, and the upstream sees who signed
	// in, not who the browser claims to be.
	signInAs(tab, "demo")
	e := upstreamSaw(t, tab, s.app+"/dashboard?tab=1")
	if e.Path != "/dashboard" || e.User != "demo-subject" || e.Email != "demo@example.com" || e.Groups != "staff" || e.Assertion == "forged" || e.Assertion == "" {
		t.Fatalf("identity at the upstream: %+v", e)
	}

	// The gate cookie as Chromium keeps it: an opaque id for the app's host
	// only, out of scripts' reach, not sent on cross-site subrequests; the
	// login cookie is gone.
	jar := tab.cookies(s.app + "/")
	gate := jar["oidcaddy_gate"]
	if gate == nil {
		t.Fatalf("no gate cookie for %s: %v", s.app, jar)
	}
	if gate.Domain != "localhost" || !gate.HTTPOnly || gate.SameSite != network.CookieSameSiteLax || gate.Path != "/" || !gate.Session {
		t.Errorf("gate cookie: domain %q (want host-only localhost), HttpOnly %v, SameSite %q, path %q, session %v",
			gate.Domain, gate.HTTPOnly, gate.SameSite, gate.Path, gate.Session)
	}
	if gate.Size > 64 {
		t.Errorf("gate cookie is %d bytes, want an opaque id", gate.Size)
	}
	if _, ok := jar["oidcaddy_gate_login"]; ok {
		t.Error("the login cookie outlived the callback")
	}
	if evalJS[string](tab, `document.cookie`) != "" {
		t.Error("a script on the protected site can read the gate cookies")
	}
	if _, ok := tab.cookies(issuer + "/")["oidcaddy_gate"]; ok {
		t.Error("the gate cookie is sent to the issuer's host")
	}

	// staff, not admins: the 403 page, which the upstream never sees.
	tab.open(s.app + "/admin/users")
	onGatePage(t, tab, "403 for a staff user", http.StatusForbidden, "You may not see this page")

	// RP-initiated logout through the site's logout path (the 403 page's
	// link): the provider asks, the user confirms, and the next protected
	// page asks for login again.
	tab.clickTo(`a[href="/.oidc/logout"]`)
	if h1 := tab.text("h1"); h1 != "Sign out?" || !strings.HasPrefix(evalJS[string](tab, `location.href`), issuer+"/session/end") {
		t.Fatalf("the site's logout path led to %q", h1)
	}
	tab.clickTo("button[value=logout]")
	if _, ok := tab.cookies(s.app + "/")["oidcaddy_gate"]; ok {
		t.Error("the gate cookie outlived the site's logout")
	}
	tab.open(s.app + "/dashboard")
	onLoginPage(t, tab, issuer, "after the logout through the site")

	// A user outside the group signs in and gets 403.
	signInAs(tab, "outsider")
	if u := evalJS[string](tab, `location.href`); u != s.app+"/dashboard" {
		t.Fatalf("after the outsider's sign-in the browser is at %s", u)
	}
	onGatePage(t, tab, "403 for a user outside the group", http.StatusForbidden, "You may not see this page")

	// Logout at the provider's own end_session endpoint: the gate cookie
	// stays in the browser but no longer opens the site.
	tab.open(issuer + "/session/end")
	tab.clickTo("button[value=logout]")
	if h1 := tab.text("h1"); h1 != "You are signed out" {
		t.Fatalf("after signing out at the provider: %q", h1)
	}
	if _, ok := tab.cookies(s.app + "/")["oidcaddy_gate"]; !ok {
		t.Fatal("test premise: the gate cookie should still be in the browser")
	}
	tab.open(s.app + "/dashboard")
	onLoginPage(t, tab, issuer, "after the logout at the provider")

	// A callback that cannot complete (a state this browser's login did
	// not start) says so and leads back to the site, which signs in anew.
	tab.open(s.app + "/.oidc/callback?code=stale&state=stale")
	onGatePage(t, tab, "failed sign-in", http.StatusBadRequest, "The sign-in could not be completed")
	tab.clickTo("a.button")
	onLoginPage(t, tab, issuer, "after the failed sign-in's way back")

	// Signing in again works, still with the real identity only.
	signInAs(tab, "demo")
	if e := upstreamSaw(t, tab, s.app+"/"); e.User != "demo-subject" || e.Groups != "staff" {
		t.Fatalf("after signing in again: %+v", e)
	}
}
