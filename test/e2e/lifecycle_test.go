package e2e

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// offlineApp is a confidential client allowed to hold refresh tokens.
var offlineApp = clientSpec{ID: "offline-app", Secret: demoClientSecret, RedirectURI: "http://localhost:5560/callback"}

const offlineAppClient = `
		client offline-app {
			name "Offline App"
			secret {env.DEMO_CLIENT_SECRET}
			redirect_uri http://localhost:5560/callback
			grant_types authorization_code refresh_token
		}`

// demoApp, a confidential client of the base configuration, is the
// resource server that introspects other clients' tokens.
var demoApp = clientCreds{ID: "demo-app", Secret: demoClientSecret}

// refreshReuseGrace is the provider's default grace for a rotated refresh
// token presented again: answered with the same successor, and the grant
// survives.
const refreshReuseGrace = 2 * time.Second

// TestRefreshTokenRotationAndReuse logs in with offline_access, refreshes
// through x/oauth2's TokenSource (the refresh token rotates), then presents
// the rotated-away token again: within the reuse grace it gets the same
// successor; after it the provider takes the token to be stolen and revokes
// the whole grant, so the newest access and refresh tokens die with it.
func TestRefreshTokenRotationAndReuse(t *testing.T) {
	cfg := newSiteConfig(t)
	cfg.ExtraClients = offlineAppClient
	srv := startCaddy(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := discover(ctx, t, srv.cfg.Issuer())
	wantListed(t, m.GrantTypesSupported, "grant_types_supported", "refresh_token")
	before := srv.metrics()

	rp := newRelyingParty(ctx, t, srv.cfg.Issuer(), offlineApp)
	rp.conf.Scopes = append(rp.conf.Scopes, "offline_access")
	req := rp.newAuthRequest()
	res := newBrowser(t).authorize(ctx, req.URL, offlineApp.RedirectURI, demoUser)
	if res.Error != "" || res.Code == "" {
		t.Fatalf("authorization failed: %+v", res)
	}
	tok1, err := rp.conf.Exchange(ctx, res.Code, oauth2.VerifierOption(req.Verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	if tok1.RefreshToken == "" {
		t.Fatalf("no refresh token for offline_access (scope %v)", tok1.Extra("scope"))
	}
	owner := clientCreds{ID: offlineApp.ID, Secret: offlineApp.Secret}
	if got := introspect(t, m, owner, tok1.RefreshToken); got["active"] != true || got["token_type"] != "refresh_token" || got["sub"] != "demo-subject" {
		t.Errorf("introspection of the first refresh token: %v", got)
	}

	// The RP's token has expired: the TokenSource refreshes it.
	stale := &oauth2.Token{AccessToken: tok1.AccessToken, RefreshToken: tok1.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
	tok2, err := rp.conf.TokenSource(ctx, stale).Token()
	if err != nil {
		t.Fatalf("refresh through oauth2.TokenSource: %v", err)
	}
	refreshedAt := time.Now() // the old token was consumed before this
	if tok2.RefreshToken == "" || tok2.RefreshToken == tok1.RefreshToken {
		t.Fatalf("the refresh token did not rotate: old %q, new %q", tok1.RefreshToken, tok2.RefreshToken)
	}
	if tok2.AccessToken == tok1.AccessToken || !tok2.Valid() {
		t.Fatalf("refresh returned no new valid access token: %+v", tok2)
	}
	raw, _ := tok2.Extra("id_token").(string)
	if idt, err := rp.verifier.Verify(ctx, raw); err != nil {
		t.Errorf("go-oidc rejects the refreshed ID token: %v", err)
	} else if idt.Subject != "demo-subject" {
		t.Errorf("refreshed ID token sub = %q", idt.Subject)
	}
	wantActive(t, "refreshed access token", introspect(t, m, demoApp, tok2.AccessToken), true, offlineApp.ID)
	wantActive(t, "rotated-away refresh token", introspect(t, m, owner, tok1.RefreshToken), false, "")
	if st := userinfoStatus(t, m, tok2.AccessToken); st != http.StatusOK {
		t.Errorf("userinfo with the refreshed access token: %d", st)
	}

	reuse := func() error {
		_, err := rp.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok1.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
		return err
	}
	// At once: a client racing itself. It gets the same successor (and an
	// access token of its own), and the grant stands. The grace is measured
	// on the server from the rotation, which happened before refreshedAt, so
	// this is only asserted while surely inside it.
	revokedBefore := srv.metrics()["grant.revoked"]
	dup, dupErr := rp.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok1.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
	if time.Since(refreshedAt) < refreshReuseGrace {
		if dupErr != nil || dup.RefreshToken != tok2.RefreshToken {
			t.Errorf("reuse within the grace: err = %v, want the same successor", dupErr)
		}
		wantActive(t, "access token after a reuse within the grace", introspect(t, m, demoApp, tok2.AccessToken), true, offlineApp.ID)
		if got := srv.metrics()["grant.revoked"] - revokedBefore; got != 0 {
			t.Errorf("a reuse within the grace revoked %v grants", got)
		}
	} else {
		t.Logf("the machine is slow: %s passed before the reuse, past the grace; not checking that the grant survives", time.Since(refreshedAt))
	}

	// After the grace: reuse means theft; the whole grant is revoked.
	time.Sleep(time.Until(refreshedAt.Add(refreshReuseGrace + 200*time.Millisecond)))
	if err := reuse(); oauthErrorCode(err) != "invalid_grant" {
		t.Fatalf("reuse after the grace: err = %v, want invalid_grant", err)
	}
	wantActive(t, "newest access token after reuse", introspect(t, m, demoApp, tok2.AccessToken), false, "")
	wantActive(t, "newest refresh token after reuse", introspect(t, m, owner, tok2.RefreshToken), false, "")
	if _, err := rp.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token(); oauthErrorCode(err) != "invalid_grant" {
		t.Errorf("refresh with the newest refresh token of a revoked grant: err = %v, want invalid_grant", err)
	}
	if st := userinfoStatus(t, m, tok2.AccessToken); st != http.StatusUnauthorized {
		t.Errorf("userinfo with an access token of a revoked grant: %d, want 401", st)
	}

	after := srv.metrics()
	wantIncreased(t, before, after, map[string]float64{
		"refresh_token.saved":     2, // the exchange and the rotation
		"refresh_token.consumed":  1,
		"refresh_token.destroyed": 1,
		"access_token.saved":      3,
		"access_token.destroyed":  3, // all access tokens of the grant
		"grant.success":           3, // the exchange, the refresh and its duplicate
		"grant.revoked":           1,
		"grant.error":             2, // the reuse after the grace and the dead newest token
	})
	if got := after["grant.revoked"] - before["grant.revoked"]; got != 1 {
		t.Errorf("grant.revoked increased by %v, want exactly 1", got)
	}
}

// TestClientCredentialsIntrospectionRevocation gets a machine token with
// x/oauth2/clientcredentials, introspects it (RFC 7662) as its owner and as
// the resource server while another client sees it inactive, has another
// client fail to revoke it, revokes it as its owner (RFC 7009) and sees it
// inactive; a public client may not introspect at all.
func TestClientCredentialsIntrospectionRevocation(t *testing.T) {
	cfg := newSiteConfig(t)
	cfg.ExtraClients = `
		client machine {
			name "Machine"
			secret {env.DEMO_CLIENT_SECRET}
			grant_types client_credentials
			allowed_scopes read write
		}
		client other-machine {
			secret {env.DEMO_CLIENT_SECRET}
			grant_types client_credentials
		}`
	srv := startCaddy(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := discover(ctx, t, srv.cfg.Issuer())
	wantListed(t, m.GrantTypesSupported, "grant_types_supported", "client_credentials")
	before := srv.metrics()

	machine := clientCreds{ID: "machine", Secret: demoClientSecret}
	cc := clientcredentials.Config{ClientID: machine.ID, ClientSecret: machine.Secret, TokenURL: m.TokenEndpoint, AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client_credentials: %v", err)
	}
	if tok.AccessToken == "" || tok.RefreshToken != "" || !tok.Valid() {
		t.Fatalf("client_credentials token: %+v (no refresh token allowed, RFC 6749 §4.4.3)", tok)
	}
	// No scope asked: all of allowed_scopes.
	if tok.Extra("scope") != "read write" {
		t.Errorf("client_credentials without scope: scope %v, want read write", tok.Extra("scope"))
	}
	got := introspect(t, m, machine, tok.AccessToken)
	wantActive(t, "machine token, asked by its owner", got, true, machine.ID)
	if got["sub"] != machine.ID || got["iss"] != srv.cfg.Issuer() || got["token_type"] != "Bearer" || got["scope"] != "read write" {
		t.Errorf("introspection of a client_credentials token: %v (sub should be the client)", got)
	}
	// A narrower scope is granted; one outside allowed_scopes is not.
	narrow := cc
	narrow.Scopes = []string{"read"}
	if ntok, err := narrow.Token(ctx); err != nil {
		t.Errorf("client_credentials with scope read: %v", err)
	} else if ntok.Extra("scope") != "read" {
		t.Errorf("client_credentials with scope read: scope %v", ntok.Extra("scope"))
	}
	wide := cc
	wide.Scopes = []string{"read", "delete"}
	if _, err := wide.Token(ctx); oauthErrorCode(err) != "invalid_scope" {
		t.Errorf("client_credentials beyond allowed_scopes: err = %v, want invalid_scope", err)
	}
	wantActive(t, "machine token, asked by a resource server", introspect(t, m, demoApp, tok.AccessToken), true, machine.ID)
	// A client that is not a resource server learns nothing about others'
	// tokens (RFC 7662 §4).
	wantActive(t, "machine token, asked by another client", introspect(t, m, clientCreds{ID: "other-machine", Secret: demoClientSecret}, tok.AccessToken), false, "")

	// Introspection needs a confidential client: a public client's call
	// and a wrong secret are refused (introspection.error).
	if r := postForm(t, m.IntrospectionEndpoint, url.Values{"token": {tok.AccessToken}}, clientCreds{ID: "demo-spa"}); r.Status != http.StatusUnauthorized || r.errorCode() != "invalid_client" {
		t.Errorf("introspection by a public client: %d %s, want 401 invalid_client", r.Status, r.Body)
	}
	if r := postForm(t, m.IntrospectionEndpoint, url.Values{"token": {tok.AccessToken}}, clientCreds{ID: machine.ID, Secret: "wrong"}); r.Status != http.StatusUnauthorized || r.errorCode() != "invalid_client" {
		t.Errorf("introspection with a wrong secret: %d %s, want 401 invalid_client", r.Status, r.Body)
	}

	// Only the client the token was issued to may revoke it (RFC 7009 §2.1).
	if r := postForm(t, m.RevocationEndpoint, url.Values{"token": {tok.AccessToken}}, demoApp); r.Status == http.StatusOK {
		t.Errorf("another client revoked the machine's token")
	}
	wantActive(t, "machine token after another client's revocation attempt", introspect(t, m, demoApp, tok.AccessToken), true, machine.ID)

	revoke(t, m, machine, tok.AccessToken)
	wantActive(t, "revoked machine token", introspect(t, m, machine, tok.AccessToken), false, "")
	// Revoking again is fine: the token is already invalid (§2.2).
	revoke(t, m, machine, tok.AccessToken)

	after := srv.metrics()
	wantIncreased(t, before, after, map[string]float64{
		"client_credentials.saved":     2,
		"client_credentials.destroyed": 1,
		"grant.success":                1,
		"introspection.error":          2,
		"revocation.error":             1,
	})
	wantUnchanged(t, before, after, "access_token.saved", "refresh_token.saved")
}

// TestRefreshTokenSettings exercises the per-client and lifetime settings
// of refresh tokens as an operator writes them in the Caddyfile:
// always_issue_refresh_token (no offline_access needed),
// refresh_token_reuse_grace 0s (the first reuse revokes the grant) and
// disable_refresh_token_rotation (one refresh token, used again and again).
func TestRefreshTokenSettings(t *testing.T) {
	always := clientSpec{ID: "always-app", Secret: demoClientSecret, RedirectURI: "http://localhost:5567/callback"}
	sticky := clientSpec{ID: "sticky-app", Secret: demoClientSecret, RedirectURI: "http://localhost:5568/callback"}
	cfg := newSiteConfig(t)
	cfg.ExtraClients = `
		lifetimes {
			refresh_token 1h
			refresh_token_absolute 2h
			refresh_token_reuse_grace 0s
		}
		client always-app {
			secret {env.DEMO_CLIENT_SECRET}
			redirect_uri http://localhost:5567/callback
			grant_types authorization_code refresh_token
			always_issue_refresh_token
		}
		client sticky-app {
			secret {env.DEMO_CLIENT_SECRET}
			redirect_uri http://localhost:5568/callback
			grant_types authorization_code refresh_token
			disable_refresh_token_rotation
		}`
	srv := startCaddy(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := discover(ctx, t, srv.cfg.Issuer())
	b := newBrowser(t)
	login := func(spec clientSpec, extraScopes ...string) (*relyingParty, *oauth2.Token) {
		t.Helper()
		rp := newRelyingParty(ctx, t, srv.cfg.Issuer(), spec)
		rp.conf.Scopes = append(rp.conf.Scopes, extraScopes...)
		req := rp.newAuthRequest()
		res := b.authorize(ctx, req.URL, spec.RedirectURI, demoUser)
		if res.Code == "" {
			t.Fatalf("login with %s: %+v", spec.ID, res)
		}
		tok, err := rp.conf.Exchange(ctx, res.Code, oauth2.VerifierOption(req.Verifier))
		if err != nil {
			t.Fatalf("code exchange for %s: %v", spec.ID, err)
		}
		if tok.RefreshToken == "" {
			t.Fatalf("%s got no refresh token (scope %v)", spec.ID, tok.Extra("scope"))
		}
		return rp, tok
	}
	refresh := func(rp *relyingParty, rt string) (*oauth2.Token, error) {
		return rp.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Minute)}).Token()
	}

	// always_issue_refresh_token: a refresh token without offline_access,
	// whose idle lifetime is the configured hour.
	rp, tok1 := login(always)
	if got := introspect(t, m, demoApp, tok1.RefreshToken); got["active"] != true {
		t.Errorf("refresh token: %v", got)
	} else if exp, _ := got["exp"].(float64); time.Until(time.Unix(int64(exp), 0)) > time.Hour+time.Minute {
		t.Errorf("refresh token expires at %v, beyond lifetimes refresh_token 1h", time.Unix(int64(exp), 0))
	}
	tok2, err := refresh(rp, tok1.RefreshToken)
	if err != nil || tok2.RefreshToken == tok1.RefreshToken {
		t.Fatalf("refresh: %v (rotated: %v)", err, tok2 != nil && tok2.RefreshToken != tok1.RefreshToken)
	}
	// No grace: the very next reuse revokes the grant.
	before := srv.metrics()
	if _, err := refresh(rp, tok1.RefreshToken); oauthErrorCode(err) != "invalid_grant" {
		t.Fatalf("immediate reuse: err = %v, want invalid_grant", err)
	}
	wantActive(t, "access token after an immediate reuse without grace", introspect(t, m, demoApp, tok2.AccessToken), false, "")
	if got := srv.metrics()["grant.revoked"] - before["grant.revoked"]; got != 1 {
		t.Errorf("grant.revoked increased by %v on an immediate reuse with refresh_token_reuse_grace 0s, want 1", got)
	}

	// disable_refresh_token_rotation: the same refresh token keeps working.
	rp, tok := login(sticky, "offline_access")
	before = srv.metrics()
	for i := range 2 {
		next, err := refresh(rp, tok.RefreshToken)
		if err != nil {
			t.Fatalf("refresh %d without rotation: %v", i+1, err)
		}
		if next.RefreshToken != tok.RefreshToken {
			t.Errorf("refresh %d: the refresh token changed although rotation is disabled", i+1)
		}
		wantActive(t, "access token from a non-rotating refresh", introspect(t, m, demoApp, next.AccessToken), true, sticky.ID)
	}
	after := srv.metrics()
	wantUnchanged(t, before, after, "refresh_token.consumed", "refresh_token.saved", "grant.revoked")
	wantIncreased(t, before, after, map[string]float64{"grant.success": 2})
}
