package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/internal/formflow"
)

// A rule with max_age, in the real Caddy: a user whose sign-in is older is
// sent through the provider's login again with max_age (the provider asks
// for the password, not just a code), then reaches the page; a bearer token
// gets RFC 9470's insufficient_user_authentication challenge.
func TestProtectMaxAgeSignsInAgain(t *testing.T) {
	s := startProtectedSite(t)
	withMaxAge := strings.Replace(s.caddyfile, "\t\tallow /api/* scope read\n",
		"\t\tallow /api/recent/* scope read max_age 8s\n\t\tallow /api/* scope read\n\t\tallow /recent/* group staff max_age 8s\n", 1)
	if withMaxAge == s.caddyfile {
		t.Fatal("test bug: the rules were not replaced")
	}
	s.reload(t, withMaxAge)
	s.caddyfile = withMaxAge

	b := formflow.New(nil)
	b.Client.Transport = &http.Transport{DisableKeepAlives: true}
	if e := decodeEcho(t, s.signIn(t, b, "/dashboard", "demo")); e.User != "demo-subject" {
		t.Fatalf("sign-in: %+v", e)
	}
	before := gateDecisions(t, s.srv)

	// Let the sign-in grow older than 8 s (whole seconds, so 9 s to be sure).
	// After the re-login below the next requests then have 8 s to pass the
	// rule, a wide margin for a busy CI machine.
	time.Sleep(9 * time.Second)
	r := navigate(t, b, s.app+"/recent/report")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location(), s.srv.cfg.Issuer()+"/authorize?") {
		t.Fatalf("a stale sign-in on a max_age path: %d %q %s", r.Status, r.Location(), r.Body)
	}
	u, _ := url.Parse(r.Location())
	if u.Query().Get("max_age") != "8" {
		t.Fatalf("the new login does not carry max_age=8: %s", r.Location())
	}
	// Still fine where no max_age applies.
	if e := decodeEcho(t, navigate(t, b, s.app+"/dashboard")); e.User != "demo-subject" {
		t.Fatalf("a path without max_age: %+v", e)
	}
	// The provider asks for the password again (a login form, not a code).
	passwordAsked := false
	r, err := b.Authorize(r.Location(), s.srv.cfg.Issuer()+"/interaction/", 4, func(_ formflow.Response, f formflow.Form) (url.Values, error) {
		passwordAsked = true
		return url.Values{"login": {"demo"}, "password": {"demo"}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !passwordAsked || r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location(), s.app+"/.oidc/callback?") {
		t.Fatalf("re-login: password asked %v, %d %q", passwordAsked, r.Status, r.Location())
	}
	r = navigate(t, b, r.Location())
	if r.Status != http.StatusSeeOther || (r.Location() != "/recent/report" && r.Location() != s.app+"/recent/report") {
		t.Fatalf("callback: %d %q", r.Status, r.Location())
	}
	if e := decodeEcho(t, navigate(t, b, s.app+"/recent/report")); e.User != "demo-subject" || e.Path != "/recent/report" {
		t.Fatalf("after signing in again: %+v", e)
	}

	// A client's own token has no user sign-in a max age could accept.
	api, _ := http.NewRequest(http.MethodGet, s.app+"/api/recent/x", nil)
	api.Header.Set("Authorization", "Bearer "+clientCredentialsToken(t, s.srv.cfg.Issuer(), "read"))
	r, err = formflow.Do(http.DefaultClient, api)
	challenge := r.Header.Get("WWW-Authenticate")
	if err != nil || r.Status != http.StatusUnauthorized || !strings.Contains(challenge, `error="insufficient_user_authentication"`) || !strings.Contains(challenge, `max_age="8"`) {
		t.Fatalf("bearer on a max_age path: %v %d %q", err, r.Status, challenge)
	}

	// The step-ups count as login_required, the rest as before.
	after := gateDecisions(t, s.srv)
	if got := after["login_required"] - before["login_required"]; got != 2 {
		t.Errorf("login_required grew by %v, want 2 (the re-login and the bearer challenge): %v", got, after)
	}
	if got := after["allow"] - before["allow"]; got != 2 {
		t.Errorf("allow grew by %v, want 2: %v", got, after)
	}
}
