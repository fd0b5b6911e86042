package e2e

// Headless Chromium on the real Caddy binary's pages, as a person would use
// them: a phone-sized (320 px) window, light and dark mode, the Back button,
// the keyboard; and axe-core on every page.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// axeFile is axe-core's browser bundle, installed by `npm ci` in
// test/browser (.ci/run does it).
const axeFile = "../browser/node_modules/axe-core/axe.min.js"

// needForBrowserTest skips locally when a part of the browser test is not
// installed, and fails in CI, where .ci/run installs everything.
func needForBrowserTest(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: .ci/run must install it)", msg)
	}
	t.Skipf("%s; skipping this Chromium test", msg)
}

func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			needForBrowserTest(t, "CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	needForBrowserTest(t, "no chromium on PATH (Debian: apt-get install chromium)")
	return ""
}

// rpCallback is the relying party's redirect_uri: it records the
// authorization response and shows a plain page.
type rpCallback struct {
	mu    sync.Mutex
	query url.Values
	url   string
}

func startRP(t *testing.T) *rpCallback {
	t.Helper()
	rp := &rpCallback{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/callback" {
			rp.mu.Lock()
			rp.query = r.URL.Query()
			rp.mu.Unlock()
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!DOCTYPE html><html lang="en"><title>Browser App</title><main><h1>Browser App</h1></main></html>`)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	rp.url = "http://" + l.Addr().String()
	return rp
}

func (rp *rpCallback) received() url.Values {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.query
}

// pageTab is one Chromium tab and what the test records of it.
type pageTab struct {
	t   *testing.T
	ctx context.Context
	axe string
	// shots is where screenshots go when OIDCADDY_SCREENSHOTS names a
	// directory (to look at the pages; never committed).
	shots string

	mu        sync.Mutex
	documents []documentRequest
	// status is the HTTP status of the last document response.
	status int64
}

// documentRequest is a top-level navigation request the tab sent.
type documentRequest struct {
	Method, URL    string
	RedirectStatus int64 // status of the redirect that led to it, if any
}

func newTab(t *testing.T) *pageTab {
	t.Helper()
	chromium := chromiumPath(t)
	axe, err := os.ReadFile(axeFile)
	if err != nil {
		needForBrowserTest(t, "axe-core is not installed (%v; run npm ci in test/browser)", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		// As root (CI) Chromium refuses to start with its sandbox.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("password-store", "basic"),
		// Back must load the history entry as it was requested (a POST
		// would be resent), not restore a page from memory.
		chromedp.Flag("disable-features", "BackForwardCache"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(320, 640),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	tab := &pageTab{t: t, ctx: ctx, axe: string(axe), shots: os.Getenv("OIDCADDY_SCREENSHOTS")}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Type == network.ResourceTypeDocument {
			d := documentRequest{Method: e.Request.Method, URL: e.Request.URL}
			if e.RedirectResponse != nil {
				d.RedirectStatus = e.RedirectResponse.Status
			}
			tab.mu.Lock()
			tab.documents = append(tab.documents, d)
			tab.mu.Unlock()
		}
		if e, ok := ev.(*network.EventResponseReceived); ok && e.Type == network.ResourceTypeDocument {
			tab.mu.Lock()
			tab.status = e.Response.Status
			tab.mu.Unlock()
		}
	}); err != nil {
		needForBrowserTest(t, "chromium does not start: %v", err)
	}
	tab.do(chromedp.EmulateViewport(320, 640))
	return tab
}

func (p *pageTab) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatal(err)
	}
}

func evalJS[T any](p *pageTab, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("evaluating %.60q: %v", expr, err)
	}
	return v
}

// navigating runs an action that leaves the page and waits until the next
// page has loaded: the old document carries a mark that the new one lacks.
// (chromedp.Poll compiles its predicate with new Function, which the pages'
// CSP forbids, hence a plain loop.)
func (p *pageTab) navigating(action chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	evalJS[bool](p, `window.__oidcaddyOldPage = true`)
	p.do(action)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		done, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__oidcaddyOldPage === undefined && document.readyState === "complete"`))
		cancel()
		if err == nil && done {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the next page did not load: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *pageTab) open(u string) { p.navigating(chromedp.Navigate(u)) }

