package e2e

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/oidcaddy/oidcaddy/internal/formflow"
	"github.com/oidcaddy/oidcaddy/provider"
)

// e2eTOTPSecret is the second factor of the tests' two-factor user. It
// reaches Caddy through the environment ({env.MFA_TOTP_SECRET}), the way
// the README recommends for secrets.
const e2eTOTPSecret = "KRUGS4ZANVQWGYLQEBZWKY3SMV2CA4TF"

// mfaUserBlock is a user with a second factor, for ExtraClients.
const mfaUserBlock = `
		user mfa-user {
			password_hash ` + demoPasswordHash + `
			subject mfa-subject
			totp_secret {env.MFA_TOTP_SECRET}
			groups staff
		}`

// totpCode is the code an authenticator app shows for e2eTOTPSecret now,
// offset by steps of 30 s (the provider accepts one step either way, and a
// code only once, so a test signing in twice within a step uses the next
// step's code the second time).
func totpCode(t *testing.T, steps int) string {
	t.Helper()
	key, err := provider.ParseTOTPKey(e2eTOTPSecret)
	if err != nil {
		t.Fatal(err)
	}
	return provider.TOTPCode(key, time.Now().Add(time.Duration(steps)*30*time.Second))
}

// A relying party built on go-oidc and x/oauth2 asks for acr_values=mfa.
// The real Caddy, with the secret from the environment, asks the two-factor
// user for the password and then the code; the ID token go-oidc verifies
// says acr mfa and amr pwd+otp+mfa; discovery lists the levels. A user
// without a second factor gets through with acr pwd (the RP decides), and
// a code that was used is refused.
func TestSecondFactorWithGoOIDC(t *testing.T) {
	cfg := newSiteConfig(t)
	cfg.ExtraClients = mfaUserBlock
	srv := startCaddyWith(t, cfg, cfg.caddyfile(t), "MFA_TOTP_SECRET="+e2eTOTPSecret)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	app := clientSpec{ID: "demo-app", Secret: demoClientSecret, RedirectURI: "http://localhost:5556/callback"}
	rp := newRelyingParty(ctx, t, srv.cfg.Issuer(), app)

	var disco struct {
		ACRValues []string `json:"acr_values_supported"`
	}
	if err := rp.provider.Claims(&disco); err != nil || !slices.Equal(disco.ACRValues, []string{"pwd", "mfa"}) {
		t.Errorf("acr_values_supported %v (%v), want [pwd mfa]", disco.ACRValues, err)
	}

	levelOf := func(b *browser, u user, wantPages ...string) (acr string, amr []string) {
		t.Helper()
		req := rp.newAuthRequest(oauth2.SetAuthURLParam("acr_values", "mfa"))
		res := b.authorize(ctx, req.URL, app.RedirectURI, u)
		if res.Code == "" || !slices.Equal(res.Pages, wantPages) {
			t.Fatalf("%s: %+v, want pages %v", u.Login, res, wantPages)
		}
		tok, err := rp.conf.Exchange(ctx, res.Code, oauth2.VerifierOption(req.Verifier))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := rp.verifier.Verify(ctx, raw)
		if err != nil {
			t.Fatalf("go-oidc refused the ID token: %v", err)
		}
		var claims struct {
			ACR string   `json:"acr"`
			AMR []string `json:"amr"`
		}
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		return claims.ACR, claims.AMR
	}

	var given string // the code the two-factor user typed
	mfa := user{Login: "mfa-user", Password: "demo", Decision: "allow", OTP: func() string { given = totpCode(t, 0); return given }}
	b := newBrowser(t)
	if acr, amr := levelOf(b, mfa, "login", "otp", "consent"); acr != "mfa" || !slices.Equal(amr, []string{"pwd", "otp", "mfa"}) {
		t.Errorf("two-factor user: acr %q amr %v", acr, amr)
	}
	// The session is at mfa now: the next request asking for it shows no page.
	if acr, _ := levelOf(b, mfa); acr != "mfa" {
		t.Errorf("second request of the mfa session: acr %q", acr)
	}
	if acr, amr := levelOf(newBrowser(t), demoUser, "login", "consent"); acr != "pwd" || !slices.Equal(amr, []string{"pwd"}) {
		t.Errorf("user without a second factor: acr %q amr %v", acr, amr)
	}

	// The code just used, from another browser: refused, the page says so.
	other := formflow.New(nil)
	req := rp.newAuthRequest(oauth2.SetAuthURLParam("acr_values", "mfa"))
	used := given
	var refused bool
	_, err := other.Authorize(req.URL, srv.cfg.Issuer()+"/interaction/", 3, func(page formflow.Response, f formflow.Form) (url.Values, error) {
		if strings.Contains(page.Body, "already used") || strings.Contains(page.Body, "not correct") {
			refused = true
		}
		if strings.HasSuffix(f.Action, "/otp") {
			return url.Values{"otp": {used}}, nil
		}
		return url.Values{"login": {"mfa-user"}, "password": {"demo"}}, nil
	})
	if !refused || err == nil {
		t.Errorf("a used code was accepted again (refused %v, %v)", refused, err)
	}
}

