package provider_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

var brandCSSLink = regexp.MustCompile(`<link rel="stylesheet" href="([^"]*brand\.css[^"]*)">`)

// The operator names the service, sets a logo and a primary colour; the name
// shows on every page, the colour reaches the pages through a stylesheet of
// this origin (no inline style: the CSP keeps style-src 'self').
func TestBrandingNameLogoAndColour(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *provider.Config) {
		c.Branding = provider.Branding{Name: "Example Login", LogoURL: "https://cdn.example:8443/logo.svg", PrimaryColor: "#0B5FFF"}
	})
	b := h.browser()
	pageURL, _, _ := b.openLoginPage(t, h.authorizeURL(nil))
	for _, u := range []string{pageURL, h.authorizeURL(map[string]string{"client_id": "nobody"}), h.issuer + "/device", h.issuer + "/session/end"} {
		r := b.get(u)
		if !strings.Contains(r.body, `<span class="brand-name">Example Login</span>`) || !strings.Contains(r.body, " – Example Login</title>") {
			t.Errorf("%s does not name the service:\n%s", u, r.body)
		}
		if !strings.Contains(r.body, `<img class="brand-logo" src="https://cdn.example:8443/logo.svg" alt="">`) {
			t.Errorf("%s has no logo", u)
		}
		csp := r.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "img-src 'self' data: https://cdn.example:8443;") || !strings.Contains(csp, "style-src 'self';") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s CSP: %s", u, csp)
		}
	}
	link := brandCSSLink.FindStringSubmatch(b.get(pageURL).body)
	if link == nil {
		t.Fatal("no brand.css link")
	}
	css := b.get(h.abs(link[1]))
	if css.status != 200 || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") {
		t.Fatalf("brand.css: %d %s", css.status, css.header.Get("Content-Type"))
	}
	if !strings.Contains(css.body, "--primary: #0B5FFF;") || !strings.Contains(css.body, "--on-primary: #ffffff;") {
		t.Errorf("brand.css:\n%s", css.body)
	}
}

// A light colour gets dark button text; the name defaults to the issuer's
// host.
func TestBrandingDefaultsAndTextColour(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *provider.Config) { c.Branding = provider.Branding{PrimaryColor: "#ffd"} })
	b := h.browser()
	pageURL, _, _ := b.openLoginPage(t, h.authorizeURL(nil))
	pg := b.get(pageURL)
	host := strings.TrimPrefix(h.issuer, "http://")
	host = host[:strings.LastIndex(host, ":")]
	if !strings.Contains(pg.body, `<span class="brand-name">`+host+`</span>`) {
		t.Errorf("default service name is not %s:\n%s", host, pg.body)
	}
	link := brandCSSLink.FindStringSubmatch(pg.body)
	if css := b.get(h.abs(link[1])); !strings.Contains(css.body, "--on-primary: #000000;") {
		t.Errorf("brand.css for a light colour:\n%s", css.body)
	}
}

// Only a strict #rgb/#rrggbb colour reaches the stylesheet, and only a path
// or an https URL with a plain host reaches the CSP.
func TestBrandingRefusesUnsafeValues(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, br := range []provider.Branding{
		{PrimaryColor: "red"},
		{PrimaryColor: "#0b5fff; } body { display:none"},
		{PrimaryColor: "#0b5fff\n"},
		{PrimaryColor: "#12345"},
		{PrimaryColor: "var(--x)"},
		{LogoURL: "javascript:alert(1)"},
		{LogoURL: "http://cdn.example/logo.svg"},
		{LogoURL: "https://cdn.example/logo.svg; script-src *"},
		{LogoURL: "//cdn.example/logo.svg"},
		{LogoURL: "logo.svg"},
		{LogoURL: "https://user@cdn.example/logo.svg"},
		{Name: strings.Repeat("n", 101)},
		{Name: "two\nlines"},
	} {
		_, err := provider.New(provider.Config{Issuer: "https://x.example", Store: h.store, Clients: testClients(t), Accounts: &provider.StaticAccounts{}, Signer: h.keys, Branding: br})
		if err == nil {
			t.Errorf("%+v was accepted", br)
		}
	}
}
