package provider_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/oidcaddy/oidcaddy/provider"
)

// The whole code flow for a confidential client: consent, code, tokens
// verified the way a relying party does (go-oidc against the JWKS), userinfo.
func TestCodeFlowConfidentialClient(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	code, verifier := h.codeFor(b, nil)

	for _, name := range []provider.EventName{provider.EventAuthorizationAccepted, provider.EventInteractionStarted,
		provider.EventInteractionSaved, provider.EventSessionSaved, provider.EventInteractionEnded,
		provider.EventInteractionDestroyed, provider.EventAuthorizationCodeSaved, provider.EventAuthorizationSuccess} {
		if h.events.count(name) == 0 {
			t.Errorf("event %s not emitted during the authorization; got %v", name, h.events.names())
		}
	}
	// login then consent: two interaction prompts.
	if got := h.events.count(provider.EventInteractionStarted); got != 2 {
		t.Errorf("interaction.started = %d, want 2 (login, consent)", got)
	}

	r := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}, "web", webSecret)
	if r.status != http.StatusOK {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	tok := jsonBody(t, r)
	if tok["token_type"] != "Bearer" || tok["access_token"] == "" || tok["expires_in"] != float64(3600) || tok["scope"] != "openid email" {
		t.Errorf("token response = %v", tok)
	}

	ctx := oidc.ClientContext(context.Background(), h.srv.Client())
	rp, err := oidc.NewProvider(ctx, h.issuer)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := rp.Verifier(&oidc.Config{ClientID: "web", Now: h.clock.now}).Verify(ctx, tok["id_token"].(string))
	if err != nil {
		t.Fatalf("go-oidc rejected the ID token: %v", err)
	}
	if idt.Subject != "alice-sub" || idt.Nonce != "n-456" || idt.Issuer != h.issuer {
		t.Errorf("id token sub=%q nonce=%q iss=%q", idt.Subject, idt.Nonce, idt.Issuer)
	}
	if err := idt.VerifyAccessToken(tok["access_token"].(string)); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var claims map[string]any
	idt.Claims(&claims)
	for _, c := range []string{"auth_time", "sid", "iat", "exp"} {
		if claims[c] == nil {
			t.Errorf("ID token lacks %s: %v", c, claims)
		}
	}
	if claims["email"] != nil {
		t.Errorf("scope claims belong to userinfo when an access token is issued (OIDC Core §5.4): %v", claims)
	}

	req, _ := http.NewRequest(http.MethodGet, h.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
	ui := h.browser().do(req)
	if ui.status != http.StatusOK {
		t.Fatalf("userinfo: %d %s", ui.status, ui.body)
	}
	info := jsonBody(t, ui)
	if info["sub"] != "alice-sub" || info["email"] != "alice@example.com" || info["email_verified"] != true {
		t.Errorf("userinfo = %v", info)
	}
	if info["name"] != nil || info["phone_number"] != nil {
		t.Errorf("userinfo released claims of scopes not granted: %v", info)
	}
	for _, name := range []provider.EventName{provider.EventAuthorizationCodeConsumed, provider.EventAccessTokenSaved, provider.EventGrantSuccess} {
		if h.events.count(name) != 1 {
			t.Errorf("%s = %d, want 1", name, h.events.count(name))
		}
	}

	// A second redemption fails and burns the code (RFC 6749 §4.1.2).
	h.events.reset()
	r = h.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}, "web", webSecret)
	if body := jsonBody(t, r); r.status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("second redemption: %d %v", r.status, body)
	}
	if h.events.count(provider.EventAuthorizationCodeDestroyed) != 1 || h.events.count(provider.EventGrantError) != 1 {
		t.Errorf("events on replay: %v", h.events.names())
	}
}

// A second authorization in the same browser needs neither login nor consent.
func TestSessionAndConsentAreRemembered(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	h.codeFor(b, nil)
	h.events.reset()
	_, challenge := pkce("b")
	r := b.get(h.authorizeURL(map[string]string{"code_challenge": challenge, "code_challenge_method": "S256"}))
	q := redirectParams(t, r, webRedirect)
	if q.Get("code") == "" || q.Get("state") != "st-123" || q.Get("iss") != h.issuer {
		t.Fatalf("silent authorization response = %v", q)
	}
	if h.events.count(provider.EventInteractionStarted) != 0 {
		t.Errorf("an interaction started although session and consent exist")
	}
	// A wider scope needs consent again.
	r = b.get(h.authorizeURL(map[string]string{"scope": "openid email profile"}))
	if !strings.Contains(r.header.Get("Location"), "/interaction/") {
		t.Fatalf("a new scope must ask for consent, got %d %s", r.status, r.header.Get("Location"))
	}
}