// clickTo presses a button or link and waits for the page it leads to.
func (p *pageTab) clickTo(selector string) {
	p.t.Helper()
	p.navigating(chromedp.Click(chromedp.CSS(selector)))
}

func (p *pageTab) text(selector string) string {
	p.t.Helper()
	return evalJS[string](p, fmt.Sprintf(`(document.querySelector(%q) || {innerText: ""}).innerText`, selector))
}

func (p *pageTab) lastDocuments(n int) []documentRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.documents) < n {
		n = len(p.documents)
	}
	return append([]documentRequest(nil), p.documents[len(p.documents)-n:]...)
}

// documentStatus is the HTTP status of the page shown (after redirects).
func (p *pageTab) documentStatus() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// setDark switches prefers-color-scheme.
func (p *pageTab) setDark(dark bool) {
	p.t.Helper()
	scheme := "light"
	if dark {
		scheme = "dark"
	}
	p.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	}))
	if got := evalJS[bool](p, `matchMedia("(prefers-color-scheme: dark)").matches`); got != dark {
		p.t.Fatalf("prefers-color-scheme: dark matches %v, want %v", got, dark)
	}
}

// checkLayout: the page fits a 320 px screen without sideways scrolling.
func (p *pageTab) checkLayout(name string) {
	p.t.Helper()
	width := evalJS[int](p, `document.documentElement.scrollWidth`)
	if width > 320 {
		p.t.Errorf("%s: the page is %d px wide in a 320 px window (it overflows)", name, width)
	}
}

// contrastJS computes WCAG 2.x contrast ratios in the page: of an element's
// text on its effective background, and of its focus outline on the
// background around it.
const contrastJS = `
(() => {
  const parse = c => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
    const v = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number); return {r: v[0], g: v[1], b: v[2], a: v.length > 3 ? v[3] : 1}; };
  const lum = c => { const f = x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const background = el => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0.99) return c; } return parse(getComputedStyle(document.documentElement).backgroundColor) || {r: 255, g: 255, b: 255, a: 1}; };
  window.__textContrast = sel => { const el = document.querySelector(sel); if (!el) return -1;
    return ratio(parse(getComputedStyle(el).color), background(el)); };
  window.__focusRing = () => { const el = document.activeElement; if (!el || el === document.body) return {ok: false, why: "nothing focused"};
    const s = getComputedStyle(el); const width = parseFloat(s.outlineWidth);
    if (s.outlineStyle === "none" || !(width >= 2)) return {ok: false, why: "no outline: " + s.outlineStyle + " " + s.outlineWidth};
    const r = ratio(parse(s.outlineColor), background(el.parentElement));
    return {ok: r >= 3, why: "outline contrast " + r.toFixed(2), ratio: r, tag: el.tagName}; };
  return true;
})()`

func (p *pageTab) textContrast(selector string) float64 {
	p.t.Helper()
	evalJS[bool](p, contrastJS)
	return evalJS[float64](p, fmt.Sprintf(`__textContrast(%q)`, selector))
}

type focusRing struct {
	OK    bool    `json:"ok"`
	Why   string  `json:"why"`
	Ratio float64 `json:"ratio"`
	Tag   string  `json:"tag"`
}

// checkFocusVisible tabs to the first focusable element and checks that it
// shows a focus ring that stands out (3:1, WCAG 1.4.11) in this scheme.
func (p *pageTab) checkFocusVisible(name string) {
	p.t.Helper()
	if evalJS[int](p, `document.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea").length`) == 0 {
		return // nothing to focus on this page
	}
	// A click on the page's margin blurs and resets the sequential focus
	// navigation starting point, so Tab goes to the first control.
	p.do(chromedp.MouseClickXY(1, 1), chromedp.KeyEvent(kb.Tab))
	evalJS[bool](p, contrastJS)
	ring := evalJS[focusRing](p, `__focusRing()`)
	if !ring.OK {
		p.t.Errorf("%s: the focused element (%s) has no visible focus: %s", name, ring.Tag, ring.Why)
	}
}

type axeResult struct {
	Violations []struct {
		ID     string `json:"id"`
		Impact string `json:"impact"`
		Help   string `json:"help"`
		Nodes  []struct {
			Target []any  `json:"target"`
			HTML   string `json:"html"`
		} `json:"nodes"`
	} `json:"violations"`
}

