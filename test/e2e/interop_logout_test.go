package e2e

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// zitadelLogin logs demo in through a fresh browser for the zitadel relying
// party and returns the browser and the ID token.
func zitadelLogin(ctx context.Context, t *testing.T, relying rp.RelyingParty) (*browser, string) {
	t.Helper()
	b := newBrowser(t)
	res := b.authorize(ctx, rp.AuthURL(randomString(t), relying), interopApp.RedirectURI, demoUser)
	if res.Error != "" || res.Code == "" {
		t.Fatalf("login: %+v", res)
	}
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, res.Code, relying)
	if err != nil {
		t.Fatalf("zitadel rp code exchange: %v", err)
	}
	if tokens.IDTokenClaims.SessionID == "" {
		t.Fatalf("the ID token has no sid")
	}
	return b, tokens.IDToken
}

// silentLogin is prompt=none in the browser: a code while the session lives,
// login_required once it has ended.
func silentLogin(ctx context.Context, t *testing.T, b *browser, relying rp.RelyingParty) loginResult {
	t.Helper()
	return b.authorize(ctx, rp.AuthURL(randomString(t), relying, rp.AuthURLOpt(rp.WithPromptURLParam("none"))), interopApp.RedirectURI, demoUser)
}

// TestServerSideEndSessionEndsTheSession: the relying party's back end ends
// the user's session without the browser (zitadel's rp.EndSession posts the
// ID token as id_token_hint; oauth2-proxy's --backend-logout-url GETs it).
// Before, the provider answered "You are signed out" and ended nothing:
// prompt=none still produced a code.
func TestServerSideEndSessionEndsTheSession(t *testing.T) {
	cfg := newSiteConfig(t)
	cfg.ExtraClients = interopAppClient
	srv := startCaddy(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := discover(ctx, t, srv.cfg.Issuer())
	relying, _ := newZitadelRP(ctx, t, m, srv.cfg.Issuer(), interopApp, oidc.ScopeOpenID)

	zitadelBrowser, idToken := zitadelLogin(ctx, t, relying)
	proxyBrowser, proxyIDToken := zitadelLogin(ctx, t, relying)
	for _, b := range []*browser{zitadelBrowser, proxyBrowser} {
		if res := silentLogin(ctx, t, b, relying); res.Code == "" {
			t.Fatalf("prompt=none before logout: %+v", res)
		}
	}
	before := srv.metrics()

	// zitadel: a POST from the back end, no cookie.
	if redirect, err := rp.EndSession(ctx, relying, idToken, "", "", "", nil); err != nil {
		t.Fatalf("rp.EndSession: %v", err)
	} else if redirect != nil {
		t.Errorf("rp.EndSession was redirected to %s without asking for it", redirect)
	}
	if res := silentLogin(ctx, t, zitadelBrowser, relying); res.Error != "login_required" || res.Code != "" {
		t.Errorf("prompt=none after rp.EndSession: %+v, want login_required", res)
	}
	if res := silentLogin(ctx, t, proxyBrowser, relying); res.Code == "" {
		t.Errorf("the other browser's session ended too: %+v", res)
	}

	// oauth2-proxy: a GET of the configured backend logout URL.
	resp, err := http.Get(m.EndSessionEndpoint + "?" + url.Values{"id_token_hint": {proxyIDToken}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("backend logout GET: %s", resp.Status)
	}
	if res := silentLogin(ctx, t, proxyBrowser, relying); res.Error != "login_required" || res.Code != "" {
		t.Errorf("prompt=none after the backend logout GET: %+v, want login_required", res)
	}

	checkEventDeltas(t, before, srv.metrics(), map[string]float64{
		"end_session.success": 2,
		"end_session.error":   0,
		"session.destroyed":   2,
	})
}
