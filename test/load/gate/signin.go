package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/oidcaddy/oidcaddy/internal/caddyproc"
	"github.com/oidcaddy/oidcaddy/internal/formflow"
)

// answerLogin fills in the provider's login form as demo. The clients here
// skip consent, so a consent page is an error.
func answerLogin(password string) formflow.Answer {
	return func(page formflow.Response, form formflow.Form) (url.Values, error) {
		if !strings.HasSuffix(strings.TrimSuffix(form.Action, "/"), "/login") {
			return nil, fmt.Errorf("expected the login form, got one posting to %q", form.Action)
		}
		return url.Values{"login": {"demo"}, "password": {password}}, nil
	}
}

// navigate loads u as a browser loads a page (Fetch Metadata says so).
func navigate(b *formflow.Browser, u string) (formflow.Response, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return formflow.Response{}, err
	}
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Accept", "text/html")
	return b.Do(req)
}

// redirectTo reports whether r is a redirect whose Location starts with prefix.
func redirectTo(r formflow.Response, prefix string) bool {
	return (r.Status == http.StatusFound || r.Status == http.StatusSeeOther) && strings.HasPrefix(r.Location(), prefix)
}

// cookieHeader is the Cookie header a browser would send to u, limited to
// the cookies whose name has one of the prefixes (the jar also holds the
// provider's cookies: cookies ignore ports).
func cookieHeader(b *formflow.Browser, u string, keep func(name string) bool) string {
	pu, _ := url.Parse(u)
	var parts []string
	for _, c := range b.Client.Jar.Cookies(pu) {
		if keep(c.Name) {
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	return strings.Join(parts, "; ")
}

// gateSignIn signs demo in through the gate of app (as
// test/e2e/protect_test.go does) and returns the gate's Cookie header.
func gateSignIn(app, issuer, password string) (string, error) {
	b := formflow.New(nil)
	r, err := navigate(b, app+"/app/page")
	if err != nil {
		return "", err
	}
	if !redirectTo(r, issuer+"/authorize?") {
		return "", fmt.Errorf("protected page without a session: %d %q", r.Status, r.Location())
	}
	if r, err = b.Authorize(r.Location(), issuer+"/interaction/", 2, answerLogin(password)); err != nil {
		return "", err
	}
	if !redirectTo(r, app+"/.oidc/callback?") {
		return "", fmt.Errorf("after login: %d %q", r.Status, r.Location())
	}
	if r, err = navigate(b, r.Location()); err != nil {
		return "", err
	}
	if r.Status != http.StatusSeeOther {
		return "", fmt.Errorf("gate callback: %d %q", r.Status, r.Body)
	}
	c := cookieHeader(b, app, func(name string) bool { return name == "oidcaddy_gate" })
	if c == "" {
		return "", errors.New("the gate set no oidcaddy_gate cookie")
	}
	return c, nil
}

// proxySignIn signs demo in through oauth2-proxy's own flow behind the
// forward_auth site and returns oauth2-proxy's session Cookie header (its
// cookie may be split into _oauth2_proxy_0, _1, ...).
func proxySignIn(site, issuer, password string) (string, error) {
	b := formflow.New(nil)
	r, err := navigate(b, site+"/oauth2/start?rd=%2Fapp%2Fpage")
	if err != nil {
		return "", err
	}
	if !redirectTo(r, issuer+"/authorize?") {
		return "", fmt.Errorf("/oauth2/start: %d %q %s", r.Status, r.Location(), r.Body)
	}
	if r, err = b.Authorize(r.Location(), issuer+"/interaction/", 2, answerLogin(password)); err != nil {
		return "", err
	}
	if !redirectTo(r, site+"/oauth2/callback?") {
		return "", fmt.Errorf("after login: %d %q", r.Status, r.Location())
	}
	if r, err = navigate(b, r.Location()); err != nil {
		return "", err
	}
	if !redirectTo(r, "/app/page") && !redirectTo(r, site+"/app/page") {
		return "", fmt.Errorf("oauth2-proxy callback: %d %q %s", r.Status, r.Location(), r.Body)
	}
	c := cookieHeader(b, site, func(name string) bool {
		return strings.HasPrefix(name, "_oauth2_proxy") && !strings.HasSuffix(name, "_csrf")
	})
	if c == "" {
		return "", errors.New("oauth2-proxy set no session cookie")
	}
	return c, nil
}

// clientCredentials gets an access token for client (RFC 6749 §4.4).
func clientCredentials(issuer, client, secret string) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, issuer+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, secret)
	r, err := formflow.Do(http.DefaultClient, req)
	if err != nil {
		return "", err
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &body) != nil || body.AccessToken == "" {
		return "", fmt.Errorf("token for %s: %d %s", client, r.Status, r.Body)
	}
	return body.AccessToken, nil
}

// oauth2Proxy is a running oauth2-proxy.
type oauth2Proxy struct {
	cmd    *exec.Cmd
	log    *caddyproc.Log
	exited chan struct{}
}

// startOAuth2Proxy runs oauth2-proxy as the OIDC client "oauth2-proxy" of
// issuer, for the forward_auth site, listening on addr. Secrets go through
// its environment (OAUTH2_PROXY_*), never its command line. Sessions live
// in the cookie (its default); request logging is off, as Caddy's access
// log is.
func startOAuth2Proxy(bin, dir, issuer, site, addr, clientSecret string) (*oauth2Proxy, error) {
	cmd := exec.Command(bin,
		"--provider=oidc",
		"--oidc-issuer-url="+issuer,
		"--client-id=oauth2-proxy",
		"--redirect-url="+site+"/oauth2/callback",
		"--http-address="+addr,
		"--reverse-proxy=true",
		"--trusted-proxy-ip=127.0.0.1/32",
		"--set-xauthrequest=true",
		"--upstream=static://202",
		"--email-domain=*",
		"--cookie-secure=false",
		"--skip-provider-button=true",
		"--code-challenge-method=S256",
		"--request-logging=false",
		// Bearer JWTs of this provider (aud = the issuer when no
		// resource was asked for) are accepted without a cookie.
		"--skip-jwt-bearer-tokens=true",
		"--extra-jwt-issuers="+issuer+"="+issuer,
	)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=/usr/bin:/bin",
		"OAUTH2_PROXY_CLIENT_SECRET=" + clientSecret,
		"OAUTH2_PROXY_COOKIE_SECRET=" + randomSecret(24), // 32 characters
	}
	p := &oauth2Proxy{cmd: cmd, log: &caddyproc.Log{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	client := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("oauth2-proxy exited:\n%s", p.log.String())
		default:
		}
		resp, err := client.Get("http://" + addr + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("oauth2-proxy not ready: %v\n%s", err, p.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *oauth2Proxy) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}
