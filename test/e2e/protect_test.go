package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/oidcaddy/oidcaddy/internal/formflow"
)

// protectedSite is a Caddy with a provider on 127.0.0.1 and, on the host
// name localhost (another origin, so the gate's cookie and the provider's
// never mix), an app behind oidc_protect and reverse_proxy. The upstream
// is a process of its own that echoes what it receives (echo_upstream_test.go).
type protectedSite struct {
	srv       *caddyServer
	app       string // origin of the protected app
	upstream  *echoUpstream
	caddyfile string
}

// echoed is what the upstream answers: the identity headers it saw.
type echoed struct {
	Path      string `json:"path"`
	User      string `json:"user"`
	Email     string `json:"email"`
	Groups    string `json:"groups"`
	Assertion string `json:"assertion"`
	// CaddyUser is what reverse_proxy's header_up made of Caddy's own
	// {http.auth.user.id} placeholder.
	CaddyUser string `json:"caddy_user"`
	Reached   bool   `json:"reached"`
}

func startProtectedSite(t *testing.T) *protectedSite {
	t.Helper()
	return startProtectedSiteWith(t)
}

// startProtectedSiteWith is startProtectedSite with extra environment
// variables for the Caddy process (secrets its reloads refer to).
func startProtectedSiteWith(t *testing.T, env ...string) *protectedSite {
	t.Helper()
	up := startEchoUpstream(t)
	cfg := newSiteConfig(t)
	appPort := freePort(t)
	for appPort == cfg.SitePort || appPort == cfg.AdminPort {
		appPort = freePort(t)
	}
	caddyfile := fmt.Sprintf(`{
	admin 127.0.0.1:%[2]d
	persist_config off
}

http://localhost:%[3]d {
	bind 127.0.0.1
	oidc_protect {
		issuer %[1]s
		allow /api/* scope read
		allow /admin/* group admins
		allow * group staff
		bypass /healthz
		header_up X-Forwarded-User {oidc.sub} X-Forwarded-Email {oidc.email} X-Forwarded-Groups {oidc.groups}
		assertion X-Oidc-Assertion
	}
	reverse_proxy %[4]s {
		header_up X-Caddy-User {http.auth.user.id}
	}
	log
}

http://127.0.0.1:%[5]d {
	bind 127.0.0.1
	oidc_provider {
		issuer %[1]s
		storage %[6]s
		client api-caller {
			secret {env.DEMO_CLIENT_SECRET}
			grant_types client_credentials
			allowed_scopes read write
		}
		user demo {
			password_hash %[7]s
			subject demo-subject
			claim email demo@example.com
			groups staff
		}
		user outsider {
			password_hash %[7]s
			subject outsider-subject
		}
	}
}
`, cfg.Issuer(), cfg.AdminPort, appPort, strings.TrimPrefix(up.URL, "http://"), cfg.SitePort, cfg.StorageDir, demoPasswordHash)
	srv := startCaddyWith(t, cfg, []byte(caddyfile), env...)
	return &protectedSite{srv: srv, app: fmt.Sprintf("http://localhost:%d", appPort), upstream: up, caddyfile: caddyfile}
}

// navigate is a browser loading a page (Fetch Metadata says so), with
// extra request headers.
func navigate(t *testing.T, b *formflow.Browser, u string, hdr ...string) formflow.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Accept", "text/html")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	r, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// signIn follows a protected page's redirect through the provider's login
// and the gate's callback back to the page.
func (s *protectedSite) signIn(t *testing.T, b *formflow.Browser, page, login string) formflow.Response {
	t.Helper()
	return signInThroughGate(t, b, s.srv.cfg.Issuer(), s.app, page, login)
}