func TestPublicClientWithPKCE(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	verifier, challenge := pkce("p")
	q := b.login(h.authorizeURL(map[string]string{"client_id": "spa", "redirect_uri": spaRedirect, "code_challenge": challenge, "code_challenge_method": "S256"}), alicePassword)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {spaRedirect}, "client_id": {"spa"}, "code_verifier": {verifier}}
	if r := h.token(form, "", ""); r.status != http.StatusOK {
		t.Fatalf("public client token: %d %s", r.status, r.body)
	}
}

func TestWrongPKCEVerifierIsRejected(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	code, _ := h.codeFor(b, nil)
	wrong, _ := pkce("z")
	r := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {wrong}}, "web", webSecret)
	if body := jsonBody(t, r); r.status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("wrong verifier: %d %v", r.status, body)
	}
	// The code is burnt: the right verifier no longer helps.
	verifier, _ := pkce("a")
	r = h.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}, "web", webSecret)
	if r.status != http.StatusBadRequest {
		t.Fatalf("a code that failed PKCE must not be redeemable: %d %s", r.status, r.body)
	}
}

// Of many concurrent redemptions of one code exactly one succeeds.
func TestCodeIsSingleUseUnderConcurrency(t *testing.T) {
	t.Parallel()
	h := newBadgerHarness(t)
	code, verifier := h.codeFor(h.browser(), nil)
	const n = 16
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = h.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}, "web", webSecret).status
		}()
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		switch s {
		case http.StatusOK:
			ok++
		case http.StatusBadRequest:
		default:
			t.Errorf("unexpected status %d", s)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent redemptions succeeded, want exactly 1 (%v)", ok, n, statuses)
	}
}

func TestPromptNone(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	q := redirectParams(t, b.get(h.authorizeURL(map[string]string{"prompt": "none"})), webRedirect)
	if q.Get("error") != "login_required" || q.Get("state") != "st-123" {
		t.Fatalf("prompt=none without session: %v", q)
	}
	// Logged in for another client, no consent for web yet.
	_, ch := pkce("t")
	b.login(h.authorizeURL(map[string]string{"client_id": "trusted", "code_challenge": ch, "code_challenge_method": "S256"}), alicePassword)
	q = redirectParams(t, b.get(h.authorizeURL(map[string]string{"prompt": "none"})), webRedirect)
	if q.Get("error") != "consent_required" {
		t.Fatalf("prompt=none without consent: %v", q)
	}
	// The first-party client needs no consent: prompt=none succeeds.
	q = redirectParams(t, b.get(h.authorizeURL(map[string]string{"client_id": "trusted", "prompt": "none", "code_challenge": ch, "code_challenge_method": "S256"})), webRedirect)
	if q.Get("code") == "" {
		t.Fatalf("prompt=none with session for a skip_consent client: %v", q)
	}
}

func TestPromptLoginAndMaxAgeForceReauthentication(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	h.codeFor(b, nil)
	for _, over := range []map[string]string{{"prompt": "login"}, {"max_age": "60"}} {
		h.clock.advance(61e9)
		r := b.get(h.authorizeURL(over))
		if !strings.Contains(r.header.Get("Location"), "/interaction/") {
			t.Errorf("%v: want a login interaction, got %d %q", over, r.status, r.header.Get("Location"))
		}
		if q := b.login(h.authorizeURL(over), alicePassword); q.Get("code") == "" {
			t.Errorf("%v: re-login gave no code: %v", over, q)
		}
	}
	// Each fresh login replaced the session (a new cookie, no fixation).
	if got := h.events.count(provider.EventSessionDestroyed); got != 2 {
		t.Errorf("session.destroyed = %d, want 2 (one per re-login)", got)
	}
	// max_age=60 right after a login: the fresh auth_time satisfies it.
	if q := redirectParams(t, b.get(h.authorizeURL(map[string]string{"max_age": "60"})), webRedirect); q.Get("code") == "" {
		t.Errorf("max_age satisfied by a fresh login: %v", q)
	}
	// max_age not yet exceeded: no login.
	r := b.get(h.authorizeURL(map[string]string{"max_age": "3600"}))
	if redirectParams(t, r, webRedirect).Get("code") == "" {
		t.Errorf("max_age within the session's age must not force a login")
	}
}

