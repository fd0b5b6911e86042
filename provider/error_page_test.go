package provider_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var (
	pageTitle   = regexp.MustCompile(`<title>([^<]*)</title>`)
	pageHeading = regexp.MustCompile(`<h1>([^<]*)</h1>`)
	backLink    = regexp.MustCompile(`<a class="button primary" href="([^"]*)">([^<]*)</a>`)
)

// Error pages speak to a person: a heading that says what happened, what to
// do, the page title to match, the OAuth code only in small print, and a way
// back to the application when the client is known, never to the
// redirect_uri that could not be trusted.
func TestErrorPagesSpeakToPeople(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	cases := []struct {
		name, url      string
		status         int
		heading, help  string
		code, backHref string
	}{
		{"unknown client", h.authorizeURL(map[string]string{"client_id": "nobody"}), 400,
			"This application is not known here", "Contact the application's support", "invalid_client", ""},
		{"unregistered redirect_uri", h.authorizeURL(map[string]string{"redirect_uri": "https://evil.example/cb"}), 400,
			"The application's sign-in request could not be accepted", "Go back to the application and try again", "invalid_request", "https://rp.example/"},
		{"no such interaction", h.issuer + "/interaction/doesnotexist", 400,
			"This sign-in page has expired", "sign in again", "invalid_request", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := b.get(c.url)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			h1 := pageHeading.FindStringSubmatch(r.body)
			if h1 == nil || !strings.Contains(strings.ReplaceAll(h1[1], "&#39;", "'"), c.heading) {
				t.Errorf("heading %q, want %q", h1, c.heading)
			}
			if title := pageTitle.FindStringSubmatch(r.body); title == nil || !strings.HasPrefix(strings.ReplaceAll(title[1], "&#39;", "'"), c.heading) {
				t.Errorf("title %q does not start with the heading %q", title, c.heading)
			}
			if !strings.Contains(strings.ReplaceAll(r.body, "&#39;", "'"), c.help) {
				t.Errorf("no help %q on the page", c.help)
			}
			if !strings.Contains(r.body, `<p class="code">`) || !strings.Contains(r.body, "<code>"+c.code+"</code>") {
				t.Errorf("the code %s is not in the small print", c.code)
			}
			if strings.Contains(h1[1], "_") {
				t.Errorf("protocol jargon in the heading: %q", h1[1])
			}
			link := backLink.FindStringSubmatch(r.body)
			switch {
			case c.backHref == "" && link != nil:
				t.Errorf("a way back to %q where no client is known", link[1])
			case c.backHref != "" && (link == nil || link[1] != c.backHref):
				t.Errorf("way back %q, want %q", link, c.backHref)
			}
			if strings.Contains(r.body, `href="https://evil.example`) {
				t.Error("the page links to the unregistered redirect_uri")
			}
		})
	}
}

// A broken step of a known client's sign-in (a stale form) leads back to
// that client.
func TestInteractionErrorLeadsBackToTheClient(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	_, action, _ := b.openLoginPage(t, h.authorizeURL(nil))
	r := b.postForm(h.abs(action), map[string][]string{"csrf_token": {"stale"}, "login": {"alice"}, "password": {"x"}})
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "This form has expired") {
		t.Fatalf("stale form: %d\n%s", r.status, r.body)
	}
	link := backLink.FindStringSubmatch(r.body)
	if link == nil || link[1] != "https://rp.example/" || !strings.Contains(link[2], "Web App") {
		t.Errorf("way back: %q", link)
	}
}
