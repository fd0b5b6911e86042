package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// staticInitialAccessToken is the initial access token configured in the
// Caddyfile of the registration test; a test value.
const staticInitialAccessToken = "e2e-static-initial-access-token"

// mintInitialAccessToken asks Caddy's admin API for an initial access token
// with a lifetime of ttl.
func mintInitialAccessToken(t *testing.T, srv *caddyServer, ttl time.Duration, singleUse bool) string {
	t.Helper()
	r := sendJSON(t, http.MethodPost, srv.cfg.Admin()+"/oidc_provider/initial_access_tokens", "",
		map[string]any{"issuer": srv.cfg.Issuer(), "ttl": ttl.String(), "single_use": singleUse})
	if r.Status != http.StatusCreated {
		t.Fatalf("admin: minting an initial access token: %d %s, want 201", r.Status, r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("admin: initial access token response Cache-Control = %q, want no-store", r.Header.Get("Cache-Control"))
	}
	body := r.JSON(t)
	tok, _ := body["initial_access_token"].(string)
	if tok == "" {
		t.Fatalf("admin: no initial_access_token in %s", r.Body)
	}
	if body["expires_in"] != ttl.Seconds() {
		t.Errorf("admin: expires_in = %v, want %v", body["expires_in"], ttl.Seconds())
	}
	return tok
}

// TestDynamicClientRegistration registers a client over HTTP with an initial
// access token (RFC 7591), reads and updates it with its registration access
// token (RFC 7592), logs a user in with it through go-oidc and x/oauth2,
// deletes it, and sees its tokens die.
func TestDynamicClientRegistration(t *testing.T) {
	cfg := newSiteConfig(t)
	cfg.ExtraClients = `
		registration {
			policy initial_access_token
			initial_access_token ` + staticInitialAccessToken + `
		}`
	srv := startCaddy(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := discover(ctx, t, srv.cfg.Issuer())
	if m.RegistrationEndpoint != srv.cfg.Issuer()+"/register" {
		t.Fatalf("registration_endpoint = %q", m.RegistrationEndpoint)
	}
	before := srv.metrics()

	metadata := map[string]any{
		"client_name":                "Dynamic App",
		"redirect_uris":              []string{"http://localhost:5564/callback"},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"token_endpoint_auth_method": "client_secret_basic",
		"contacts":                   []string{"ops@app.example"},
	}
	// No initial access token, or a wrong one: 401 invalid_token.
	for _, iat := range []string{"", "not-an-initial-access-token"} {
		if r := register(t, m, iat, metadata); r.Status != http.StatusUnauthorized || r.errorCode() != "invalid_token" {
			t.Errorf("registration with initial access token %q: %d %s, want 401 invalid_token", iat, r.Status, r.Body)
		}
	}
	c := registered(t, register(t, m, staticInitialAccessToken, metadata))
	if c.ClientSecret == "" || c.Info["token_endpoint_auth_method"] != "client_secret_basic" || c.RegistrationClientURI != m.RegistrationEndpoint+"/"+c.ClientID {
		t.Fatalf("client information: %v", c.Info)
	}

	// Read (RFC 7592 §2.1): the metadata, never the secret.
	r := sendJSON(t, http.MethodGet, c.RegistrationClientURI, c.RegistrationAccessToken, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("read: %d %s", r.Status, r.Body)
	}
	if info := r.JSON(t); info["client_name"] != "Dynamic App" || info["client_id"] != c.ClientID || info["client_secret"] != nil {
		t.Errorf("read: %v", info)
	}
	if r := sendJSON(t, http.MethodGet, c.RegistrationClientURI, staticInitialAccessToken, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("read with the initial access token instead of the registration access token: %d", r.Status)
	}

	// Update (§2.2): the full metadata replaces the old.
	updated := map[string]any{
		"client_id":                  c.ClientID,
		"client_name":                "Dynamic App v2",
		"redirect_uris":              []string{"http://localhost:5565/callback"},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"token_endpoint_auth_method": "client_secret_basic",
	}
	r = sendJSON(t, http.MethodPut, c.RegistrationClientURI, c.RegistrationAccessToken, updated)
	if r.Status != http.StatusOK {
		t.Fatalf("update: %d %s", r.Status, r.Body)
	}
	if info := r.JSON(t); info["client_name"] != "Dynamic App v2" {
		t.Errorf("update: %v", info)
	}
	if info := sendJSON(t, http.MethodGet, c.RegistrationClientURI, c.RegistrationAccessToken, nil).JSON(t); info["client_name"] != "Dynamic App v2" {
		t.Errorf("read after update: %v", info)
	}

	// The registered client logs a user in, at its new redirect URI.
	spec := clientSpec{ID: c.ClientID, Secret: c.ClientSecret, RedirectURI: "http://localhost:5565/callback"}
	rp := newRelyingParty(ctx, t, srv.cfg.Issuer(), spec)
	rp.conf.Scopes = append(rp.conf.Scopes, "offline_access")
	old := *rp
	old.conf.RedirectURL = "http://localhost:5564/callback"
	if resp := doRequest(t, mustGet(t, old.newAuthRequest().URL)); resp.Status != http.StatusBadRequest {
		t.Errorf("authorization at the replaced redirect URI: %d, want 400", resp.Status)
	}
	req := rp.newAuthRequest()
	res := newBrowser(t).authorize(ctx, req.URL, spec.RedirectURI, demoUser)
	if res.Code == "" || !res.saw("consent") {
		t.Fatalf("login with the registered client: %+v", res)
	}
	tok, err := rp.conf.Exchange(ctx, res.Code, oauth2.VerifierOption(req.Verifier))
	if err != nil {
		t.Fatalf("code exchange for the registered client: %v", err)
	}
	idt, err := rp.verifier.Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatalf("go-oidc rejects the registered client's ID token: %v", err)
	}
	if idt.Nonce != req.Nonce || len(idt.Audience) != 1 || idt.Audience[0] != c.ClientID {
		t.Errorf("ID token nonce %q aud %v", idt.Nonce, idt.Audience)
	}
	if _, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
		t.Fatalf("userinfo for the registered client: %v", err)
	}
	wantActive(t, "registered client's access token", introspect(t, m, demoApp, tok.AccessToken), true, c.ClientID)

	// Delete (§2.3): 204, and everything the client held is dead.
	if r := sendJSON(t, http.MethodDelete, c.RegistrationClientURI, c.RegistrationAccessToken, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s, want 204", r.Status, r.Body)
	}
	wantActive(t, "deleted client's access token", introspect(t, m, demoApp, tok.AccessToken), false, "")
	wantActive(t, "deleted client's refresh token", introspect(t, m, demoApp, tok.RefreshToken), false, "")
	if st := userinfoStatus(t, m, tok.AccessToken); st != http.StatusUnauthorized {
		t.Errorf("userinfo with a deleted client's token: %d, want 401", st)
	}
	if _, err := rp.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token(); oauthErrorCode(err) != "invalid_client" {
		t.Errorf("refresh by a deleted client: err = %v, want invalid_client", err)
	}
	if r := sendJSON(t, http.MethodGet, c.RegistrationClientURI, c.RegistrationAccessToken, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("read after delete: %d, want 401", r.Status)
	}

	after := srv.metrics()
	checkEventDeltas(t, before, after, map[string]float64{
		"registration_create.success":         1,
		"registration_create.error":           2, // no token, a wrong one
		"registration_read.error":             2, // the initial access token as a registration access token; the deleted client
		"registration_update.success":         1,
		"registration_delete.success":         1,
		"registration_access_token.saved":     1,
		"registration_access_token.destroyed": 1,
	})
	wantIncreased(t, before, after, map[string]float64{"grant.revoked": 1, "access_token.destroyed": 1, "refresh_token.destroyed": 1})
}

