package e2e

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// The client and registration policy the Prometheus test drives every flow
// of the dashboard with.
const (
	promAppRedirect = "http://localhost:5570/callback"
	promAppBye      = "http://localhost:5570/bye"
	promExtraConfig = `
		client prom-app {
			name "Prom App"
			secret {env.DEMO_CLIENT_SECRET}
			redirect_uri ` + promAppRedirect + `
			post_logout_redirect_uri ` + promAppBye + `
			grant_types authorization_code refresh_token client_credentials device_code
			always_issue_refresh_token
			skip_consent
		}
		registration {
			policy open
		}`
)

// promFlowTraffic runs each flow the dashboard has a row for once, with a
// success and a handled error where the flow has one: sign-in and code
// exchange, refresh, userinfo, introspection, revocation, client
// credentials, device authorization and polling, PAR, dynamic registration
// and RP-initiated logout.
func promFlowTraffic(ctx context.Context, t *testing.T, srv *caddyServer, m providerMetadata) {
	t.Helper()
	app := clientSpec{ID: "prom-app", Secret: demoClientSecret, RedirectURI: promAppRedirect}
	creds := clientCreds{ID: app.ID, Secret: app.Secret}
	want := func(what string, r apiResponse, status int, code string) {
		t.Helper()
		if r.Status != status || r.errorCode() != code {
			t.Errorf("%s: %d %s, want %d %q", what, r.Status, r.Body, status, code)
		}
	}

	// Sign-in and code exchange.
	rp := newRelyingParty(ctx, t, srv.cfg.Issuer(), app)
	b := newBrowser(t)
	tok := rp.signIn(ctx, b, demoUser)
	idToken, _ := tok.Extra("id_token").(string)

	// Refresh, and a refresh token that does not exist.
	r := postForm(t, m.TokenEndpoint, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, creds)
	want("refresh", r, http.StatusOK, "")
	refreshed, _ := r.JSON(t)["refresh_token"].(string)
	want("refresh with an unknown token", postForm(t, m.TokenEndpoint, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"no-such-refresh-token"}}, creds),
		http.StatusBadRequest, "invalid_grant")

	// Userinfo, introspection and revocation, each with an error.
	if s := userinfoStatus(t, m, tok.AccessToken); s != http.StatusOK {
		t.Errorf("userinfo: %d", s)
	}
	if s := userinfoStatus(t, m, "no-such-access-token"); s != http.StatusUnauthorized {
		t.Errorf("userinfo with an unknown token: %d, want 401", s)
	}
	wantActive(t, "introspection", introspect(t, m, creds, tok.AccessToken), true, app.ID)
	want("introspection without a token", postForm(t, m.IntrospectionEndpoint, url.Values{}, creds), http.StatusBadRequest, "invalid_request")
	want("revocation", postForm(t, m.RevocationEndpoint, url.Values{"token": {refreshed}}, creds), http.StatusOK, "")
	want("revocation without a token", postForm(t, m.RevocationEndpoint, url.Values{}, creds), http.StatusBadRequest, "invalid_request")

	// Client credentials.
	want("client credentials", postForm(t, m.TokenEndpoint, url.Values{"grant_type": {"client_credentials"}}, creds), http.StatusOK, "")

	// Device authorization, then polling before the user acted.
	da := postForm(t, srv.cfg.Issuer()+"/device/auth", url.Values{"scope": {"openid"}}, creds)
	want("device authorization", da, http.StatusOK, "")
	dc, _ := da.JSON(t)["device_code"].(string)
	poll := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {dc}}
	want("first poll", postForm(t, m.TokenEndpoint, poll, creds), http.StatusBadRequest, "authorization_pending")
	if code := postForm(t, m.TokenEndpoint, poll, creds).errorCode(); code != "slow_down" && code != "authorization_pending" {
		t.Errorf("second poll: %q, want slow_down or authorization_pending", code)
	}

	// PAR, and a pushed request for a redirect URI the client does not have.
	pushAuthorizationRequest(t, m, rp, creds)
	want("PAR with an unregistered redirect_uri", postForm(t, m.PAREndpoint, url.Values{
		"response_type": {"code"}, "redirect_uri": {"http://localhost:5570/elsewhere"}, "scope": {"openid"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"},
	}, creds), http.StatusBadRequest, "invalid_request")

	// Registration: create, read, update, delete; and bad metadata.
	c := registered(t, register(t, m, "", map[string]any{"client_name": "Prom Registered", "redirect_uris": []string{"http://localhost:5571/cb"}}))
	readAndPutBack(t, c)
	if r := sendJSON(t, http.MethodDelete, c.RegistrationClientURI, c.RegistrationAccessToken, nil); r.Status != http.StatusNoContent {
		t.Errorf("registration delete: %d %s", r.Status, r.Body)
	}
	if r := register(t, m, "", map[string]any{"redirect_uris": []string{"not a uri"}}); r.Status != http.StatusBadRequest {
		t.Errorf("registration with a bad redirect URI: %d %s, want 400", r.Status, r.Body)
	}

	// RP-initiated logout, and one to an unregistered post_logout_redirect_uri.
	b.stopAt = promAppBye
	resp, err := b.client.Get(m.EndSessionEndpoint + "?" + url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {promAppBye}}.Encode())
	b.stopAt = ""
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("logout: %s, want 303", resp.Status)
	}
	r = doRequest(t, mustGet(t, m.EndSessionEndpoint+"?"+url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"http://localhost:5570/elsewhere"}}.Encode()))
	if r.Status < 400 {
		t.Errorf("logout to an unregistered post_logout_redirect_uri: %d, want an error", r.Status)
	}
}

// promInvalidClientBurst sends n token requests from a client that does not
// exist: what a rotated secret not rolled out, or credential guessing, looks
// like.
func promInvalidClientBurst(t *testing.T, m providerMetadata, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		r := postForm(t, m.TokenEndpoint, url.Values{"grant_type": {"client_credentials"}}, clientCreds{ID: "no-such-client", Secret: "guess"})
		if r.errorCode() != "invalid_client" {
			t.Fatalf("token request from an unknown client: %d %s, want invalid_client", r.Status, r.Body)
		}
	}
}

// promPasswordStorm posts n wrong passwords to one login page, as a
// password-guessing script would: the throttle soon refuses them without a
// password check, still as access_denied.
func promPasswordStorm(ctx context.Context, t *testing.T, srv *caddyServer, n int) {
	t.Helper()
	app := clientSpec{ID: "prom-app", Secret: demoClientSecret, RedirectURI: promAppRedirect}
	rp := newRelyingParty(ctx, t, srv.cfg.Issuer(), app)
	b := newBrowser(t)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rp.newAuthRequest().URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i <= n; i++ {
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if i == n {
			return
		}
		forms, err := parseForms(resp.Request.URL, body)
		if err != nil {
			t.Fatal(err)
		}
		f := pickForm(forms)
		if f == nil || !strings.HasSuffix(f.Action.Path, "/login") {
			t.Fatalf("attempt %d: %s shows no login form (%s):\n%s", i, resp.Request.URL, resp.Status, body)
		}
		f.Values.Set("login", demoUser.Login)
		f.Values.Set("password", "wrong-password")
		req = f.request(ctx, t)
	}
}
