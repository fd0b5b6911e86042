package provider_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

// An operator's template that fails while it renders answers a plain 500
// page, and is a server_error event like any other internal failure, so the
// server-error alert sees broken sign-in pages.
func TestBrokenOperatorTemplateIsAServerError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Parses, but fails on every execution: index out of range.
	if err := os.WriteFile(filepath.Join(dir, "login.html"), []byte(`<!DOCTYPE html><title>x</title>{{index .ClientName 9999}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *provider.Config) { c.TemplatesDir = dir })
	b := h.browser()
	r := b.get(h.authorizeURL(nil))
	if r.status != 303 {
		t.Fatalf("authorize: %d %s", r.status, r.body)
	}
	r = b.get(h.abs(r.header.Get("Location")))
	if r.status != 500 || !strings.Contains(r.body, "could not be rendered") {
		t.Fatalf("login page from a broken template: %d %s", r.status, r.body)
	}
	if h.events.count(provider.EventServerError) != 1 {
		t.Errorf("events: %v, want one server_error", h.events.names())
	}
}
