package provider_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

// Errors before the client and redirect URI are trusted are shown to the
// user; after that they go back to the client (RFC 6749 §4.1.2.1).
func TestAuthorizationErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, challenge := pkce("e")
	cases := []struct {
		name     string
		rawQuery string            // used instead of over when set
		over     map[string]string // changes to a valid request
		status   int               // for errors shown on a page
		errCode  string
	}{
		{name: "missing client_id", over: map[string]string{"client_id": ""}, status: 400, errCode: "invalid_request"},
		{name: "unknown client", over: map[string]string{"client_id": "nobody"}, status: 400, errCode: "invalid_client"},
		{name: "missing redirect_uri", over: map[string]string{"redirect_uri": ""}, status: 400, errCode: "invalid_request"},
		{name: "unregistered redirect_uri", over: map[string]string{"redirect_uri": "https://evil.example/cb"}, status: 400, errCode: "invalid_request"},
		{name: "redirect_uri prefix is not a match", over: map[string]string{"redirect_uri": webRedirect + "/x"}, status: 400, errCode: "invalid_request"},
		{name: "malformed query", rawQuery: "client_id=web&redirect_uri=%zz", status: 400, errCode: "invalid_request"},
		{name: "duplicated client_id", rawQuery: "client_id=web&client_id=spa&redirect_uri=" + url.QueryEscape(webRedirect), status: 400, errCode: "invalid_request"},
		{name: "invalid UTF-8", rawQuery: "client_id=%ff%fe&redirect_uri=x", status: 400, errCode: "invalid_request"},
		{name: "client without code grant", over: map[string]string{"client_id": "machine"}, status: 400, errCode: "invalid_request"},
		{name: "missing response_type", over: map[string]string{"response_type": ""}, errCode: "invalid_request"},
		{name: "implicit flow", over: map[string]string{"response_type": "token"}, errCode: "unsupported_response_type"},
		{name: "hybrid flow", over: map[string]string{"response_type": "code id_token"}, errCode: "unsupported_response_type"},
		{name: "missing scope", over: map[string]string{"scope": ""}, errCode: "invalid_scope"},
		{name: "no openid scope", over: map[string]string{"scope": "email"}, errCode: "invalid_scope"},
		{name: "bad response_mode", over: map[string]string{"response_mode": "fragment"}, errCode: "invalid_request"},
		{name: "PKCE plain refused", over: map[string]string{"code_challenge": challenge, "code_challenge_method": "plain"}, errCode: "invalid_request"},
		{name: "PKCE method without challenge", over: map[string]string{"code_challenge_method": "S256"}, errCode: "invalid_request"},
		{name: "PKCE challenge malformed", over: map[string]string{"code_challenge": "short", "code_challenge_method": "S256"}, errCode: "invalid_request"},
		{name: "public client without PKCE", over: map[string]string{"client_id": "spa", "redirect_uri": spaRedirect}, errCode: "invalid_request"},
		{name: "prompt none with login", over: map[string]string{"prompt": "none login"}, errCode: "invalid_request"},
		{name: "unknown prompt", over: map[string]string{"prompt": "bogus"}, errCode: "invalid_request"},
		{name: "negative max_age", over: map[string]string{"max_age": "-1"}, errCode: "invalid_request"},
		{name: "non-numeric max_age", over: map[string]string{"max_age": "ten"}, errCode: "invalid_request"},
		{name: "request object", over: map[string]string{"request": "eyJ.x.y"}, errCode: "request_not_supported"},
		{name: "unknown request_uri", over: map[string]string{"request_uri": "urn:x"}, status: 400, errCode: "invalid_request_uri"},
		{name: "oversized nonce", over: map[string]string{"nonce": strings.Repeat("n", 600)}, errCode: "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.events.reset()
			u := h.authorizeURL(tc.over)
			if tc.rawQuery != "" {
				u = h.issuer + "/authorize?" + tc.rawQuery
			}
			r := h.browser().get(u)
			if tc.status != 0 {
				if r.status != tc.status || r.header.Get("Location") != "" {
					t.Fatalf("want an error page %d, got %d Location=%q", tc.status, r.status, r.header.Get("Location"))
				}
				if !strings.Contains(r.body, tc.errCode) || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
					t.Errorf("error page lacks %s: %s", tc.errCode, r.body)
				}
				assertNoInlineScript(t, r)
			} else {
				want := webRedirect
				if ru := tc.over["redirect_uri"]; ru != "" {
					want = ru
				}
				q := redirectParams(t, r, want)
				if q.Get("error") != tc.errCode || q.Get("state") != "st-123" || q.Get("iss") != h.issuer || q.Get("error_description") == "" {
					t.Fatalf("error response = %v, want error=%s with state and iss", q, tc.errCode)
				}
			}
			if h.events.count(provider.EventAuthorizationError) != 1 || h.events.count(provider.EventServerError) != 0 {
				t.Errorf("events = %v", h.events.names())
			}
		})
	}
}

