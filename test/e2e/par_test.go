package e2e

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

var demoAppSpec = clientSpec{ID: "demo-app", Secret: demoClientSecret, RedirectURI: "http://localhost:5556/callback"}

// pushAuthorizationRequest pushes the parameters of an authorization request
// for the relying party (RFC 9126 §2.1) and returns the request_uri and the
// request's state, nonce and PKCE verifier.
func pushAuthorizationRequest(t *testing.T, m providerMetadata, rp *relyingParty, c clientCreds) (requestURI string, req authRequest) {
	t.Helper()
	req = authRequest{State: randomString(t), Nonce: randomString(t), Verifier: oauth2.GenerateVerifier()}
	form := url.Values{
		"response_type":         {"code"},
		"redirect_uri":          {rp.conf.RedirectURL},
		"scope":                 {strings.Join(rp.conf.Scopes, " ")},
		"state":                 {req.State},
		"nonce":                 {req.Nonce},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(req.Verifier)},
		"code_challenge_method": {"S256"},
	}
	r := postForm(t, m.PAREndpoint, form, c)
	if r.Status != http.StatusCreated {
		t.Fatalf("PAR: %d %s, want 201", r.Status, r.Body)
	}
	body := r.JSON(t)
	requestURI, _ = body["request_uri"].(string)
	if !strings.HasPrefix(requestURI, "urn:ietf:params:oauth:request_uri:") {
		t.Fatalf("PAR response: %v", body)
	}
	if exp, _ := body["expires_in"].(float64); exp <= 0 {
		t.Errorf("PAR response: expires_in = %v", body["expires_in"])
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("PAR response Cache-Control = %q, want no-store", r.Header.Get("Cache-Control"))
	}
	// The front channel carries only client_id and request_uri.
	req.URL = rp.conf.Endpoint.AuthURL + "?" + url.Values{"client_id": {rp.conf.ClientID}, "request_uri": {requestURI}}.Encode()
	return requestURI, req
}

// TestPushedAuthorizationRequest pushes an authorization request with client
// authentication, logs in through the browser with only client_id and
// request_uri on the front channel, exchanges the code with x/oauth2 and
// verifies the ID token with go-oidc; the request_uri is single use.
func TestPushedAuthorizationRequest(t *testing.T) {
	srv := startCaddy(t, newSiteConfig(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := discover(ctx, t, srv.cfg.Issuer())
	before := srv.metrics()

	rp := newRelyingParty(ctx, t, srv.cfg.Issuer(), demoAppSpec)
	// Without client authentication the push is refused.
	if r := postForm(t, m.PAREndpoint, url.Values{"response_type": {"code"}, "client_id": {demoAppSpec.ID}, "redirect_uri": {demoAppSpec.RedirectURI}, "scope": {"openid"}}, clientCreds{}); r.Status != http.StatusUnauthorized || r.errorCode() != "invalid_client" {
		t.Errorf("unauthenticated push: %d %s, want 401 invalid_client", r.Status, r.Body)
	}

	_, req := pushAuthorizationRequest(t, m, rp, demoApp)
	b := newBrowser(t)
	res := b.authorize(ctx, req.URL, demoAppSpec.RedirectURI, demoUser)
	if res.Error != "" || res.Code == "" {
		t.Fatalf("authorization through the pushed request failed: %+v", res)
	}
	if res.State != req.State {
		t.Errorf("state = %q, want the pushed %q", res.State, req.State)
	}
	tok, err := rp.conf.Exchange(ctx, res.Code, oauth2.VerifierOption(req.Verifier))
	if err != nil {
		t.Fatalf("code exchange after PAR: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("go-oidc rejects the ID token: %v", err)
	}
	if idt.Nonce != req.Nonce || idt.Subject != "demo-subject" {
		t.Errorf("ID token nonce %q sub %q, want the pushed nonce %q and demo-subject", idt.Nonce, idt.Subject, req.Nonce)
	}

	// The request_uri was used up: the same front-channel request, even
	// from the browser that holds the session, gets an error page and no
	// redirect to the client.
	for _, c := range []*http.Client{b.client, apiClient} {
		noFollow := *c
		noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := noFollow.Get(req.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(string(body), "invalid_request_uri") {
			t.Errorf("reused request_uri: %s Location %q, want 400 invalid_request_uri and no redirect", resp.Status, resp.Header.Get("Location"))
		}
	}

	after := srv.metrics()
	checkEventDeltas(t, before, after, map[string]float64{
		"pushed_authorization_request.success":   1,
		"pushed_authorization_request.saved":     1,
		"pushed_authorization_request.destroyed": 1,
		"pushed_authorization_request.error":     1,
		"authorization.success":                  1,
		"grant.success":                          1,
	})
	wantIncreased(t, before, after, map[string]float64{"authorization.error": 2})
}

// TestPARRequiredPerClient: a client configured with require_par cannot use
// the front channel alone (RFC 9126 §5); through a pushed request, with the
// configured request_uri lifetime, it logs in.
func TestPARRequiredPerClient(t *testing.T) {
	app := clientSpec{ID: "par-only", Secret: demoClientSecret, RedirectURI: "http://localhost:5566/callback"}
	cfg := newSiteConfig(t)
	cfg.ExtraClients = `
		lifetimes {
			pushed_authorization_request 30s
		}
		client par-only {
			secret {env.DEMO_CLIENT_SECRET}
			redirect_uri http://localhost:5566/callback
			require_par
		}`
	srv := startCaddy(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := discover(ctx, t, srv.cfg.Issuer())
	rp := newRelyingParty(ctx, t, srv.cfg.Issuer(), app)
	b := newBrowser(t)

	if res := b.authorize(ctx, rp.newAuthRequest().URL, app.RedirectURI, demoUser); res.Error != "invalid_request" || res.Code != "" || len(res.Pages) != 0 {
		t.Errorf("front-channel request of a require_par client: %+v, want error invalid_request before any page", res)
	}

	creds := clientCreds{ID: app.ID, Secret: app.Secret}
	r := postForm(t, m.PAREndpoint, url.Values{"response_type": {"code"}, "redirect_uri": {app.RedirectURI}, "scope": {"openid"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}, creds)
	if r.Status != http.StatusCreated || r.JSON(t)["expires_in"] != float64(30) {
		t.Errorf("PAR with lifetimes pushed_authorization_request 30s: %d %s, want 201 and expires_in 30", r.Status, r.Body)
	}

	_, req := pushAuthorizationRequest(t, m, rp, creds)
	res := b.authorize(ctx, req.URL, app.RedirectURI, demoUser)
	if res.Code == "" || res.State != req.State {
		t.Fatalf("pushed request of a require_par client: %+v", res)
	}
	if _, err := rp.conf.Exchange(ctx, res.Code, oauth2.VerifierOption(req.Verifier)); err != nil {
		t.Fatalf("code exchange: %v", err)
	}
}
