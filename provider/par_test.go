package provider_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

func (h *harness) push(v url.Values, id, secret string) response {
	req, _ := http.NewRequest(http.MethodPost, h.issuer+"/par", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	return h.browser().do(req)
}

func TestPushedAuthorizationRequest(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if doc := jsonBody(t, h.browser().get(h.issuer+"/.well-known/openid-configuration")); doc["pushed_authorization_request_endpoint"] != h.issuer+"/par" {
		t.Fatalf("discovery: %v", doc["pushed_authorization_request_endpoint"])
	}
	verifier, challenge := pkce("par")
	v := url.Values{"redirect_uri": {webRedirect}, "response_type": {"code"}, "scope": {"openid email"}, "state": {"par-state"}, "nonce": {"n"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	r := h.push(v, "web", webSecret)
	if r.status != 201 {
		t.Fatalf("PAR: %d %s", r.status, r.body)
	}
	body := jsonBody(t, r)
	uri, _ := body["request_uri"].(string)
	if !strings.HasPrefix(uri, "urn:ietf:params:oauth:request_uri:") || body["expires_in"] != float64(60) {
		t.Fatalf("PAR response: %v", body)
	}
	if h.events.count(provider.EventPushedAuthorizationRequestSaved) != 1 || h.events.count(provider.EventPushedAuthorizationRequestSuccess) != 1 {
		t.Errorf("events: %v", h.events.names())
	}
	// The front channel carries only client_id and request_uri; other
	// parameters are ignored in favour of the pushed ones.
	b := h.browser()
	authURL := h.issuer + "/authorize?" + url.Values{"client_id": {"web"}, "request_uri": {uri}, "state": {"ignored"}}.Encode()
	q := b.login(authURL, alicePassword)
	if q.Get("code") == "" || q.Get("state") != "par-state" {
		t.Fatalf("PAR login: %v", q)
	}
	if h.events.count(provider.EventPushedAuthorizationRequestDestroyed) != 1 {
		t.Errorf("request_uri not destroyed on use: %v", h.events.names())
	}
	r = h.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}, "web", webSecret)
	if r.status != 200 {
		t.Fatalf("token after PAR: %d %s", r.status, r.body)
	}
	// Single use.
	if r := h.browser().get(authURL); r.status != 400 || !strings.Contains(r.body, "invalid_request_uri") {
		t.Fatalf("reused request_uri: %d", r.status)
	}
	// Another client cannot redeem a pushed request.
	uri2 := jsonBody(t, h.push(v, "web", webSecret))["request_uri"].(string)
	if r := h.browser().get(h.issuer + "/authorize?" + url.Values{"client_id": {"spa"}, "request_uri": {uri2}}.Encode()); r.status != 400 {
		t.Fatalf("request_uri of another client: %d", r.status)
	}
	// Expiry.
	uri3 := jsonBody(t, h.push(v, "web", webSecret))["request_uri"].(string)
	h.clock.advance(61e9)
	if r := h.browser().get(h.issuer + "/authorize?" + url.Values{"client_id": {"web"}, "request_uri": {uri3}}.Encode()); r.status != 400 {
		t.Fatalf("expired request_uri: %d", r.status)
	}
}

func TestPushedAuthorizationRequestErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, challenge := pkce("e")
	valid := url.Values{"redirect_uri": {webRedirect}, "response_type": {"code"}, "scope": {"openid"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	with := func(k, v string) url.Values { return withParam(valid, k, v) }
	for _, tc := range []struct {
		name       string
		v          url.Values
		id, secret string
		status     int
		code       string
	}{
		{"no client authentication", valid, "", "", 401, "invalid_client"},
		{"wrong secret", valid, "web", "nope", 401, "invalid_client"},
		{"unregistered redirect_uri", with("redirect_uri", "https://evil.example/cb"), "web", webSecret, 400, "invalid_request"},
		{"implicit", with("response_type", "token"), "web", webSecret, 400, "unsupported_response_type"},
		{"PKCE plain", with("code_challenge_method", "plain"), "web", webSecret, 400, "invalid_request"},
		{"request_uri pushed", with("request_uri", "urn:x"), "web", webSecret, 400, "invalid_request"},
		{"client_id mismatch", with("client_id", "spa"), "web", webSecret, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.events.reset()
			r := h.push(tc.v, tc.id, tc.secret)
			if body := jsonBody(t, r); r.status != tc.status || body["error"] != tc.code {
				t.Fatalf("got %d %v, want %d %s", r.status, body, tc.status, tc.code)
			}
			if h.events.count(provider.EventPushedAuthorizationRequestError) != 1 || h.events.count(provider.EventPushedAuthorizationRequestSaved) != 0 {
				t.Errorf("events: %v", h.events.names())
			}
		})
	}
}

func TestPARRequiredPerClient(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *provider.Config) {
		cs := testClients(t)
		cs["web"].RequirePushedAuthorizationRequests = true
		c.Clients = cs
	})
	q := redirectParams(t, h.browser().get(h.authorizeURL(nil)), webRedirect)
	if q.Get("error") != "invalid_request" {
		t.Fatalf("front-channel request of a PAR-only client: %v", q)
	}
	_, challenge := pkce("x")
	uri := jsonBody(t, h.push(url.Values{"redirect_uri": {webRedirect}, "response_type": {"code"}, "scope": {"openid"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}, "web", webSecret))["request_uri"].(string)
	r := h.browser().get(h.issuer + "/authorize?" + url.Values{"client_id": {"web"}, "request_uri": {uri}}.Encode())
	if r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "/interaction/") {
		t.Fatalf("pushed request of a PAR-only client: %d %s", r.status, r.header.Get("Location"))
	}
}