func mustGet(t *testing.T, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestInitialAccessTokenFromAdminAPI mints a single-use initial access token
// on Caddy's admin API: it registers one client, which then gets tokens,
// and no second one.
func TestInitialAccessTokenFromAdminAPI(t *testing.T) {
	cfg := newSiteConfig(t)
	cfg.ExtraClients = `
		registration {
			policy initial_access_token
			allowed_scopes read
		}`
	srv := startCaddy(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := discover(ctx, t, srv.cfg.Issuer())
	before := srv.metrics()

	iat := mintInitialAccessToken(t, srv, 10*time.Minute, true)
	machineMeta := map[string]any{"client_name": "Registered Machine", "grant_types": []string{"client_credentials"}, "scope": "read", "token_endpoint_auth_method": "client_secret_post"}
	mc := registered(t, register(t, m, iat, machineMeta))
	if r := register(t, m, iat, machineMeta); r.Status != http.StatusUnauthorized {
		t.Errorf("a second registration with a single-use initial access token: %d %s, want 401", r.Status, r.Body)
	}
	cc := clientcredentials.Config{ClientID: mc.ClientID, ClientSecret: mc.ClientSecret, TokenURL: m.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams}
	mtok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client_credentials for the registered machine: %v", err)
	}
	if mtok.Extra("scope") != "read" {
		t.Errorf("registered machine's scope = %v, want read", mtok.Extra("scope"))
	}
	// A reusable token registers any number of clients until it expires.
	multi := mintInitialAccessToken(t, srv, time.Minute, false)
	for range 2 {
		registered(t, register(t, m, multi, machineMeta))
	}
	// Only a running provider's issuer can be named.
	if r := sendJSON(t, http.MethodPost, srv.cfg.Admin()+"/oidc_provider/initial_access_tokens", "", map[string]any{"issuer": "https://elsewhere.example", "ttl": "1m"}); r.Status != http.StatusNotFound {
		t.Errorf("minting for an unknown issuer: %d %s, want 404", r.Status, r.Body)
	}

	checkEventDeltas(t, before, srv.metrics(), map[string]float64{
		"initial_access_token.saved":     2,
		"initial_access_token.destroyed": 1, // the single-use one, spent
		"registration_create.success":    3,
		"registration_create.error":      1,
		"client_credentials.saved":       1,
	})
}
