package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

const (
	exampleCaddyfile = "../../Caddyfile.example"
	readmeFile       = "../../README.md"
)

// TestAccessLogFilterKeepsCodesAndIDTokensOut runs a real Caddy with two
// access logs on the provider's site: the `log` block of Caddyfile.example
// (the filter the README recommends) and a plain JSON one. A code flow and an
// RP-initiated logout with id_token_hint then go through the server. The
// plain log must hold the code (in resp_headers.Location) and the ID token (in
// request.uri): that is the leak, and what makes this test able to fail. The
// filtered log must hold neither, yet still log those very requests.
func TestAccessLogFilterKeepsCodesAndIDTokensOut(t *testing.T) {
	snippet := exampleAccessLogBlock(t)
	if !strings.Contains(normalizeSpace(readFile(t, readmeFile)), normalizeSpace(snippet)) {
		t.Errorf("README.md does not show the access log block of Caddyfile.example:\n%s", snippet)
	}

	const byeURI = "http://localhost:5563/bye"
	app := clientSpec{ID: "log-app", Secret: demoClientSecret, RedirectURI: "http://localhost:5563/callback"}
	cfg := newSiteConfig(t)
	cfg.ExtraClients = `
		client log-app {
			name "Log App"
			secret {env.DEMO_CLIENT_SECRET}
			redirect_uri http://localhost:5563/callback
			post_logout_redirect_uri ` + byeURI + `
		}`
	logDir := t.TempDir()
	filteredPath := filepath.Join(logDir, "filtered.log")
	plainPath := filepath.Join(logDir, "plain.log")
	filtered := regexp.MustCompile(`(?m)^(\s*)output stderr$`).ReplaceAllString(snippet, "${1}output file "+filteredPath)
	if filtered == snippet {
		t.Fatalf("the access log block of Caddyfile.example has no `output stderr` line to redirect:\n%s", snippet)
	}
	// Named loggers: a site may have several access logs.
	site := strings.Replace(filtered, "log {", "log filtered {", 1) + `
	log plain {
		output file ` + plainPath + `
		format json
	}
`
	srv := startCaddyWith(t, cfg, withSiteDirectives(t, cfg.caddyfile(t), "", site))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := discover(ctx, t, srv.cfg.Issuer())
	rp := newRelyingParty(ctx, t, srv.cfg.Issuer(), app)
	b := newBrowser(t)
	// The flow by hand, not rp.signIn: the code itself is searched for in
	// the logs below.
	req := rp.newAuthRequest()
	res := b.authorize(ctx, req.URL, app.RedirectURI, demoUser)
	if res.Error != "" || res.Code == "" {
		t.Fatalf("login: %+v", res)
	}
	tok, err := rp.conf.Exchange(ctx, res.Code, oauth2.VerifierOption(req.Verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	if strings.Count(idToken, ".") != 2 {
		t.Fatalf("no ID token in the token response: %q", idToken)
	}
	logoutURL := m.EndSessionEndpoint + "?" + url.Values{
		"id_token_hint":            {idToken},
		"post_logout_redirect_uri": {byeURI},
	}.Encode()
	b.stopAt = byeURI
	resp, err := b.client.Get(logoutURL)
	b.stopAt = ""
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %s, want 303", resp.Status)
	}

	// Caddy writes an access log line after the response; wait until both
	// files hold the logout request.
	plain := waitAccessLog(t, plainPath, "/session/end")
	filteredLog := waitAccessLog(t, filteredPath, "/session/end")

	parts := strings.Split(idToken, ".")
	secrets := map[string]string{
		"authorization code":     res.Code,
		"ID token":               idToken,
		"ID token payload":       parts[1],
		"ID token signature":     parts[2],
		"access token":           tok.AccessToken,
		"client secret":          demoClientSecret,
		"URL-encoded code":       url.QueryEscape(res.Code),
		"URL-encoded ID token":   url.QueryEscape(idToken),
		"JSON-escaped ID token":  jsonEscaped(idToken),
		"JSON-escaped auth code": jsonEscaped(res.Code),
	}

	t.Run("without the filter the log holds them", func(t *testing.T) {
		// The leak the filter exists for; if Caddy stopped logging these
		// fields, the filtered assertions below would prove nothing.
		for _, what := range []string{"authorization code", "ID token"} {
			if !strings.Contains(plain, secrets[what]) {
				t.Errorf("the unfiltered access log does not contain the %s: the test cannot see a leak", what)
			}
		}
	})

	t.Run("with the filter the log holds none", func(t *testing.T) {
		for what, v := range secrets {
			if strings.Contains(filteredLog, v) {
				t.Errorf("the filtered access log contains the %s", what)
			}
		}
		// The requests that carried them are still logged, without them.
		lines := accessLogLines(t, filteredLog)
		var sawLogout, sawCallback bool
		for _, l := range lines {
			if strings.HasPrefix(l.Request.URI, "/session/end?") {
				sawLogout = true
				if !strings.Contains(l.Request.URI, "post_logout_redirect_uri=") {
					t.Errorf("the filter removed more than the secret from %q", l.Request.URI)
				}
			}
			for _, loc := range l.RespHeaders["Location"] {
				if strings.HasPrefix(loc, app.RedirectURI) {
					sawCallback = true
					if !strings.Contains(loc, "state=") {
						t.Errorf("the filter removed more than the code from Location %q", loc)
					}
				}
			}
		}
		if !sawLogout || !sawCallback {
			t.Errorf("the filtered log lacks the logout request (%v) or the redirect with the code (%v):\n%s", sawLogout, sawCallback, filteredLog)
		}
	})
}

// TestTokenEndpointErrorsAreLoggedWithoutSecrets: a client that fails to
// authenticate leaves one line in Caddy's log at the default level, naming
// the event, the client and the error, but not the secret it sent.
func TestTokenEndpointErrorsAreLoggedWithoutSecrets(t *testing.T) {
	srv := startCaddy(t, newSiteConfig(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := discover(ctx, t, srv.cfg.Issuer())
	const wrongSecret = "wrong-secret-7f3a9c1e5b"
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("demo-app", wrongSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("token request with a wrong secret: %s, want 401", resp.Status)
	}

	var line map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for line == nil && time.Now().Before(deadline) {
		for _, l := range jsonLogLines(srv.Log.String()) {
			if l["event"] == "grant.error" {
				line = l
			}
		}
		if line == nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if line == nil {
		t.Fatalf("no log line for the grant.error at Caddy's default level:\n%s", srv.Log.String())
	}
	for k, want := range map[string]string{"level": "info", "client_id": "demo-app", "error_code": "invalid_client"} {
		if line[k] != want {
			t.Errorf("log line %s = %v, want %q (line %v)", k, line[k], want, line)
		}
	}
	if d, _ := line["error_description"].(string); d == "" {
		t.Errorf("log line has no error_description: %v", line)
	}
	if srv.logContains(wrongSecret) || srv.logContains(demoClientSecret) {
		t.Errorf("Caddy's log contains a client secret:\n%s", srv.Log.String())
	}
}

// TestDebugLogShowsOnlyPlaceholdersOfSecrets: with Caddy's `debug` option,
// Caddy itself logs the whole adapted config ("adjusted config"), so a
// secret written literally in the Caddyfile reaches the log; one given as an
// {env.*} placeholder does not, as the README tells operators. The module
// warns at load about each literal secret.
func TestDebugLogShowsOnlyPlaceholdersOfSecrets(t *testing.T) {
	const (
		literalToken = "literal-initial-access-token-4d2e"
		envToken     = "env-initial-access-token-9b7c1f"
	)
	cfg := newSiteConfig(t)
	cfg.ExtraClients = `
		registration {
			policy initial_access_token
			initial_access_token ` + literalToken + `
			initial_access_token {env.E2E_INITIAL_ACCESS_TOKEN}
		}`
	caddyfile := withSiteDirectives(t, cfg.caddyfile(t), "\tdebug\n", "")
	srv := startCaddyWith(t, cfg, caddyfile, "E2E_INITIAL_ACCESS_TOKEN="+envToken)
	log := srv.Log.String()
	if !strings.Contains(log, `"adjusted config"`) {
		t.Fatalf("no \"adjusted config\" line with debug on; the test cannot see what Caddy logs:\n%s", log)
	}
	if !strings.Contains(log, literalToken) {
		t.Errorf("Caddy's debug log no longer shows a literal initial access token; update the README's advice")
	}
	if strings.Contains(log, envToken) {
		t.Errorf("Caddy's log contains the value of an {env.*} initial access token")
	}
	if !strings.Contains(log, "{env.E2E_INITIAL_ACCESS_TOKEN}") {
		t.Errorf("the debug log does not show the placeholder either; is the config logged at all?")
	}
	var warned bool
	for _, l := range jsonLogLines(log) {
		if l["level"] == "warn" && l["secret"] == "registration initial_access_token 1" {
			warned = true
		}
		if l["level"] == "warn" && l["secret"] == "registration initial_access_token 2" {
			t.Errorf("warned about the {env.*} initial access token: %v", l)
		}
	}
	if !warned {
		t.Errorf("no warning at load about the literal initial access token:\n%s", log)
	}
}

// exampleAccessLogBlock returns the site-level `log { ... }` block of
// Caddyfile.example.
func exampleAccessLogBlock(t *testing.T) string {
	t.Helper()
	lines := strings.Split(readFile(t, exampleCaddyfile), "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == "log {" {
			start = i
			break
		}
	}
	if start < 0 {
		t.Fatalf("%s has no `log {` block", exampleCaddyfile)
	}
	depth := 0
	for i := start; i < len(lines); i++ {
		depth += strings.Count(lines[i], "{") - strings.Count(lines[i], "}")
		if depth == 0 {
			return strings.Join(lines[start:i+1], "\n") + "\n"
		}
	}
	t.Fatalf("%s: unbalanced `log {` block", exampleCaddyfile)
	return ""
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func normalizeSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

func jsonEscaped(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// withSiteDirectives inserts global options and site directives into a
// Caddyfile of caddyfileTemplate.
func withSiteDirectives(t *testing.T, caddyfile []byte, global, site string) []byte {
	t.Helper()
	s := string(caddyfile)
	for _, ins := range []struct{ after, text string }{
		{"\tpersist_config off\n", global},
		{"\tbind 127.0.0.1\n", site},
	} {
		if !strings.Contains(s, ins.after) {
			t.Fatalf("the Caddyfile template has no %q line", ins.after)
		}
		s = strings.Replace(s, ins.after, ins.after+ins.text, 1)
	}
	return []byte(s)
}

// waitAccessLog polls an access log file until it contains want.
func waitAccessLog(t *testing.T, path, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if bytes.Contains(b, []byte(want)) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not log %q:\n%s", path, want, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type accessLogLine struct {
	Request struct {
		URI string `json:"uri"`
	} `json:"request"`
	RespHeaders map[string][]string `json:"resp_headers"`
}

func accessLogLines(t *testing.T, log string) []accessLogLine {
	t.Helper()
	var out []accessLogLine
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l accessLogLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("access log line is not JSON: %v: %s", err, sc.Text())
		}
		out = append(out, l)
	}
	return out
}

// jsonLogLines parses Caddy's JSON log output, skipping anything else.
func jsonLogLines(log string) []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(log, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}