// An oidc_protect rule with acr mfa in the real Caddy: a two-factor user
// signed in with a password is sent back to the provider with
// acr_values=mfa, gives only the code, and reaches the upstream; a user
// without a second factor gets the 403 page that says why, without a
// sign-in loop; a token below the level gets RFC 9470's challenge with
// acr_values.
func TestProtectACRAsksForTheCode(t *testing.T) {
	s := startProtectedSiteWith(t, "MFA_TOTP_SECRET="+e2eTOTPSecret)
	withACR := strings.Replace(s.caddyfile, "\t\tallow /api/* scope read\n",
		"\t\tallow /api/strong/* scope read acr mfa\n\t\tallow /api/* scope read\n\t\tallow /secure/* group staff acr mfa\n", 1)
	withACR = strings.Replace(withACR, "\t\tuser outsider {", strings.TrimPrefix(mfaUserBlock, "\n")+"\n\t\tuser outsider {", 1)
	if !strings.Contains(withACR, "acr mfa") || !strings.Contains(withACR, "mfa-user") {
		t.Fatal("test bug: the Caddyfile was not changed")
	}
	s.reload(t, withACR)
	s.caddyfile = withACR
	issuer := s.srv.cfg.Issuer()

	b := formflow.New(nil)
	if e := decodeEcho(t, s.signIn(t, b, "/dashboard", "mfa-user")); e.User != "mfa-subject" {
		t.Fatalf("password sign-in: %+v", e)
	}
	r := navigate(t, b, s.app+"/secure/report")
	u, _ := url.Parse(r.Location())
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location(), issuer+"/authorize?") || u.Query().Get("acr_values") != "mfa" {
		t.Fatalf("a password session on an mfa path: %d %q", r.Status, r.Location())
	}
	var pages []string
	r, err := b.Authorize(r.Location(), issuer+"/interaction/", 4, func(_ formflow.Response, f formflow.Form) (url.Values, error) {
		pages = append(pages, f.Action[strings.LastIndex(f.Action, "/")+1:])
		return url.Values{"otp": {totpCode(t, 0)}}, nil
	})
	if err != nil || !slices.Equal(pages, []string{"otp"}) || !strings.HasPrefix(r.Location(), s.app+"/.oidc/callback?") {
		t.Fatalf("step-up: pages %v, %v, %d %q", pages, err, r.Status, r.Location())
	}
	navigate(t, b, r.Location())
	if e := decodeEcho(t, navigate(t, b, s.app+"/secure/report")); e.User != "mfa-subject" || e.Path != "/secure/report" {
		t.Fatalf("after the code: %+v", e)
	}

	// demo is staff but has no second factor.
	d := formflow.New(nil)
	decodeEcho(t, s.signIn(t, d, "/dashboard", "demo"))
	r = navigate(t, d, s.app+"/secure/report")
	if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "two-step verification") {
		t.Fatalf("a user without a second factor: %d %s", r.Status, r.Body)
	}

	// A client's own token has no user sign-in at any level.
	req, _ := http.NewRequest(http.MethodGet, s.app+"/api/strong/x", nil)
	req.Header.Set("Authorization", "Bearer "+clientCredentialsToken(t, issuer, "read"))
	r, err = formflow.Do(http.DefaultClient, req)
	if err != nil {
		t.Fatal(err)
	}
	ch := r.Header.Get("WWW-Authenticate")
	if r.Status != http.StatusUnauthorized || !strings.Contains(ch, `error="insufficient_user_authentication"`) || !strings.Contains(ch, `acr_values="mfa"`) {
		t.Fatalf("token below the level: %d %q", r.Status, ch)
	}
}