func TestConsentDenied(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	r := b.get(h.authorizeURL(nil))
	pg := b.get(h.abs(r.header.Get("Location")))
	action, csrf := page(t, pg)
	r = b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "login": {"alice"}, "password": {alicePassword}})
	pg = b.get(h.abs(r.header.Get("Location")))
	action, csrf = page(t, pg)
	if !strings.HasSuffix(action, "/consent") {
		t.Fatalf("want consent page, got action %q", action)
	}
	r = b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "decision": {"deny"}})
	q := redirectParams(t, r, webRedirect)
	if q.Get("error") != "access_denied" || q.Get("state") != "st-123" {
		t.Fatalf("deny: %v", q)
	}
	if h.events.count(provider.EventInteractionDestroyed) != 1 || h.events.count(provider.EventAuthorizationError) != 1 {
		t.Errorf("events: %v", h.events.names())
	}
}

func TestFormPostResponseMode(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	h.codeFor(b, nil)
	r := b.get(h.authorizeURL(map[string]string{"response_mode": "form_post"}))
	if r.status != http.StatusOK || !strings.Contains(r.body, `action="`+webRedirect+`"`) || !strings.Contains(r.body, `name="code"`) || !strings.Contains(r.body, `name="state" value="st-123"`) {
		t.Fatalf("form_post response: %d %s", r.status, r.body)
	}
	assertNoInlineScript(t, r)
}

func TestRedirectURIWithQueryKeepsIt(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	h.codeFor(b, nil)
	r := b.get(h.authorizeURL(map[string]string{"redirect_uri": "https://rp.example/cb?tenant=1"}))
	q := redirectParams(t, r, "https://rp.example/cb?tenant=1&")
	if q.Get("tenant") != "1" || q.Get("code") == "" {
		t.Fatalf("response = %v", q)
	}
}

// Pages must carry no inline script or event handler (the CSP forbids them).
func assertNoInlineScript(t *testing.T, r response) {
	t.Helper()
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP = %q", csp)
	}
	for _, m := range scriptTag.FindAllStringSubmatch(r.body, -1) {
		if !strings.Contains(m[1], "src=") {
			t.Errorf("inline script in page: %s", m[0])
		}
	}
	low := strings.ToLower(r.body)
	for _, attr := range []string{" onload=", " onclick=", " onsubmit=", "javascript:"} {
		if strings.Contains(low, attr) {
			t.Errorf("page contains %q", attr)
		}
	}
}

var scriptTag = regexp.MustCompile(`(?is)<script\b([^>]*)>`)

// form_post to a native app's private-use scheme keeps the scheme.
func TestFormPostToPrivateUseScheme(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *provider.Config) {
		cs := testClients(t)
		cs["native"] = &provider.Client{ID: "native", RedirectURIs: []string{"com.example.app:/oauth2redirect"}, TokenEndpointAuthMethod: provider.AuthMethodNone, SkipConsent: true}
		c.Clients = cs
	})
	b := h.browser()
	_, challenge := pkce("n")
	over := map[string]string{"client_id": "native", "redirect_uri": "com.example.app:/oauth2redirect", "response_mode": "form_post", "code_challenge": challenge, "code_challenge_method": "S256"}
	r := b.get(h.authorizeURL(over))
	pg := b.get(h.abs(r.header.Get("Location")))
	action, csrf := page(t, pg)
	r = b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "login": {"alice"}, "password": {alicePassword}})
	if r.status != 200 || !strings.Contains(r.body, `action="com.example.app:/oauth2redirect"`) {
		t.Fatalf("form_post to a private-use scheme: %d %s", r.status, r.body)
	}
	// Configured clients cannot register script-running schemes either.
	for _, bad := range []string{"JavaScript:alert(1)", "about:blank", "blob:https://x"} {
		if _, err := provider.NewStaticClients(&provider.Client{ID: "x", RedirectURIs: []string{bad}, TokenEndpointAuthMethod: provider.AuthMethodNone}); err == nil {
			t.Errorf("redirect URI %q accepted", bad)
		}
	}
}
