package e2e

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"
)

// interopApp is a confidential client configured the way most operators
// write one: a secret and no auth_method.
var interopApp = clientSpec{ID: "interop-app", Secret: demoClientSecret, RedirectURI: "http://localhost:5570/callback"}

const interopAppClient = `
		client interop-app {
			name "Interop App"
			secret {env.DEMO_CLIENT_SECRET}
			redirect_uri http://localhost:5570/callback
			post_logout_redirect_uri http://localhost:5570/bye
			grant_types authorization_code refresh_token
		}`

// pinnedApp names its method, so it is held to it.
const pinnedAppClient = `
		client pinned-app {
			name "Pinned App"
			secret {env.DEMO_CLIENT_SECRET}
			redirect_uri http://localhost:5571/callback
			auth_method client_secret_basic
		}`

// TestBodyClientAuthWithoutConfiguredMethod is openid-client's default:
// the secret in the request body (client_secret_post). Discovery advertises
// it; a client configured without auth_method must accept it for a full
// code + PKCE login. A client whose auth_method is set is still held to it.
func TestBodyClientAuthWithoutConfiguredMethod(t *testing.T) {
	cfg := newSiteConfig(t)
	cfg.ExtraClients = interopAppClient + pinnedAppClient
	srv := startCaddy(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := discover(ctx, t, srv.cfg.Issuer())
	wantListed(t, m.TokenEndpointAuthMethodsSupported, "token_endpoint_auth_methods_supported", "client_secret_post")
	before := srv.metrics()

	relying := newRelyingParty(ctx, t, srv.cfg.Issuer(), interopApp)
	relying.conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	req := relying.newAuthRequest()
	res := newBrowser(t).authorize(ctx, req.URL, interopApp.RedirectURI, demoUser)
	if res.Error != "" || res.Code == "" {
		t.Fatalf("login: %+v", res)
	}
	tok, err := relying.conf.Exchange(ctx, res.Code, oauth2.VerifierOption(req.Verifier))
	if err != nil {
		t.Fatalf("code exchange with client_secret_post: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if idt, err := relying.verifier.Verify(ctx, raw); err != nil {
		t.Fatalf("go-oidc rejects the ID token: %v", err)
	} else if idt.Subject != "demo-subject" {
		t.Errorf("sub = %q", idt.Subject)
	}

	pinned := clientSpec{ID: "pinned-app", Secret: demoClientSecret, RedirectURI: "http://localhost:5571/callback"}
	pinnedRP := newRelyingParty(ctx, t, srv.cfg.Issuer(), pinned)
	pinnedRP.conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	req = pinnedRP.newAuthRequest()
	res = newBrowser(t).authorize(ctx, req.URL, pinned.RedirectURI, demoUser)
	if res.Code == "" {
		t.Fatalf("login for the pinned client: %+v", res)
	}
	if _, err := pinnedRP.conf.Exchange(ctx, res.Code, oauth2.VerifierOption(req.Verifier)); oauthErrorCode(err) != "invalid_client" {
		t.Errorf("client_secret_post for a client with auth_method client_secret_basic: err = %v, want invalid_client", err)
	}

	checkEventDeltas(t, before, srv.metrics(), map[string]float64{"grant.success": 1, "grant.error": 1})
}

// authStyleRecorder notes, per token request, whether the client
// authenticated by the Authorization header or in the body.
type authStyleRecorder struct {
	mu       sync.Mutex
	tokenURL string
	styles   []string
}

func (a *authStyleRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.String() == a.tokenURL {
		style := "body"
		if req.Header.Get("Authorization") != "" {
			style = "header"
		}
		a.mu.Lock()
		a.styles = append(a.styles, style)
		a.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (a *authStyleRecorder) seen() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.styles...)
}

// newZitadelRP is zitadel/oidc's relying party with its defaults (client
// authentication style auto-detected), over a transport that records how
// each token request authenticated.
func newZitadelRP(ctx context.Context, t *testing.T, m providerMetadata, issuer string, c clientSpec, scopes ...string) (rp.RelyingParty, *authStyleRecorder) {
	t.Helper()
	rec := &authStyleRecorder{tokenURL: m.TokenEndpoint}
	relying, err := rp.NewRelyingPartyOIDC(ctx, issuer, c.ID, c.Secret, c.RedirectURI, scopes,
		rp.WithHTTPClient(&http.Client{Transport: rec, Timeout: 30 * time.Second}))
	if err != nil {
		t.Fatalf("zitadel rp: %v", err)
	}
	return relying, rec
}

// TestZitadelRPRefreshesWithBodyAfterHeaderLogin: zitadel/oidc's rp
// exchanges the code through x/oauth2 (header first) and refreshes with the
// secret in the body. With one pinned method the refresh failed an hour after
// a login that looked fine.
func TestZitadelRPRefreshesWithBodyAfterHeaderLogin(t *testing.T) {
	cfg := newSiteConfig(t)
	cfg.ExtraClients = interopAppClient
	srv := startCaddy(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := discover(ctx, t, srv.cfg.Issuer())
	before := srv.metrics()

	relying, rec := newZitadelRP(ctx, t, m, srv.cfg.Issuer(), interopApp, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	state := randomString(t)
	res := newBrowser(t).authorize(ctx, rp.AuthURL(state, relying), interopApp.RedirectURI, demoUser)
	if res.Error != "" || res.Code == "" || res.State != state {
		t.Fatalf("login: %+v", res)
	}
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, res.Code, relying)
	if err != nil {
		t.Fatalf("zitadel rp code exchange: %v", err)
	}
	if tokens.RefreshToken == "" || tokens.IDTokenClaims.Subject != "demo-subject" {
		t.Fatalf("code exchange: refresh token %t, sub %q", tokens.RefreshToken != "", tokens.IDTokenClaims.Subject)
	}
	refreshed, err := rp.RefreshTokens[*oidc.IDTokenClaims](ctx, relying, tokens.RefreshToken, "", "")
	if err != nil {
		t.Fatalf("zitadel rp refresh (secret in the body after a header login): %v", err)
	}
	if refreshed.RefreshToken == "" || refreshed.RefreshToken == tokens.RefreshToken || refreshed.AccessToken == "" {
		t.Errorf("refresh did not rotate: %+v", refreshed.Token)
	}
	if got := rec.seen(); len(got) != 2 || got[0] != "header" || got[1] != "body" {
		t.Errorf("token requests authenticated by %v, want [header body] (the scenario this test is about)", got)
	}
	wantActive(t, "refreshed access token", introspect(t, m, demoApp, refreshed.AccessToken), true, interopApp.ID)

	checkEventDeltas(t, before, srv.metrics(), map[string]float64{"grant.success": 2, "grant.error": 0, "refresh_token.consumed": 1})
}