// checkAxe runs axe-core's WCAG 2.x A/AA rules and best practices on the page
// and fails on every serious or critical violation.
func (p *pageTab) checkAxe(name string) {
	p.t.Helper()
	if !evalJS[bool](p, `typeof axe !== "undefined"`) {
		evalJS[bool](p, p.axe+"\n;true")
	}
	raw := evalJS[json.RawMessage](p, `axe.run(document, {resultTypes: ["violations"], runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}})`)
	var res axeResult
	if err := json.Unmarshal(raw, &res); err != nil {
		p.t.Fatal(err)
	}
	for _, v := range res.Violations {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, n.HTML)
		}
		msg := fmt.Sprintf("%s: axe %s (%s): %s at %s", name, v.ID, v.Impact, v.Help, strings.Join(where, " | "))
		if v.Impact == "serious" || v.Impact == "critical" {
			p.t.Error(msg)
		} else {
			p.t.Log(msg)
		}
	}
}

func (p *pageTab) screenshot(name string) {
	if p.shots == "" {
		return
	}
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, time.Minute)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.shots, name+".png"), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// inspect runs the layout, accessibility and focus checks on the current
// page in light and dark mode, and the contrast check of its error text if
// it has one.
func (p *pageTab) inspect(name string) {
	p.t.Helper()
	for _, dark := range []bool{false, true} {
		mode := name + " (light)"
		if dark {
			mode = name + " (dark)"
		}
		p.setDark(dark)
		p.checkLayout(mode)
		p.checkAxe(mode)
		if r := p.textContrast(".error"); r >= 0 && r < 4.5 {
			p.t.Errorf("%s: the error text has contrast %.2f:1, WCAG AA needs 4.5:1", mode, r)
		}
		if r := p.textContrast("h1"); r < 4.5 {
			p.t.Errorf("%s: the heading has contrast %.2f:1", mode, r)
		}
		p.screenshot(strings.NewReplacer(" ", "-", "(", "", ")", "").Replace(mode))
		p.checkFocusVisible(mode)
	}
	p.setDark(false)
}

