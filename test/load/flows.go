package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/oidcaddy/oidcaddy/test/load/cpustat"
)

// flowDriver plays a browser and a relying party through the authorization
// code flow with PKCE against the load-web client.
type flowDriver struct {
	cfg       siteConfig
	secret    string
	transport *http.Transport
}

// user is who signs in on the login page.
type user struct{ login, password string }

// demoUser has the bcrypt cost-10 hash of Caddyfile.example.
var demoUser = user{"demo", "demo"}

// browser is one user agent: a cookie jar, redirects not followed (the
// driver follows them itself, to count and check every response), and the
// user who signs in with it.
type browser struct {
	client *http.Client
	d      *flowDriver
	user   user
	// requests counts the HTTP requests this browser and its relying party
	// sent.
	requests int64
}

func (d *flowDriver) newBrowser(u user) *browser {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &browser{d: d, user: u, client: &http.Client{
		Transport:     d.transport,
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

var (
	formActionRE = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	csrfRE       = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
)

// tokens is the token endpoint's answer to a code exchange.
type tokens struct {
	AccessToken string `json:"access_token"`
	IDToken     string `json:"id_token"`
}

// flowError says which step of a flow went wrong.
type flowError struct {
	step string
	err  error
}

func (e *flowError) Error() string { return e.step + ": " + e.err.Error() }

// codeFlow runs one authorization: GET /authorize, then whatever pages the
// provider shows (login as b.user, consent "allow"), until the redirect
// to the client with a code; then the code exchange. wantPages is how many
// login/consent pages the flow must see: 2 for a new browser, 0 for a
// silent one with a session and a consent.
func (b *browser) codeFlow(ctx context.Context, wantPages int) (tokens, error) {
	cfg := b.d.cfg
	verifier := randomString(32)
	challenge := sha256.Sum256([]byte(verifier))
	state := randomString(12)
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {clientWeb},
		"redirect_uri":          {cfg.RedirectURI()},
		"scope":                 {"openid email profile"},
		"state":                 {state},
		"nonce":                 {randomString(12)},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(challenge[:])},
		"code_challenge_method": {"S256"},
	}
	target := cfg.Issuer() + "/authorize?" + q.Encode()
	method, body := http.MethodGet, ""
	pages := 0
	code := ""
	for step := 0; step < 8 && code == ""; step++ {
		resp, page, err := b.do(ctx, method, target, body, "")
		if err != nil {
			return tokens{}, &flowError{"request " + method + " " + trimQuery(target), err}
		}
		switch {
		case resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusFound:
			loc, err := resp.Location()
			if err != nil {
				return tokens{}, &flowError{"redirect", err}
			}
			if strings.HasPrefix(loc.String(), cfg.RedirectURI()) {
				back := loc.Query()
				if back.Get("error") != "" {
					return tokens{}, &flowError{"authorization", fmt.Errorf("%s: %s", back.Get("error"), back.Get("error_description"))}
				}
				if back.Get("state") != state {
					return tokens{}, &flowError{"authorization", errors.New("state mismatch")}
				}
				code = back.Get("code")
				if code == "" {
					return tokens{}, &flowError{"authorization", errors.New("no code in the redirect")}
				}
				break
			}
			method, body, target = http.MethodGet, "", loc.String()
		case resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html"):
			action, form, err := answerPage(resp.Request.URL, page, b.user)
			if err != nil {
				return tokens{}, &flowError{"page " + trimQuery(target), err}
			}
			pages++
			method, body, target = http.MethodPost, form, action
		default:
			return tokens{}, &flowError{method + " " + trimQuery(target), fmt.Errorf("unexpected %s: %.200s", resp.Status, page)}
		}
	}
	if code == "" {
		return tokens{}, &flowError{"authorization", errors.New("no redirect to the client after 8 steps")}
	}
	if pages != wantPages {
		return tokens{}, &flowError{"authorization", fmt.Errorf("saw %d login/consent pages, want %d", pages, wantPages)}
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {cfg.RedirectURI()},
		"code_verifier": {verifier},
	}.Encode()
	resp, raw, err := b.do(ctx, http.MethodPost, cfg.Issuer()+"/token", form, basicAuth(clientWeb, b.d.secret))
	if err != nil {
		return tokens{}, &flowError{"token", err}
	}
	if resp.StatusCode != http.StatusOK {
		return tokens{}, &flowError{"token", fmt.Errorf("%s: %.200s", resp.Status, raw)}
	}
	var t tokens
	if err := json.Unmarshal(raw, &t); err != nil || t.AccessToken == "" || t.IDToken == "" {
		return tokens{}, &flowError{"token", fmt.Errorf("no access and ID token in %.200s", raw)}
	}
	return t, nil
}

// do sends one request and reads its body (at most 1 MiB).
func (b *browser) do(ctx context.Context, method, target, body, authorization string) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	b.requests++
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, raw, err
}

