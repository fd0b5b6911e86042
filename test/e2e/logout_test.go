package e2e

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestRPInitiatedLogout logs a user in, then has the relying party send the
// browser to the end_session_endpoint with its ID token as id_token_hint
// and a registered post_logout_redirect_uri (OpenID Connect RP-Initiated
// Logout 1.0): no confirmation page, a 303 back to the relying party with
// its state, and the session is gone, so prompt=none answers
// login_required.
func TestRPInitiatedLogout(t *testing.T) {
	const byeURI = "http://localhost:5562/bye"
	app := clientSpec{ID: "logout-app", Secret: demoClientSecret, RedirectURI: "http://localhost:5562/callback"}
	cfg := newSiteConfig(t)
	cfg.ExtraClients = `
		client logout-app {
			name "Logout App"
			secret {env.DEMO_CLIENT_SECRET}
			redirect_uri http://localhost:5562/callback
			post_logout_redirect_uri ` + byeURI + `
		}`
	srv := startCaddy(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := discover(ctx, t, srv.cfg.Issuer())
	before := srv.metrics()

	rp := newRelyingParty(ctx, t, srv.cfg.Issuer(), app)
	b := newBrowser(t)
	tok := rp.signIn(ctx, b, demoUser)
	rawIDToken, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(ctx, rawIDToken)
	if err != nil {
		t.Fatalf("go-oidc rejects the ID token: %v", err)
	}
	var claims struct {
		SID string `json:"sid"`
	}
	if err := idt.Claims(&claims); err != nil || claims.SID == "" {
		t.Errorf("the ID token has no sid (err %v); logout by hint needs it", err)
	}

	// Logged in: prompt=none goes straight back with a code.
	silent := rp.newAuthRequest(oauth2.SetAuthURLParam("prompt", "none"))
	if res := b.authorize(ctx, silent.URL, app.RedirectURI, demoUser); res.Code == "" || len(res.Pages) != 0 {
		t.Fatalf("prompt=none before logout: %+v, want a code without pages", res)
	}

	logoutURL := m.EndSessionEndpoint + "?" + url.Values{
		"id_token_hint":            {rawIDToken},
		"post_logout_redirect_uri": {byeURI},
		"state":                    {"bye-state"},
	}.Encode()
	b.stopAt = byeURI
	resp, err := b.client.Get(logoutURL)
	b.stopAt = ""
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Request.URL.String() != logoutURL {
		t.Fatalf("logout: %s from %s, want 303 from the end_session_endpoint:\n%s", resp.Status, resp.Request.URL, body)
	}
	if loc := resp.Header.Get("Location"); loc != byeURI+"?state=bye-state" {
		t.Errorf("logout redirect = %q, want %s?state=bye-state", loc, byeURI)
	}

	// The session is gone.
	silent = rp.newAuthRequest(oauth2.SetAuthURLParam("prompt", "none"))
	if res := b.authorize(ctx, silent.URL, app.RedirectURI, demoUser); res.Error != "login_required" || res.Code != "" {
		t.Errorf("prompt=none after logout: %+v, want error login_required", res)
	}

	after := srv.metrics()
	checkEventDeltas(t, before, after, map[string]float64{
		"end_session.success": 1,
		"end_session.error":   0,
		"session.destroyed":   1,
	})
	wantIncreased(t, before, after, map[string]float64{"authorization.error": 1})
}
