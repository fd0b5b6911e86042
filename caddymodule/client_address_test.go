package caddymodule

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	_ "github.com/caddyserver/caddy/v2/modules/filestorage" // caddy.storage.file_system
	_ "github.com/caddyserver/caddy/v2/modules/logging"     // the file log writer
	"golang.org/x/crypto/bcrypt"
)

// caddyWithProvider runs an in-process Caddy whose one server serves the
// provider, with trusted_proxies set to loopback (strict or not), and
// returns the issuer and the file Caddy logs to.
func caddyWithProvider(t *testing.T, strict bool, hashes ...string) (issuer, logFile string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	issuer = "http://127.0.0.1:" + strconv.Itoa(port)
	dir := t.TempDir()
	logFile = filepath.Join(dir, "caddy.log")
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data")) // Caddy's instance.uuid
	var users []UserConfig
	for i, h := range hashes {
		users = append(users, UserConfig{Login: "user" + strconv.Itoa(i), PasswordHash: h})
	}
	handler := &Handler{
		Issuer:        issuer,
		StorageRaw:    badgerAt(filepath.Join(dir, "oidc")),
		Clients:       []ClientConfig{{ClientID: "app", Public: true, RedirectURIs: []string{"http://localhost:5556/callback"}}},
		Users:         users,
		LoginThrottle: &LoginThrottleConfig{FreeAttempts: 2, BaseDelay: caddy.Duration(60e9), MaxDelay: caddy.Duration(600e9)},
		LogExporter:   "none",
	}
	raw, err := json.Marshal(handler)
	if err != nil {
		t.Fatal(err)
	}
	var handlerJSON map[string]any
	json.Unmarshal(raw, &handlerJSON)
	handlerJSON["handler"] = "oidc_provider"
	server := map[string]any{
		"listen":          []string{"127.0.0.1:" + strconv.Itoa(port)},
		"trusted_proxies": map[string]any{"source": "static", "ranges": []string{"127.0.0.1/32"}},
		"routes":          []any{map[string]any{"handle": []any{handlerJSON}}},
	}
	if strict {
		server["trusted_proxies_strict"] = 1
	}
	cfg, _ := json.Marshal(map[string]any{
		// Caddy's own state stays in the test's directory: no autosave,
		// certificate storage under dir.
		"admin":   map[string]any{"disabled": true, "config": map[string]any{"persist": false}},
		"storage": map[string]any{"module": "file_system", "root": filepath.Join(dir, "caddy")},
		"logging": map[string]any{"logs": map[string]any{"default": map[string]any{"writer": map[string]any{"output": "file", "filename": logFile}, "encoder": map[string]any{"format": "json"}}}},
		"apps":    map[string]any{"http": map[string]any{"servers": map[string]any{"oidc": server}}},
	})
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatalf("caddy.Load: %v", err)
	}
	t.Cleanup(func() { _ = caddy.Stop() })
	return issuer, logFile
}

var (
	loginFormAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	loginFormCSRF   = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
)

// failLogin opens a login page and submits a wrong password for login, as
// sent through a proxy that appends the real client to forwardedFor.
func failLogin(t *testing.T, issuer, login, forwardedFor string) int {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"client_id": {"app"}, "redirect_uri": {"http://localhost:5556/callback"}, "response_type": {"code"}, "scope": {"openid"},
		"state": {"s"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	resp, err := c.Get(issuer + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "/") {
		loc = strings.TrimPrefix(loc, issuer)
	}
	resp, err = c.Get(issuer + loc)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	action, csrf := loginFormAction.FindSubmatch(body), loginFormCSRF.FindSubmatch(body)
	if action == nil || csrf == nil {
		t.Fatalf("no login form after %s: %d %s", loc, resp.StatusCode, body)
	}
	form := url.Values{"csrf_token": {string(csrf[1])}, "login": {login}, "password": {"wrong"}}
	req, _ := http.NewRequest(http.MethodPost, issuer+string(action[1]), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", forwardedFor)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The login throttle counts failures by Caddy's client address, which
// honours trusted_proxies: with trusted_proxies_strict, an attacker behind a
// trusted proxy who writes a new left-most X-Forwarded-For entry per guess
// is still counted by the address the proxy saw; without strict mode Caddy
// takes the left-most entry, so each guess comes "from" a new address, and
// the module warns about it at provision.
func TestThrottleKeysOnCaddysClientAddress(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	const realClient = "198.51.100.7"
	const warning = "trusted_proxies is set without trusted_proxies_strict"
	for _, strict := range []bool{true, false} {
		t.Run(fmt.Sprintf("strict=%v", strict), func(t *testing.T) {
			issuer, logFile := caddyWithProvider(t, strict, string(hash))
			var statuses []int
			// Different logins, so that only the address key can lock.
			for i := range 3 {
				spoofed := "203.0.113." + strconv.Itoa(i+1)
				statuses = append(statuses, failLogin(t, issuer, "nobody"+strconv.Itoa(i), spoofed+", "+realClient))
			}
			logged, _ := os.ReadFile(logFile)
			if strict {
				if statuses[0] != 303 || statuses[1] != 303 || statuses[2] != 429 {
					t.Errorf("strict mode, rotating the spoofed entry: %v, want [303 303 429] (counted by %s)", statuses, realClient)
				}
				if strings.Contains(string(logged), warning) {
					t.Error("warned about non-strict trusted_proxies in strict mode")
				}
				return
			}
			if statuses[2] != 303 {
				t.Errorf("non-strict mode: %v; Caddy no longer takes the left-most X-Forwarded-For entry, update the README's Security section", statuses)
			}
			if !strings.Contains(string(logged), warning) {
				t.Errorf("no warning about trusted_proxies without strict mode in Caddy's log:\n%s", logged)
			}
		})
	}
}

// Users whose hashes differ in cost are warned about at provision, without
// any hash in the log.
func TestMixedPasswordHashCostsAreWarnedAbout(t *testing.T) {
	cheap, _ := bcrypt.GenerateFromPassword([]byte("pw"), 4)
	dear, _ := bcrypt.GenerateFromPassword([]byte("pw"), 5)
	_, logFile := caddyWithProvider(t, true, string(cheap), string(dear), string(dear))
	logged, _ := os.ReadFile(logFile)
	var found bool
	for _, line := range strings.Split(string(logged), "\n") {
		if !strings.Contains(line, "password hashes differ") {
			continue
		}
		found = true
		if !strings.Contains(line, `"level":"warn"`) || !strings.Contains(line, `"bcrypt cost=4":1`) || !strings.Contains(line, `"bcrypt cost=5":2`) {
			t.Errorf("warning without level or counts per setting: %s", line)
		}
		if strings.Contains(line, string(cheap)[7:]) || strings.Contains(line, string(dear)[7:]) {
			t.Errorf("the warning shows a hash: %s", line)
		}
	}
	if !found {
		t.Errorf("no warning about mixed hash costs:\n%s", logged)
	}
}