// The sign-in pages in Chromium: PRG after a wrong password, a 320 px
// screen, dark mode, the consent page's account and primary button, "use
// another account", human error pages, and no serious accessibility
// violation on the login, consent, error, device and logout pages.
func TestChromiumPages(t *testing.T) {
	rp := startRP(t)
	cfg := newSiteConfig(t)
	cfg.ExtraClients = `
		client browser-app {
			name "Browser App"
			public
			redirect_uri ` + rp.url + `/callback
		}
		user second {
			password_hash ` + demoPasswordHash + `
			subject second-subject
			claim name "Second User"
		}
		branding {
			name "Example Login"
			primary_color "#0b5fff"
		}
		registration {
			policy open
		}`
	tab := newTab(t) // first: it skips when Chromium is missing
	startCaddy(t, cfg)
	issuer := cfg.Issuer()

	verifier := strings.Repeat("chromium-verifier-", 3)
	sum := sha256.Sum256([]byte(verifier))
	authURL := issuer + "/authorize?" + url.Values{
		"client_id": {"browser-app"}, "redirect_uri": {rp.url + "/callback"}, "response_type": {"code"},
		"scope": {"openid profile email"}, "state": {"chromium-state"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}.Encode()

	// The login page.
	tab.open(authURL)
	if h1 := tab.text("h1"); h1 != "Sign in" {
		t.Fatalf("first page heading %q, want the login page", h1)
	}
	if name := tab.text(".brand-name"); name != "Example Login" {
		t.Errorf("service name %q", name)
	}
	interactionURL := evalJS[string](tab, `location.href`)
	tab.inspect("login")

	// A wrong password: the name stays, the message says what happened, and
	// the page was reached by a 303 and a GET (POST-redirect-GET).
	tab.do(chromedp.SendKeys(chromedp.CSS("#login"), "demo"), chromedp.SendKeys(chromedp.CSS("#password"), "not-the-password"))
	tab.clickTo("button.primary")
	if got := evalJS[string](tab, `location.href`); got != interactionURL {
		t.Errorf("after a wrong password the page is %s, want %s (the GET page)", got, interactionURL)
	}
	if docs := tab.lastDocuments(2); len(docs) != 2 || docs[0].Method != "POST" || docs[1].Method != "GET" || docs[1].RedirectStatus != http.StatusSeeOther {
		t.Errorf("wrong password: document requests %+v, want a POST answered by 303 and a GET", docs)
	}
	if v := evalJS[string](tab, `document.querySelector("#login").value`); v != "demo" {
		t.Errorf("login name after a wrong password: %q, want demo", v)
	}
	if v := evalJS[string](tab, `document.querySelector("#password").value`); v != "" {
		t.Error("the password field is filled after a wrong password")
	}
	if msg := tab.text(".error"); !strings.Contains(msg, "not correct") {
		t.Errorf("error message %q", msg)
	}
	tab.inspect("login with error")

	// The right password: the consent page shows the account, Allow is the
	// primary button.
	tab.do(chromedp.SendKeys(chromedp.CSS("#password"), "demo"))
	tab.clickTo("button.primary")
	if h1 := tab.text("h1"); h1 != "Allow access?" {
		t.Fatalf("after the login: %q, want the consent page", h1)
	}
	if acc := tab.text(".account"); !strings.Contains(acc, "Demo User") {
		t.Errorf("consent page account line %q, want Demo User", acc)
	}
	if primary := evalJS[string](tab, `[...document.querySelectorAll("button.primary")].map(b => b.value).join(",")`); primary != "allow" {
		t.Errorf("primary buttons %q, want only Allow", primary)
	}
	if bg := evalJS[string](tab, `getComputedStyle(document.querySelector("button[value=allow]")).backgroundColor`); bg != "rgb(11, 95, 255)" {
		t.Errorf("Allow's colour %s, want the branding's #0b5fff", bg)
	}
	tab.inspect("consent")

	// Back: the previous history entries are GETs, so Chromium shows the
	// page again without offering to resubmit a form.
	before := len(tab.lastDocuments(1000))
	tab.navigating(chromedp.NavigateBack())
	if href := evalJS[string](tab, `location.href`); href != interactionURL {
		t.Errorf("Back led to %s, want %s", href, interactionURL)
	}
	backDocs := tab.lastDocuments(len(tab.lastDocuments(1000)) - before)
	if len(backDocs) == 0 {
		t.Error("Back loaded no document")
	}
	for _, d := range backDocs {
		if d.Method != http.MethodGet {
			t.Errorf("Back sent %s %s: a form was resubmitted", d.Method, d.URL)
		}
	}
	if h1 := tab.text("h1"); h1 != "Allow access?" {
		t.Errorf("after Back: heading %q, want the page again (the interaction is at the consent step)", h1)
	}

	// "Not you? Use another account" runs a new login for the same request.
	tab.clickTo("form.secondary button")
	if h1 := tab.text("h1"); h1 != "Sign in" {
		t.Fatalf("after 'use another account': %q, want the login page", h1)
	}
	tab.do(chromedp.SendKeys(chromedp.CSS("#login"), "second"), chromedp.SendKeys(chromedp.CSS("#password"), "demo"))
	tab.clickTo("button.primary")
	if acc := tab.text(".account"); !strings.Contains(acc, "Second User") {
		t.Fatalf("consent after switching: %q, want Second User", acc)
	}
	tab.clickTo("button[value=allow]")
	q := rp.received()
	if q.Get("code") == "" || q.Get("state") != "chromium-state" {
		t.Fatalf("the application got %v", q)
	}
	tok := postForm(t, issuer+"/token", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {rp.url + "/callback"}, "code_verifier": {verifier}}, clientCreds{ID: "browser-app"})
	if tok.Status != http.StatusOK {
		t.Fatalf("token: %d %s", tok.Status, tok.Body)
	}
	var tr struct {
		IDToken string `json:"id_token"`
	}
	json.Unmarshal(tok.Body, &tr)
	parts := strings.Split(tr.IDToken, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[min(1, len(parts)-1)])
	if !strings.Contains(string(payload), `"sub":"second-subject"`) {
		t.Errorf("the ID token after switching accounts is not the second account's: %s", payload)
	}

	// Error pages: a person's words, the title to match, the code in small
	// print; a way back when the client is known (never to the unregistered
	// redirect_uri).
	tab.open(issuer + "/authorize?client_id=nobody&response_type=code&redirect_uri=https://evil.example/cb")
	if h1 := tab.text("h1"); h1 != "This application is not known here" {
		t.Errorf("unknown client: heading %q", h1)
	}
	if title := evalJS[string](tab, `document.title`); !strings.HasPrefix(title, "This application is not known here") || !strings.HasSuffix(title, "Example Login") {
		t.Errorf("unknown client: title %q", title)
	}
	if code := tab.text(".code"); !strings.Contains(code, "invalid_client") {
		t.Errorf("the code is not in the small print: %q", code)
	}
	tab.inspect("error")
	tab.open(issuer + "/authorize?" + url.Values{"client_id": {"browser-app"}, "response_type": {"code"}, "redirect_uri": {"https://evil.example/cb"}}.Encode())
	if back := evalJS[string](tab, `(document.querySelector("a.button") || {}).href || ""`); back != rp.url+"/" {
		t.Errorf("way back to the application: %q, want %s/", back, rp.url)
	}
	tab.inspect("error with way back")

	// The device page and the sign-out page.
	tab.open(issuer + "/device")
	if h1 := tab.text("h1"); h1 != "Connect a device" {
		t.Errorf("device page heading %q", h1)
	}
	tab.inspect("device")
	tab.do(chromedp.SendKeys(chromedp.CSS("#user_code"), "WRONGCOD"))
	tab.clickTo("button.primary")
	if msg := tab.text(".error"); msg == "" {
		t.Error("no message for a wrong device code")
	}
	tab.inspect("device with error")

	// The device consent of a client that registered itself: a device
	// asks, the code to compare with the device's, the warning, and the
	// third-party mark with the client's host (issue 8 item 3).
	reg := registered(t, sendJSON(t, http.MethodPost, issuer+"/register", "", map[string]any{
		"client_name": "Garage Display", "client_uri": "https://garage.example/about", "response_types": []string{},
		"grant_types": []string{"urn:ietf:params:oauth:grant-type:device_code"}, "token_endpoint_auth_method": "none"}))
	da := postForm(t, issuer+"/device/auth", url.Values{"scope": {"openid profile"}}, clientCreds{ID: reg.ClientID})
	if da.Status != http.StatusOK {
		t.Fatalf("device authorization: %d %s", da.Status, da.Body)
	}
	device := da.JSON(t)
	tab.open(device["verification_uri_complete"].(string))
	tab.clickTo("button.primary")
	if h1 := tab.text("h1"); h1 != "Allow access?" {
		t.Fatalf("after entering the code: %q, want the consent page (the browser is signed in)", h1)
	}
	if asks := tab.text("#asks"); asks != "A device using Garage Display asks to:" {
		t.Errorf("device consent says %q", asks)
	}
	if code := tab.text(".user-code"); code != device["user_code"] {
		t.Errorf("device consent shows the code %q, the device %v", code, device["user_code"])
	}
	if note := tab.text(".notice"); !strings.Contains(note, "Registered by a third party; not verified by Example Login.") || !strings.Contains(note, "garage.example") {
		t.Errorf("the registered client is not marked: %q", note)
	}
	if warn := tab.text(".warning"); !strings.Contains(warn, "started this yourself") {
		t.Errorf("device consent warning %q", warn)
	}
	tab.inspect("device consent")
	tab.clickTo("button[value=deny]")
	if h1 := tab.text("h1"); h1 != "Request denied" {
		t.Errorf("after denying the device: %q", h1)
	}

	tab.open(issuer + "/session/end")
	if h1 := tab.text("h1"); h1 != "Sign out?" {
		t.Errorf("sign-out page heading %q", h1)
	}
	tab.inspect("logout")
	tab.clickTo("button[value=logout]")
	if h1 := tab.text("h1"); h1 != "You are signed out" {
		t.Errorf("after signing out: %q", h1)
	}
	tab.inspect("logged out")
}

// The pages in German, chosen by the browser's Accept-Language.
func TestChromiumPagesFollowTheBrowsersLanguage(t *testing.T) {
	tab := newTab(t)
	cfg := newSiteConfig(t)
	startCaddy(t, cfg)
	tab.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}})
		return err
	}))
	tab.open(cfg.Issuer() + "/device")
	if lang := evalJS[string](tab, `document.documentElement.lang`); lang != "de" {
		t.Errorf("<html lang> %q, want de", lang)
	}
	if h1 := tab.text("h1"); h1 != "Gerät verbinden" {
		t.Errorf("heading %q, want the German one", h1)
	}
	tab.inspect("device (de)")
}