// answerPage fills in the login form as u or allows on the consent form,
// and returns where to post it and the encoded form.
func answerPage(page *url.URL, body []byte, u user) (string, string, error) {
	csrf := csrfRE.FindSubmatch(body)
	if csrf == nil {
		return "", "", errors.New("no csrf_token on the page")
	}
	for _, m := range formActionRE.FindAllSubmatch(body, -1) {
		action, err := page.Parse(html.UnescapeString(string(m[1])))
		if err != nil {
			return "", "", err
		}
		form := url.Values{"csrf_token": {html.UnescapeString(string(csrf[1]))}}
		switch {
		case strings.HasSuffix(action.Path, "/login"):
			form.Set("login", u.login)
			form.Set("password", u.password)
		case strings.HasSuffix(action.Path, "/consent"):
			form.Set("decision", "allow")
		default:
			continue
		}
		return action.String(), form.Encode(), nil
	}
	return "", "", errors.New("no login or consent form on the page")
}

func trimQuery(u string) string {
	s, _, _ := strings.Cut(u, "?")
	return s
}

func basicAuth(id, secret string) string {
	// RFC 6749 §2.3.1: form-encode both parts before Basic encoding.
	raw := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(raw))
}

// loggedInBrowsers returns n browsers that have each logged in and
// consented once, for silent flows. They all sign in as one user, whose
// sign-ins in flight count against the login throttle's allowance (5 by
// default): a few at a time, so that setting up is not refused with 429.
func loggedInBrowsers(ctx context.Context, d *flowDriver, n int) ([]*browser, error) {
	browsers := make([]*browser, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	slots := make(chan struct{}, 4)
	for i := range browsers {
		browsers[i] = d.newBrowser(demoUser)
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			_, errs[i] = browsers[i].codeFlow(ctx, 2)
			browsers[i].requests = 0
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("logging in the silent flows' browsers: %w", err)
	}
	return browsers, nil
}

// runFlows runs workers goroutines for dur, each doing code flows back to
// back. With browsers nil, a flow uses a new browser every time (login as u
// + consent); else worker i reuses browsers[i], which has a session and a
// consent (authorize → code → exchange).
func runFlows(ctx context.Context, d *flowDriver, workers int, dur time.Duration, browsers []*browser, u user) (loadResult, error) {
	silent := browsers != nil
	if silent && len(browsers) < workers {
		return loadResult{}, errors.New("fewer browsers than workers")
	}
	cpu0 := cpustat.Self()
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		completed int64
		failed    int64
		requests  int64
		firstErr  error
		lat       samples
	)
	start := time.Now()
	stop := start.Add(dur)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			var n, bad, reqs int64
			var werr error
			for time.Now().Before(stop) && ctx.Err() == nil {
				var b *browser
				pages := 0
				if silent {
					b = browsers[i]
				} else {
					b = d.newBrowser(u)
					pages = 2
				}
				t0 := time.Now()
				_, err := b.codeFlow(ctx, pages)
				reqs += b.requests
				b.requests = 0
				if err != nil {
					bad++
					if werr == nil {
						werr = err
					}
					if bad > 100 { // something is broken; do not spin
						break
					}
					continue
				}
				local = append(local, time.Since(t0))
				n++
			}
			lat.add(local)
			func() {
				mu.Lock()
				defer mu.Unlock()
				completed += n
				failed += bad
				requests += reqs
				if firstErr == nil {
					firstErr = werr
				}
			}()
		}()
	}
	wg.Wait()
	res := loadResult{Completed: completed, Failed: failed, HTTPRequests: requests, Elapsed: time.Since(start), GeneratorCPU: cpustat.Self() - cpu0}
	lat.percentiles(&res)
	if firstErr != nil {
		return res, fmt.Errorf("%d flows failed, the first: %w", failed, firstErr)
	}
	return res, nil
}