func TestAuthorizationByPOST(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	v := url.Values{"client_id": {"web"}, "redirect_uri": {webRedirect}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}
	r := b.postForm(h.issuer+"/authorize", v)
	if r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "/interaction/") {
		t.Fatalf("POST authorization: %d %q", r.status, r.header.Get("Location"))
	}
	req, _ := http.NewRequest(http.MethodPut, h.issuer+"/authorize", nil)
	if r := b.do(req); r.status != http.StatusMethodNotAllowed {
		t.Errorf("PUT authorization: %d", r.status)
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	// In parallel with the other waiting tests: the oversized-body case waits out net/http's 500 ms lingering close,
	// which costs wall time, not work.
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	code, verifier := h.codeFor(b, nil)
	valid := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}
	with := func(k, v string) url.Values { return withParam(valid, k, v) }
	type req struct {
		method      string
		contentType string
		body        string
		basic       [2]string
	}
	form := func(v url.Values, id, secret string) req {
		return req{http.MethodPost, "application/x-www-form-urlencoded", v.Encode(), [2]string{id, secret}}
	}
	cases := []struct {
		name    string
		req     req
		status  int
		errCode string
	}{
		{"GET", req{method: http.MethodGet}, 405, "invalid_request"},
		{"missing content type", req{http.MethodPost, "", valid.Encode(), [2]string{"web", webSecret}}, 400, "invalid_request"},
		{"JSON body", req{http.MethodPost, "application/json", `{"grant_type":"authorization_code"}`, [2]string{"web", webSecret}}, 400, "invalid_request"},
		{"oversized body", req{http.MethodPost, "application/x-www-form-urlencoded", "a=" + strings.Repeat("x", 70<<10), [2]string{"web", webSecret}}, 413, "invalid_request"},
		{"malformed body", req{http.MethodPost, "application/x-www-form-urlencoded", "code=%zz", [2]string{"web", webSecret}}, 400, "invalid_request"},
		{"duplicated parameter", req{http.MethodPost, "application/x-www-form-urlencoded", valid.Encode() + "&code=again", [2]string{"web", webSecret}}, 400, "invalid_request"},
		{"no client authentication", form(valid, "", ""), 401, "invalid_client"},
		{"unknown client", form(valid, "nobody", "x"), 401, "invalid_client"},
		{"wrong secret", form(valid, "web", "wrong"), 401, "invalid_client"},
		{"secret in body for a basic client", form(with("client_secret", webSecret), "", ""), 401, "invalid_client"},
		{"two authentication methods", form(with("client_secret", webSecret), "web", webSecret), 400, "invalid_request"},
		{"basic client_id differs from body", form(with("client_id", "post"), "web", webSecret), 400, "invalid_request"},
		{"public client sending a secret", form(url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"}, "client_secret": {"x"}}, "", ""), 401, "invalid_client"},
		{"missing grant_type", form(with("grant_type", ""), "web", webSecret), 400, "invalid_request"},
		{"unsupported grant_type", form(with("grant_type", "password"), "web", webSecret), 400, "unsupported_grant_type"},
		{"grant type not allowed", form(with("grant_type", "client_credentials"), "web", webSecret), 400, "unauthorized_client"},
		{"missing code", form(with("code", ""), "web", webSecret), 400, "invalid_request"},
		{"garbage code", form(with("code", "garbage"), "web", webSecret), 400, "invalid_grant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.events.reset()
			rq, _ := http.NewRequest(tc.req.method, h.issuer+"/token", strings.NewReader(tc.req.body))
			if tc.req.contentType != "" {
				rq.Header.Set("Content-Type", tc.req.contentType)
			}
			if tc.req.basic[0] != "" {
				rq.SetBasicAuth(tc.req.basic[0], tc.req.basic[1])
			}
			r := h.browser().do(rq)
			body := jsonBody(t, r)
			if r.status != tc.status || body["error"] != tc.errCode {
				t.Fatalf("got %d %v, want %d %s", r.status, body, tc.status, tc.errCode)
			}
			if tc.status == 401 && tc.req.basic[0] != "" && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("401 to a Basic client lacks the Basic challenge")
			}
			if h.events.count(provider.EventGrantError) != 1 {
				t.Errorf("events = %v", h.events.names())
			}
		})
	}
	// After all that, the code is still good: no failed request consumed it.
	if r := h.token(valid, "web", webSecret); r.status != http.StatusOK {
		t.Fatalf("valid exchange after the error cases: %d %s", r.status, r.body)
	}
}

