package e2e

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

const apiResource = "https://api.example.com/orders"

// verifyAccessTokenJWT checks an RFC 9068 access token the way a resource
// server would, with jwx and nothing of this repository: signature by a key
// of the provider's JWKS, typ at+jwt, issuer, audience and expiry.
func verifyAccessTokenJWT(t *testing.T, keys jwk.Set, raw, issuer, audience string) jwt.Token {
	t.Helper()
	msg, err := jws.Parse([]byte(raw))
	if err != nil {
		t.Fatalf("the access token is not a JWS: %v", err)
	}
	if typ, _ := msg.Signatures()[0].ProtectedHeaders().Type(); typ != "at+jwt" {
		t.Errorf("access token typ = %q, want at+jwt (RFC 9068 §2.1)", typ)
	}
	tok, err := jwt.Parse([]byte(raw), jwt.WithKeySet(keys), jwt.WithValidate(true),
		jwt.WithIssuer(issuer), jwt.WithAudience(audience), jwt.WithAcceptableSkew(5*time.Second))
	if err != nil {
		t.Fatalf("jwx rejects the access token: %v", err)
	}
	for _, claim := range []string{"jti", "client_id", "iat", "exp", "sub"} {
		if !tok.Has(claim) {
			t.Errorf("access token lacks %s (RFC 9068 §2.2)", claim)
		}
	}
	return tok
}

func claimString(t *testing.T, tok jwt.Token, name string) string {
	t.Helper()
	var v string
	if err := tok.Get(name, &v); err != nil {
		t.Errorf("claim %s: %v", name, err)
	}
	return v
}

