package e2e

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

var demoUser = user{Login: "demo", Password: "demo", Decision: "allow"}

func TestCaddyServesDiscoveryAndPassesThrough(t *testing.T) {
	srv := startCaddy(t, newSiteConfig(t))

	resp, err := http.Get(srv.cfg.Issuer() + "/some/app/page")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("non-provider path: %s, want the site's respond 200", resp.Status)
	}

	ctx := context.Background()
	p, err := oidc.NewProvider(ctx, srv.cfg.Issuer())
	if err != nil {
		t.Fatalf("go-oidc rejects the discovery document: %v", err)
	}
	if p.Endpoint().TokenURL != srv.cfg.Issuer()+"/token" {
		t.Errorf("token endpoint = %q", p.Endpoint().TokenURL)
	}
	if m := srv.metrics(); len(m) < 50 {
		t.Errorf("only %d event series on /metrics; every catalogued event should be pre-created", len(m))
	}
}

// `caddy validate` provisions modules, so it cannot open the database a
// running server holds; the error must say why and what to do.
func TestValidateWhileRunningExplainsLock(t *testing.T) {
	srv := startCaddy(t, newSiteConfig(t))
	cmd := exec.Command(caddyBin, "validate", "--config", srv.Caddyfile, "--adapter", "caddyfile")
	cmd.Env = srv.Env
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("caddy validate succeeded while the server holds the database:\n%s", out)
	}
	for _, want := range []string{"locked by another process", "caddy reload", "caddy validate"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("caddy validate output does not mention %q:\n%s", want, out)
		}
	}
	// The server is unaffected.
	resp, err := http.Get(srv.cfg.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery after the failed validate: %s", resp.Status)
	}
}

// TestAuthorizationCodeFlow runs the whole authorization code flow with PKCE
// for a confidential and a public client, then the two ways an exchange must
// fail, and checks the provider's event counters on Caddy's /metrics.
func TestAuthorizationCodeFlow(t *testing.T) {
	srv := startCaddy(t, newSiteConfig(t))
	clients := []struct {
		name string
		spec clientSpec
	}{
		{"confidential", clientSpec{ID: "demo-app", Secret: demoClientSecret, RedirectURI: "http://localhost:5556/callback"}},
		{"public", clientSpec{ID: "demo-spa", RedirectURI: "http://localhost:5557/callback"}},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rp := newRelyingParty(ctx, t, srv.cfg.Issuer(), c.spec)
			b := newBrowser(t)
			before := srv.metrics()

			// 1. First visit: login, consent, code, tokens.
			req := rp.newAuthRequest()
			res := b.authorize(ctx, req.URL, c.spec.RedirectURI, demoUser)
			if res.Error != "" || res.Code == "" {
				t.Fatalf("authorization failed: %+v", res)
			}
			if res.State != req.State {
				t.Fatalf("state = %q, want %q", res.State, req.State)
			}
			if !res.saw("login") || !res.saw("consent") {
				t.Errorf("a first visit should show login and consent, saw %v", res.Pages)
			}
			tok, err := rp.conf.Exchange(ctx, res.Code, oauth2.VerifierOption(req.Verifier))
			if err != nil {
				t.Fatalf("code exchange: %v", err)
			}
			raw, _ := tok.Extra("id_token").(string)
			if raw == "" {
				t.Fatal("no id_token in the token response")
			}
			idt, err := rp.verifier.Verify(ctx, raw)
			if err != nil {
				t.Fatalf("go-oidc rejects the ID token: %v", err)
			}
			if idt.Nonce != req.Nonce {
				t.Errorf("nonce = %q, want %q", idt.Nonce, req.Nonce)
			}
			if idt.Subject != "demo-subject" {
				t.Errorf("sub = %q, want demo-subject", idt.Subject)
			}

			info, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			var claims struct {
				Name          string `json:"name"`
				Email         string `json:"email"`
				EmailVerified bool   `json:"email_verified"`
			}
			if err := info.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			if info.Subject != "demo-subject" || claims.Email != "demo@example.com" || !claims.EmailVerified || claims.Name != "Demo User" {
				t.Errorf("userinfo = sub %q %+v", info.Subject, claims)
			}

			// 2. The same code again: refused (RFC 6749 §4.1.2).
			if _, err := rp.conf.Exchange(ctx, res.Code, oauth2.VerifierOption(req.Verifier)); oauthErrorCode(err) != "invalid_grant" {
				t.Errorf("second exchange of one code: err = %v, want invalid_grant", err)
			}

			// 3. A new request in the same browser, redeemed with the wrong
			// PKCE verifier: refused (RFC 7636 §4.6). The session cookie
			// spares the login; consent may be asked again because the
			// replayed code revoked the grant.
			req2 := rp.newAuthRequest()
			res2 := b.authorize(ctx, req2.URL, c.spec.RedirectURI, demoUser)
			if res2.Error != "" || res2.Code == "" {
				t.Fatalf("second authorization failed: %+v", res2)
			}
			if res2.saw("login") {
				t.Errorf("the session should spare a second login, saw %v", res2.Pages)
			}
			if _, err := rp.conf.Exchange(ctx, res2.Code, oauth2.VerifierOption(oauth2.GenerateVerifier())); oauthErrorCode(err) != "invalid_grant" {
				t.Errorf("exchange with a wrong code_verifier: err = %v, want invalid_grant", err)
			}

			after := srv.metrics()
			delta := func(event string) float64 { return after[event] - before[event] }
			expect := map[string]float64{
				"authorization.success":       2, // two codes issued
				"authorization_code.saved":    2,
				"authorization_code.consumed": 2, // the good exchange, and the wrong verifier's (consumed before PKCE is checked, then destroyed)
				"access_token.saved":          1,
				"grant.success":               1,
				"grant.error":                 2, // the replay and the wrong verifier
				// One per page shown: login and consent, then whatever the
				// second request needed.
				"interaction.started": float64(len(res.Pages) + len(res2.Pages)),
			}
			for event, want := range expect {
				if got := delta(event); got != want {
					t.Errorf("%s increased by %v, want %v", event, got, want)
				}
			}
			// The login saves the session; recording the consent in it may
			// save it again.
			if got := delta("session.saved"); got < 1 {
				t.Errorf("session.saved increased by %v, want at least 1", got)
			}
		})
	}

	if srv.logContains(demoClientSecret) {
		t.Error("the client secret appears in Caddy's log")
	}
}