// Checks that need a consumed code burn it (it is in the wrong hands).
func TestTokenCodeBindingChecks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func(v url.Values) (url.Values, string, string)
	}{
		{"code of another client", func(v url.Values) (url.Values, string, string) {
			v.Set("client_id", "post")
			v.Set("client_secret", postSecret)
			return v, "", ""
		}},
		{"redirect_uri mismatch", func(v url.Values) (url.Values, string, string) {
			v.Set("redirect_uri", "https://rp.example/cb?tenant=1")
			return v, "web", webSecret
		}},
		{"missing redirect_uri", func(v url.Values) (url.Values, string, string) { v.Del("redirect_uri"); return v, "web", webSecret }},
		{"missing verifier", func(v url.Values) (url.Values, string, string) { v.Del("code_verifier"); return v, "web", webSecret }},
		{"malformed verifier", func(v url.Values) (url.Values, string, string) {
			v.Set("code_verifier", "short")
			return v, "web", webSecret
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			code, verifier := h.codeFor(h.browser(), nil)
			v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}
			bad, id, secret := tc.edit(v)
			r := h.token(bad, id, secret)
			if body := jsonBody(t, r); r.status != 400 || body["error"] != "invalid_grant" {
				t.Fatalf("got %d %v", r.status, body)
			}
			if h.events.count(provider.EventAuthorizationCodeDestroyed) != 1 {
				t.Errorf("code not destroyed: %v", h.events.names())
			}
		})
	}
}

func TestClientSecretPost(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	verifier, challenge := pkce("q")
	q := b.login(h.authorizeURL(map[string]string{"client_id": "post", "code_challenge": challenge, "code_challenge_method": "S256"}), alicePassword)
	v := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}, "client_id": {"post"}, "client_secret": {postSecret}}
	if r := h.token(v, "", ""); r.status != 200 {
		t.Fatalf("client_secret_post: %d %s", r.status, r.body)
	}
	// The same client over Basic is refused: it is registered for post.
	if r := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, "post", postSecret); r.status != 401 {
		t.Fatalf("client_secret_post client using Basic: %d %s", r.status, r.body)
	}
}

// Basic credentials are form-encoded before base64 (RFC 6749 §2.3.1).
func TestBasicCredentialsAreFormDecoded(t *testing.T) {
	t.Parallel()
	c := &provider.Client{ID: "a b:c", RedirectURIs: []string{webRedirect}, TokenEndpointAuthMethod: provider.AuthMethodClientSecretBasic}
	c.SetSecret("p@ss:w rd%")
	h := newHarness(t, func(cfg *provider.Config) {
		cs := testClients(t)
		cs[c.ID] = c
		cfg.Clients = cs
	})
	r := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {webRedirect}}, "a b:c", "p@ss:w rd%")
	if body := jsonBody(t, r); body["error"] != "invalid_grant" {
		t.Fatalf("client with reserved characters did not authenticate: %d %v", r.status, body)
	}
}