// signInThroughGate is signIn for the protected origin app of issuer.
func signInThroughGate(t *testing.T, b *formflow.Browser, issuer, app, page, login string) formflow.Response {
	t.Helper()
	r := navigate(t, b, app+page)
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location(), issuer+"/authorize?") {
		t.Fatalf("protected page without a session: %d %q %s", r.Status, r.Location(), r.Body)
	}
	r, err := b.Authorize(r.Location(), issuer+"/interaction/", 4, func(_ formflow.Response, f formflow.Form) (url.Values, error) {
		return url.Values{"login": {login}, "password": {"demo"}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location(), app+"/.oidc/callback?") {
		t.Fatalf("after login: %d %q %s", r.Status, r.Location(), r.Body)
	}
	r = navigate(t, b, r.Location())
	if r.Status != http.StatusSeeOther || (r.Location() != page && r.Location() != app+page) {
		t.Fatalf("callback: %d %q %s", r.Status, r.Location(), r.Body)
	}
	return navigate(t, b, app+page)
}

// clientCredentialsToken is an access token of the api-caller client
// (client_credentials) with scope.
func clientCredentialsToken(t *testing.T, issuer, scope string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, issuer+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("api-caller", demoClientSecret)
	tr, err := formflow.Do(http.DefaultClient, req)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err != nil || json.Unmarshal([]byte(tr.Body), &tok) != nil || tok.AccessToken == "" {
		t.Fatalf("token: %v %d %s", err, tr.Status, tr.Body)
	}
	return tok.AccessToken
}

func decodeEcho(t *testing.T, r formflow.Response) echoed {
	t.Helper()
	var e echoed
	if r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &e) != nil {
		t.Fatalf("want the upstream's answer, got %d %s", r.Status, r.Body)
	}
	return e
}

func TestProtectBrowserLoginHeadersAndLogout(t *testing.T) {
	s := startProtectedSite(t)
	b := formflow.New(nil)

	// Without a session: a spoofed identity header never reaches the
	// upstream (the bypassed path is proxied without sign-in), scripts get
	// 401 and pages go to the login.
	if e := decodeEcho(t, navigate(t, b, s.app+"/healthz", "X-Forwarded-User", "admin", "X-Oidc-Assertion", "forged")); e.User != "" || e.Assertion != "" {
		t.Fatalf("a spoofed header reached the upstream without a session: %+v", e)
	}
	api, _ := http.NewRequest(http.MethodGet, s.app+"/dashboard", nil)
	api.Header.Set("Accept", "application/json")
	if r, err := b.Do(api); err != nil || r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("a script without a session: %d %v %q", r.Status, err, r.Header.Get("WWW-Authenticate"))
	}

	e := decodeEcho(t, s.signIn(t, b, "/dashboard?tab=1", "demo"))
	if !e.Reached || e.User != "demo-subject" || e.Email != "demo@example.com" || e.Groups != "staff" {
		t.Fatalf("identity at the upstream: %+v", e)
	}
	// Caddy's own placeholder is set as its auth handlers set it: usable by
	// reverse_proxy header_up, and the access log's user_id.
	if e.CaddyUser != "demo-subject" {
		t.Errorf("{http.auth.user.id} at reverse_proxy: %q", e.CaddyUser)
	}
	if !s.srv.logEventuallyContains(`"user_id":"demo-subject"`) {
		t.Error("the access log has no user_id of the signed-in user")
	}
	// The signed assertion verifies with a standard OIDC library against
	// the provider's JWKS, with the site as audience.
	ctx := context.Background()
	op, err := oidc.NewProvider(ctx, s.srv.cfg.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := op.Verifier(&oidc.Config{ClientID: s.app}).Verify(ctx, e.Assertion)
	if err != nil {
		t.Fatalf("assertion: %v", err)
	}
	var claims struct {
		Email  string   `json:"email"`
		Groups []string `json:"groups"`
	}
	if err := tok.Claims(&claims); err != nil || tok.Subject != "demo-subject" || claims.Email != "demo@example.com" || len(claims.Groups) != 1 || claims.Groups[0] != "staff" {
		t.Fatalf("assertion claims: %v %s %+v", err, tok.Subject, claims)
	}
	if _, err := op.Verifier(&oidc.Config{ClientID: "http://other.example"}).Verify(ctx, e.Assertion); err == nil {
		t.Error("the assertion verified for another audience")
	}
	// With a session, a spoofed header is replaced, never passed on.
	if e := decodeEcho(t, navigate(t, b, s.app+"/dashboard", "X-Forwarded-User", "admin", "X-Forwarded-Groups", "admins")); e.User != "demo-subject" || e.Groups != "staff" {
		t.Fatalf("spoofed headers with a session: %+v", e)
	}
	// staff, not admins: 403.
	if r := navigate(t, b, s.app+"/admin/users"); r.Status != http.StatusForbidden || strings.Contains(r.Body, "reached") {
		t.Fatalf("admin page for a staff user: %d %s", r.Status, r.Body)
	}

	// RP-initiated logout on the provider (the site's logout path leads
	// there; the user confirms) ends the gate session: the next protected
	// request asks for login again.
	r := navigate(t, b, s.app+"/.oidc/logout")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location(), s.srv.cfg.Issuer()+"/session/end?") {
		t.Fatalf("site logout: %d %q", r.Status, r.Location())
	}
	// Sign in again, then log out at the provider only: the gate follows.
	e = decodeEcho(t, s.signIn(t, b, "/dashboard", "demo"))
	if e.User != "demo-subject" {
		t.Fatalf("second sign-in: %+v", e)
	}
	r = navigate(t, b, s.srv.cfg.Issuer()+"/session/end")
	forms := formflow.Forms(r.Body)
	if r.Status != http.StatusOK || len(forms) == 0 {
		t.Fatalf("logout confirmation: %d %s", r.Status, r.Body)
	}
	v := forms[0].Hidden
	v.Set("decision", "logout")
	if r, err := b.PostForm(formflow.Resolve(r.URL, forms[0].Action), v); err != nil || r.Status != http.StatusOK {
		t.Fatalf("confirmed logout: %d %v %s", r.Status, err, r.Body)
	}
	if r := navigate(t, b, s.app+"/dashboard"); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location(), s.srv.cfg.Issuer()+"/authorize?") {
		t.Fatalf("after the provider logout: %d %q %s", r.Status, r.Location(), r.Body)
	}
}

