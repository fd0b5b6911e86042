package provider_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

var (
	stylesheetLink = regexp.MustCompile(`<link rel="stylesheet" href="([^"]*)">`)
	pageLang       = regexp.MustCompile(`<html lang="([^"]*)">`)
)

// The pages the gate shows on a protected site are the provider's error
// page, not a bare line of text: a language, a main landmark and a heading
// that says what happened (WCAG 3.1.1, 1.3.1, 2.4.2), help in the browser's
// language, a way out (signing out for a denial, trying again after a
// failed sign-in), and the provider's stylesheets and logo, which live on
// the issuer's origin and so are fetched from there with the CSP allowing
// exactly that origin.
func TestGatePagesSpeakToPeople(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *provider.Config) { c.Branding = provider.Branding{Name: "Example Login", LogoURL: "/logo.svg"} })
	cases := []struct {
		name       string
		page       provider.GatePage
		lang       string
		status     int
		heading    string
		help       string
		linkHref   string
		linkText   string
		backToSite bool
	}{
		{"denied", provider.GatePageDenied, "en", http.StatusForbidden, "You may not see this page", "Sign out to use another account",
			provider.GateLogoutPath, "Sign out", false},
		{"denied in German", provider.GatePageDenied, "de", http.StatusForbidden, "Sie dürfen diese Seite nicht sehen", "Melden Sie sich ab",
			provider.GateLogoutPath, "Abmelden", false},
		{"needs a second factor", provider.GatePageNeedsSecondFactor, "en", http.StatusForbidden, "This page needs two-step verification", "your account has no authenticator set up",
			provider.GateLogoutPath, "Sign out", false},
		{"needs a second factor in French", provider.GatePageNeedsSecondFactor, "fr", http.StatusForbidden, "Cette page exige une validation en deux étapes", "aucune n’est configurée",
			provider.GateLogoutPath, "Se déconnecter", false},
		{"sign-in failed", provider.GatePageLoginFailed, "en", http.StatusBadRequest, "The sign-in could not be completed", "sign in again",
			gateOrigin + "/", "Return to app.example", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, gateOrigin+"/admin", nil)
			r.Header.Set("Accept-Language", c.lang)
			w := httptest.NewRecorder()
			h.p.RenderGatePage(w, r, c.page, gateOrigin)
			body := w.Body.String()
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, body)
			}
			if lang := pageLang.FindStringSubmatch(body); lang == nil || lang[1] != c.lang {
				t.Errorf("<html lang> %q, want %s", lang, c.lang)
			}
			if !strings.Contains(body, "<main") {
				t.Error("no main landmark")
			}
			h1 := pageHeading.FindStringSubmatch(body)
			if h1 == nil || h1[1] != c.heading {
				t.Errorf("heading %q, want %q", h1, c.heading)
			}
			if title := pageTitle.FindStringSubmatch(body); title == nil || !strings.HasPrefix(title[1], c.heading) || !strings.HasSuffix(title[1], "Example Login") {
				t.Errorf("title %q, want the heading and the service", title)
			}
			if !strings.Contains(strings.ReplaceAll(body, "&#39;", "'"), c.help) {
				t.Errorf("no help %q on the page: %s", c.help, body)
			}
			link := regexp.MustCompile(`<a class="button[^"]*" href="` + regexp.QuoteMeta(c.linkHref) + `">([^<]*)</a>`).FindStringSubmatch(body)
			if link == nil || link[1] != c.linkText {
				t.Errorf("link to %s: %q, want %q: %s", c.linkHref, link, c.linkText, body)
			}
			for _, css := range stylesheetLink.FindAllStringSubmatch(body, -1) {
				if !strings.HasPrefix(css[1], h.issuer+provider.PathAssets) {
					t.Errorf("stylesheet %s is not the issuer's", css[1])
				}
			}
			if n := len(stylesheetLink.FindAllString(body, -1)); n == 0 {
				t.Error("no stylesheet")
			}
			if !strings.Contains(body, `src="`+h.issuer+`/logo.svg"`) {
				t.Errorf("the logo path is not resolved against the issuer: %s", body)
			}
			csp := w.Header().Get("Content-Security-Policy")
			if !strings.Contains(csp, "style-src "+h.issuer+";") || !strings.Contains(csp, "img-src "+h.issuer+" data:") ||
				!strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("CSP %q: want the issuer's origin for styles and images, nothing else", csp)
			}
			if cc := w.Header().Get("Cache-Control"); !strings.Contains(cc, "no-store") {
				t.Errorf("Cache-Control %q", cc)
			}
			if w.Header().Get("Content-Language") != c.lang {
				t.Errorf("Content-Language %q", w.Header().Get("Content-Language"))
			}
		})
	}
}