// TestJWTAccessTokens issues RFC 9068 access tokens three ways (a client
// configured for JWTs, a JWT resource asked for with RFC 8707 resource=,
// and a user's login), verifies each with jwx against the provider's JWKS,
// and proves that revocation, which no signature can show, is honoured by
// introspection: revoking the token itself, and revoking the grant through
// its refresh token.
func TestJWTAccessTokens(t *testing.T) {
	jwtApp := clientSpec{ID: "jwt-app", Secret: demoClientSecret, RedirectURI: "http://localhost:5563/callback"}
	cfg := newSiteConfig(t)
	cfg.ExtraClients = `
		client jwt-machine {
			secret {env.DEMO_CLIENT_SECRET}
			grant_types client_credentials
			access_token_format jwt
			allowed_scopes read write
		}
		client api-caller {
			secret {env.DEMO_CLIENT_SECRET}
			grant_types client_credentials
			allowed_scopes read admin
		}
		client jwt-app {
			secret {env.DEMO_CLIENT_SECRET}
			redirect_uri http://localhost:5563/callback
			grant_types authorization_code refresh_token
			access_token_format jwt
		}
		resource ` + apiResource + ` {
			scopes read write
			access_token_format jwt
		}`
	srv := startCaddy(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := discover(ctx, t, srv.cfg.Issuer())
	issuer := srv.cfg.Issuer()
	keys, err := jwk.Fetch(ctx, m.JWKSURI)
	if err != nil {
		t.Fatalf("jwk.Fetch %s: %v", m.JWKSURI, err)
	}
	before := srv.metrics()

	// 1. A client whose tokens are JWTs, within its allowed scopes.
	machine := clientCreds{ID: "jwt-machine", Secret: demoClientSecret}
	cc := clientcredentials.Config{ClientID: machine.ID, ClientSecret: machine.Secret, TokenURL: m.TokenEndpoint, AuthStyle: oauth2.AuthStyleInHeader, Scopes: []string{"read"}}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client_credentials for jwt-machine: %v", err)
	}
	// No resource: the audience is the issuer, never the client id an ID
	// token would carry (RFC 9068 §5).
	at := verifyAccessTokenJWT(t, keys, tok.AccessToken, issuer, issuer)
	if sub := claimString(t, at, "sub"); sub != machine.ID {
		t.Errorf("sub = %q, want the client (no user is involved)", sub)
	}
	if s := claimString(t, at, "scope"); s != "read" {
		t.Errorf("scope = %q, want read", s)
	}
	// A tampered token fails the same verification: the check above is real.
	tampered := tok.AccessToken[:len(tok.AccessToken)-4] + strings.Repeat("A", 4)
	if tampered != tok.AccessToken {
		if _, err := jwt.Parse([]byte(tampered), jwt.WithKeySet(keys)); err == nil {
			t.Error("jwx accepted a tampered access token")
		}
	}
	// Beyond allowed_scopes: refused.
	wide := cc
	wide.Scopes = []string{"read", "admin"}
	if _, err := wide.Token(ctx); oauthErrorCode(err) != "invalid_scope" {
		t.Errorf("client_credentials beyond allowed_scopes: err = %v, want invalid_scope", err)
	}
	got := introspect(t, m, demoApp, tok.AccessToken)
	wantActive(t, "JWT access token", got, true, machine.ID)
	if got["jti"] != claimString(t, at, "jti") || got["scope"] != "read" {
		t.Errorf("introspection of the JWT: %v, want its jti and scope read", got)
	}
	revoke(t, m, machine, tok.AccessToken)
	wantActive(t, "revoked JWT access token", introspect(t, m, demoApp, tok.AccessToken), false, "")
	// The signature cannot know: a resource server must introspect.
	verifyAccessTokenJWT(t, keys, tok.AccessToken, issuer, issuer)

	// 2. An opaque-token client asking for a JWT resource (RFC 8707).
	caller := clientCreds{ID: "api-caller", Secret: demoClientSecret}
	rc := clientcredentials.Config{ClientID: caller.ID, ClientSecret: caller.Secret, TokenURL: m.TokenEndpoint, AuthStyle: oauth2.AuthStyleInHeader,
		EndpointParams: url.Values{"resource": {apiResource}}}
	rtok, err := rc.Token(ctx)
	if err != nil {
		t.Fatalf("client_credentials with resource=%s: %v", apiResource, err)
	}
	rat := verifyAccessTokenJWT(t, keys, rtok.AccessToken, issuer, apiResource)
	if s := claimString(t, rat, "scope"); s != "read" {
		t.Errorf("resource token scope = %q, want read (allowed_scopes within the resource's scopes)", s)
	}
	if c := claimString(t, rat, "client_id"); c != caller.ID {
		t.Errorf("resource token client_id = %q", c)
	}
	wantActive(t, "resource JWT", introspect(t, m, caller, rtok.AccessToken), true, caller.ID)
	// Without resource= the same client gets an opaque token.
	plain := rc
	plain.EndpointParams = nil
	if ptok, err := plain.Token(ctx); err != nil {
		t.Errorf("client_credentials without resource: %v", err)
	} else if strings.Count(ptok.AccessToken, ".") == 2 {
		t.Errorf("api-caller got a JWT without asking for the JWT resource")
	}

	// 3. A user's login with a JWT access token; revoking the grant (through
	// its refresh token, RFC 7009 §2.1) takes the JWT with it.
	rp := newRelyingParty(ctx, t, issuer, jwtApp)
	rp.conf.Scopes = append(rp.conf.Scopes, "offline_access")
	req := rp.newAuthRequest()
	res := newBrowser(t).authorize(ctx, req.URL, jwtApp.RedirectURI, demoUser)
	if res.Code == "" {
		t.Fatalf("login: %+v", res)
	}
	utok, err := rp.conf.Exchange(ctx, res.Code, oauth2.VerifierOption(req.Verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	if _, err := rp.verifier.Verify(ctx, utok.Extra("id_token").(string)); err != nil {
		t.Errorf("go-oidc rejects the ID token: %v", err)
	}
	uat := verifyAccessTokenJWT(t, keys, utok.AccessToken, issuer, issuer+"/userinfo")
	if sub := claimString(t, uat, "sub"); sub != "demo-subject" {
		t.Errorf("user JWT sub = %q, want demo-subject", sub)
	}
	if !uat.Has("auth_time") {
		t.Error("user JWT lacks auth_time")
	}
	got = introspect(t, m, demoApp, utok.AccessToken)
	wantActive(t, "user JWT", got, true, jwtApp.ID)
	if got["sub"] != "demo-subject" {
		t.Errorf("introspection sub = %v", got["sub"])
	}
	// A relying party with JWT access tokens calls userinfo like any other.
	if info, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(utok)); err != nil || info.Subject != "demo-subject" {
		t.Errorf("go-oidc UserInfo with a JWT access token: %v %+v", err, info)
	}
	if utok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}
	revoke(t, m, clientCreds{ID: jwtApp.ID, Secret: jwtApp.Secret}, utok.RefreshToken)
	wantActive(t, "user JWT after its grant was revoked", introspect(t, m, demoApp, utok.AccessToken), false, "")
	if _, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(utok)); err == nil {
		t.Error("userinfo accepted a JWT access token of a revoked grant")
	}

	after := srv.metrics()
	wantIncreased(t, before, after, map[string]float64{
		"client_credentials.issued":    2, // jwt-machine and the resource token
		"client_credentials.saved":     1, // the opaque one
		"client_credentials.destroyed": 1, // the revoked JWT
		"access_token.issued":          1,
		"refresh_token.saved":          1,
		"grant.revoked":                1,
		"grant.error":                  1, // invalid_scope
	})
	wantUnchanged(t, before, after, "access_token.saved")
}