func TestProtectUserOutsideGroupGets403(t *testing.T) {
	s := startProtectedSite(t)
	b := formflow.New(nil)
	if r := s.signIn(t, b, "/dashboard", "outsider"); r.Status != http.StatusForbidden || strings.Contains(r.Body, "reached") {
		t.Fatalf("a user outside the group: %d %s", r.Status, r.Body)
	}
}

func TestProtectBearer(t *testing.T) {
	s := startProtectedSite(t)
	token := func(scope string) string { t.Helper(); return clientCredentialsToken(t, s.srv.cfg.Issuer(), scope) }
	call := func(path, tok string) formflow.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.app+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-Forwarded-User", "spoofed")
		r, err := formflow.Do(http.DefaultClient, req)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if e := decodeEcho(t, call("/api/items", token("read"))); e.User != "api-caller" {
		t.Fatalf("bearer with scope read: %+v", e)
	}
	r := call("/api/items", token("write"))
	if r.Status != http.StatusForbidden || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) ||
		!strings.Contains(r.Header.Get("WWW-Authenticate"), `scope="read"`) {
		t.Fatalf("bearer without scope read: %d %q", r.Status, r.Header.Get("WWW-Authenticate"))
	}
	r = call("/api/items", "not-a-token")
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) || r.Header.Get("Location") != "" {
		t.Fatalf("invalid bearer: %d %q", r.Status, r.Header.Get("WWW-Authenticate"))
	}
	// Each decision counted once, under its bounded label.
	got := gateDecisions(t, s.srv)
	for d, want := range map[string]float64{"allow": 1, "insufficient_scope": 1, "invalid_token": 1, "deny": 0, "login_required": 0} {
		if got[d] != want {
			t.Errorf("gate decisions %s = %v, want %v (all: %v)", d, got[d], want, got)
		}
	}
}

// gateDecisions reads oidc_provider_gate_decisions_total from the admin
// metrics, by decision.
func gateDecisions(t *testing.T, s *caddyServer) map[string]float64 {
	t.Helper()
	r, err := formflow.Do(http.DefaultClient, mustRequest(t, s.cfg.Admin()+"/metrics"))
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET /metrics: %v %d", err, r.Status)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(r.Body, "\n") {
		rest, ok := strings.CutPrefix(line, `oidc_provider_gate_decisions_total{decision="`)
		if !ok {
			continue
		}
		name, value, _ := strings.Cut(rest, `"} `)
		var v float64
		fmt.Sscanf(value, "%g", &v)
		out[name] = v
	}
	return out
}