// TestReloadKeepsSessions reloads Caddy with a changed configuration while a
// user is logged in: the new configuration must share the open database
// (Badger allows one opener), so the session survives and the user is not
// asked to log in again; the newly added client works at once.
func TestReloadKeepsSessions(t *testing.T) {
	cfg := newSiteConfig(t)
	srv := startCaddy(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := newBrowser(t)

	app := clientSpec{ID: "demo-app", Secret: demoClientSecret, RedirectURI: "http://localhost:5556/callback"}
	rp := newRelyingParty(ctx, t, srv.cfg.Issuer(), app)
	req := rp.newAuthRequest()
	res := b.authorize(ctx, req.URL, app.RedirectURI, demoUser)
	if res.Code == "" || !res.saw("login") {
		t.Fatalf("first authorization: %+v", res)
	}
	if _, err := rp.conf.Exchange(ctx, res.Code, oauth2.VerifierOption(req.Verifier)); err != nil {
		t.Fatalf("exchange before reload: %v", err)
	}

	reloaded := cfg
	reloaded.ExtraClients = `
		client added-after-reload {
			public
			skip_consent
			redirect_uri http://localhost:5558/callback
		}`
	srv.load(reloaded)

	// Same browser, no prompt: straight back to the client, no login page.
	req = rp.newAuthRequest()
	res = b.authorize(ctx, req.URL, app.RedirectURI, user{Decision: "allow"})
	if res.Code == "" || len(res.Pages) != 0 {
		t.Fatalf("after reload the session and consent should carry the user straight through, got %+v", res)
	}
	if _, err := rp.conf.Exchange(ctx, res.Code, oauth2.VerifierOption(req.Verifier)); err != nil {
		t.Fatalf("exchange after reload: %v", err)
	}

	added := clientSpec{ID: "added-after-reload", RedirectURI: "http://localhost:5558/callback"}
	rp2 := newRelyingParty(ctx, t, srv.cfg.Issuer(), added)
	req = rp2.newAuthRequest()
	res = b.authorize(ctx, req.URL, added.RedirectURI, user{Decision: "allow"})
	if res.Code == "" || res.saw("login") {
		t.Fatalf("the added client: %+v", res)
	}
	tok, err := rp2.conf.Exchange(ctx, res.Code, oauth2.VerifierOption(req.Verifier))
	if err != nil {
		t.Fatalf("exchange for the added client: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if _, err := rp2.verifier.Verify(ctx, raw); err != nil {
		t.Fatalf("ID token for the added client: %v", err)
	}
}
