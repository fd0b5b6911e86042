package provider_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

func (b *browser) getIn(u, acceptLanguage string) response {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept-Language", acceptLanguage)
	return b.do(req)
}

// The pages follow Accept-Language, set <html lang> and tell caches that
// they vary by it.
func TestPagesFollowAcceptLanguage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	pageURL, _, _ := b.openLoginPage(t, h.authorizeURL(nil))
	for _, c := range []struct{ header, lang, heading, label string }{
		{"", "en", "<h1>Sign in</h1>", "Username"},
		{"de-DE,de;q=0.9,en;q=0.8", "de", "<h1>Anmelden</h1>", "Benutzername"},
		{"it;q=0.9, fr-CA;q=0.8, de;q=0.7", "fr", "<h1>Connexion</h1>", "Nom d’utilisateur"},
		{"ja", "en", "<h1>Sign in</h1>", "Username"},
	} {
		r := b.getIn(pageURL, c.header)
		if !strings.Contains(r.body, `<html lang="`+c.lang+`">`) || !strings.Contains(r.body, c.heading) || !strings.Contains(r.body, c.label) {
			t.Errorf("Accept-Language %q: want lang %s with %s and %s:\n%s", c.header, c.lang, c.heading, c.label, r.body)
		}
		if r.header.Get("Content-Language") != c.lang {
			t.Errorf("Content-Language %q, want %s", r.header.Get("Content-Language"), c.lang)
		}
		if !strings.Contains(r.header.Get("Vary"), "Accept-Language") {
			t.Errorf("Vary: %q", r.header.Get("Vary"))
		}
	}
	// Error pages too.
	r := b.getIn(h.authorizeURL(map[string]string{"client_id": "nobody"}), "de")
	if !strings.Contains(r.body, `<html lang="de">`) || !strings.Contains(r.body, "Diese Anwendung ist hier nicht bekannt") {
		t.Errorf("German error page:\n%s", r.body)
	}
}

// An operator adds a language, or rewords one, with messages/<lang>.json in
// the templates directory; missing keys fall back to English.
func TestOperatorAddsALanguage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "messages"), 0o700)
	os.WriteFile(filepath.Join(dir, "messages", "nl.json"), []byte(`{"login.heading": "Inloggen"}`), 0o600)
	os.WriteFile(filepath.Join(dir, "messages", "de.json"), []byte(`{"login.heading": "Einloggen"}`), 0o600)
	h := newHarness(t, func(c *provider.Config) { c.TemplatesDir = dir })
	b := h.browser()
	pageURL, _, _ := b.openLoginPage(t, h.authorizeURL(nil))
	if r := b.getIn(pageURL, "nl"); !strings.Contains(r.body, `<html lang="nl">`) || !strings.Contains(r.body, "<h1>Inloggen</h1>") || !strings.Contains(r.body, "Username") {
		t.Errorf("Dutch page:\n%s", r.body)
	}
	if r := b.getIn(pageURL, "de"); !strings.Contains(r.body, "<h1>Einloggen</h1>") || !strings.Contains(r.body, "Benutzername") {
		t.Errorf("reworded German page:\n%s", r.body)
	}
	os.WriteFile(filepath.Join(dir, "messages", "nl.json"), []byte(`{"login.title": "Inloggen bij {app}"}`), 0o600)
	if _, err := provider.New(provider.Config{Issuer: "https://x.example", Store: h.store, Clients: testClients(t), Accounts: &provider.StaticAccounts{}, Signer: h.keys, TemplatesDir: dir}); err == nil || !strings.Contains(err.Error(), "{app}") {
		t.Errorf("a placeholder the page does not fill was accepted: %v", err)
	}
	os.Remove(filepath.Join(dir, "messages", "nl.json"))
	os.WriteFile(filepath.Join(dir, "messages", "not a tag.json"), []byte(`{}`), 0o600)
	if _, err := provider.New(provider.Config{Issuer: "https://x.example", Store: h.store, Clients: testClients(t), Accounts: &provider.StaticAccounts{}, Signer: h.keys, TemplatesDir: dir}); err == nil {
		t.Error("a catalogue whose name is not a language tag was accepted")
	}
}

// Templates an operator copied before translations and branding existed
// (testdata/templates-v1: the built-ins of that time) still render every
// page, with the fields they use.
func TestTemplatesWrittenBeforeTranslationsStillRender(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withBob(t), func(c *provider.Config) { c.TemplatesDir = "testdata/templates-v1" })
	b := h.browser()
	pageURL, action, csrf := b.openLoginPage(t, h.authorizeURL(nil))
	r := b.postForm(h.abs(action), map[string][]string{"csrf_token": {csrf}, "login": {"alice"}, "password": {"wrong"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("wrong password: %d", r.status)
	}
	if pg := b.get(pageURL); pg.status != 200 || !strings.Contains(pg.body, "The username or password is not correct") || !strings.Contains(pg.body, `value="alice"`) {
		t.Errorf("old login.html after a wrong password: %d\n%s", pg.status, pg.body)
	}
	b.postForm(h.abs(action), map[string][]string{"csrf_token": {csrf}, "login": {"alice"}, "password": {alicePassword}})
	if pg := b.get(pageURL); pg.status != 200 || !strings.Contains(pg.body, "Allow access?") || !strings.Contains(pg.body, "See your email address") {
		t.Errorf("old consent.html: %d\n%s", pg.status, pg.body)
	}
	if pg := b.get(h.authorizeURL(map[string]string{"client_id": "nobody"})); pg.status != 400 || !strings.Contains(pg.body, "invalid_client") {
		t.Errorf("old error.html: %d\n%s", pg.status, pg.body)
	}
	if pg := b.get(h.issuer + "/device"); pg.status != 200 || !strings.Contains(pg.body, "Connect a device") {
		t.Errorf("old device.html: %d\n%s", pg.status, pg.body)
	}
	if pg := b.get(h.issuer + "/session/end"); pg.status != 200 || !strings.Contains(pg.body, "Sign out") {
		t.Errorf("old logout.html: %d\n%s", pg.status, pg.body)
	}
}