func mustRequest(t *testing.T, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// reload loads a new Caddyfile through the admin API, as `caddy reload` does.
func (s *protectedSite) reload(t *testing.T, caddyfile string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.srv.cfg.Admin()+"/load", strings.NewReader(caddyfile))
	req.Header.Set("Content-Type", "text/caddyfile")
	r, err := formflow.Do(http.DefaultClient, req)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("admin /load: %v %d %s", err, r.Status, r.Body)
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	s.srv.awaitSettledReload(s.app + "/healthz")
}

// The gate finds the provider of the new configuration after a reload and
// the gate session lives on (it is in the provider's store). A reload to a
// gate whose issuer no provider of the configuration serves is refused with
// the reason, and the running configuration keeps serving.
func TestProtectAcrossReload(t *testing.T) {
	s := startProtectedSite(t)
	b := formflow.New(nil)
	if e := decodeEcho(t, s.signIn(t, b, "/dashboard", "demo")); e.User != "demo-subject" {
		t.Fatalf("sign-in: %+v", e)
	}
	s.reload(t, strings.Replace(s.caddyfile, "bypass /healthz", "bypass /healthz /public/*", 1))
	b.Client.Transport = &http.Transport{DisableKeepAlives: true}
	if e := decodeEcho(t, navigate(t, b, s.app+"/dashboard")); e.User != "demo-subject" {
		t.Fatalf("after the reload: %+v", e)
	}
	if e := decodeEcho(t, navigate(t, b, s.app+"/public/x")); e.User != "" {
		t.Fatalf("the new bypass: %+v", e)
	}
	orphan := orphanGate(t, s.caddyfile, s.srv.cfg.Issuer())
	req, _ := http.NewRequest(http.MethodPost, s.srv.cfg.Admin()+"/load", strings.NewReader(orphan))
	req.Header.Set("Content-Type", "text/caddyfile")
	r, err := formflow.Do(http.DefaultClient, req)
	if err != nil || r.Status == http.StatusOK || !strings.Contains(r.Body, "no oidc_provider in this configuration serves the issuer https://nobody.example") {
		t.Fatalf("admin /load of a gate without a provider: %v %d %s", err, r.Status, r.Body)
	}
	if e := decodeEcho(t, navigate(t, b, s.app+"/dashboard")); e.User != "demo-subject" {
		t.Fatalf("after the refused reload: %+v", e)
	}
}

// orphanGate is caddyfile with the gate's issuer changed to one that no
// provider serves.
func orphanGate(t *testing.T, caddyfile, issuer string) string {
	t.Helper()
	orphan := strings.Replace(caddyfile, "oidc_protect {\n\t\tissuer "+issuer, "oidc_protect {\n\t\tissuer https://nobody.example", 1)
	if orphan == caddyfile {
		t.Fatal("test bug: the issuer line was not replaced")
	}
	return orphan
}

// `caddy run` refuses a configuration whose gate names an issuer that no
// provider of the configuration serves, and says which.
func TestProtectWithoutProviderFailsRun(t *testing.T) {
	s := startProtectedSite(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "Caddyfile")
	// Other ports, so that this run does not collide with the running one
	// if it (wrongly) started.
	cf := orphanGate(t, s.caddyfile, s.srv.cfg.Issuer())
	cf = strings.NewReplacer(fmt.Sprintf("admin 127.0.0.1:%d", s.srv.cfg.AdminPort), fmt.Sprintf("admin 127.0.0.1:%d", freePort(t)),
		fmt.Sprintf("http://127.0.0.1:%d", s.srv.cfg.SitePort), fmt.Sprintf("http://127.0.0.1:%d", freePort(t))).Replace(cf)
	cf = strings.Replace(cf, "storage "+s.srv.cfg.StorageDir, "storage "+filepath.Join(dir, "store"), 1)
	if err := os.WriteFile(path, []byte(cf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, caddyBin, "run", "--config", path, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"DEMO_CLIENT_SECRET="+demoClientSecret)
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("caddy run with a gate whose issuer has no provider: err=%v ctx=%v\n%s", err, ctx.Err(), out)
	}
	if !strings.Contains(string(out), "no oidc_provider in this configuration serves the issuer https://nobody.example") {
		t.Errorf("caddy run does not say why:\n%s", out)
	}
}
