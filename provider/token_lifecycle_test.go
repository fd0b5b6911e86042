package provider_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/oidcaddy/oidcaddy/provider"
)

// tokens runs a login for the client with the given scope and exchanges the
// code; it returns the token response.
func (h *harness) tokens(t *testing.T, clientID, scope string) map[string]any {
	t.Helper()
	b := h.browser()
	verifier, challenge := pkce("l")
	q := b.login(h.authorizeURL(map[string]string{"client_id": clientID, "scope": scope, "code_challenge": challenge, "code_challenge_method": "S256"}), alicePassword)
	r := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}, clientID, webSecret)
	if r.status != 200 {
		t.Fatalf("code exchange: %d %s", r.status, r.body)
	}
	return jsonBody(t, r)
}

func (h *harness) refresh(rt, clientID, secret string, extra url.Values) response {
	v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	for k, vv := range extra {
		v[k] = vv
	}
	return h.token(v, clientID, secret)
}

func (h *harness) introspect(token, hint string) map[string]any {
	h.t.Helper()
	v := url.Values{"token": {token}}
	if hint != "" {
		v.Set("token_type_hint", hint)
	}
	req, _ := http.NewRequest(http.MethodPost, h.issuer+"/token/introspection", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("api", apiSecret)
	r := h.browser().do(req)
	if r.status != 200 {
		h.t.Fatalf("introspection: %d %s", r.status, r.body)
	}
	return jsonBody(h.t, r)
}

func (h *harness) revoke(token, clientID, secret string) response {
	v := url.Values{"token": {token}}
	if secret == "" {
		v.Set("client_id", clientID)
	}
	req, _ := http.NewRequest(http.MethodPost, h.issuer+"/token/revocation", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(clientID, secret)
	}
	return h.browser().do(req)
}

func TestRefreshTokenRotationAndReuseDetection(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := h.tokens(t, "web", "openid email offline_access")
	rt1, _ := tok["refresh_token"].(string)
	if rt1 == "" || tok["scope"] != "openid email offline_access" {
		t.Fatalf("no refresh token for offline_access: %v", tok)
	}
	if h.events.count(provider.EventRefreshTokenSaved) != 1 {
		t.Errorf("refresh_token.saved = %d", h.events.count(provider.EventRefreshTokenSaved))
	}
	h.events.reset()
	r := h.refresh(rt1, "web", webSecret, nil)
	if r.status != 200 {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	tok2 := jsonBody(t, r)
	rt2, at2 := tok2["refresh_token"].(string), tok2["access_token"].(string)
	if rt2 == "" || rt2 == rt1 || tok2["id_token"] == nil {
		t.Fatalf("rotation: %v", tok2)
	}
	for name, want := range map[provider.EventName]int{provider.EventRefreshTokenConsumed: 1, provider.EventRefreshTokenSaved: 1,
		provider.EventAccessTokenSaved: 1, provider.EventGrantSuccess: 1, provider.EventGrantRevoked: 0, provider.EventAccessTokenIssued: 0} {
		if got := h.events.count(name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	if got := h.introspect(at2, ""); got["active"] != true || got["sub"] != "alice-sub" || got["client_id"] != "web" {
		t.Fatalf("new access token: %v", got)
	}
	// Within the reuse grace (a client racing itself) the old token gets the
	// same successor again, and the grant stands.
	if r := h.refresh(rt1, "web", webSecret, nil); r.status != 200 || jsonBody(t, r)["refresh_token"] != rt2 || h.events.count(provider.EventGrantRevoked) != 0 {
		t.Fatalf("reuse within the grace: %d %s %v", r.status, r.body, h.events.names())
	}
	if got := h.introspect(at2, ""); got["active"] != true {
		t.Fatalf("a racing duplicate revoked the grant: %v", got)
	}
	// Reuse after the grace: rejected, and the whole grant goes.
	h.clock.advance(3 * time.Second)
	h.events.reset()
	r = h.refresh(rt1, "web", webSecret, nil)
	if body := jsonBody(t, r); r.status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("reuse: %d %v", r.status, body)
	}
	if h.events.count(provider.EventGrantRevoked) != 1 || h.events.count(provider.EventAccessTokenDestroyed) < 2 || h.events.count(provider.EventRefreshTokenDestroyed) < 2 {
		t.Errorf("cascade events: %v", h.events.names())
	}
	if got := h.introspect(at2, ""); got["active"] != false || len(got) != 1 {
		t.Errorf("access token of a revoked grant: %v", got)
	}
	if r := h.refresh(rt2, "web", webSecret, nil); r.status != 400 {
		t.Errorf("newest refresh token of a revoked grant: %d", r.status)
	}
}

func TestRefreshScopeAndClientBinding(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rt := h.tokens(t, "web", "openid email offline_access")["refresh_token"].(string)
	if r := h.refresh(rt, "web", webSecret, url.Values{"scope": {"openid email profile"}}); jsonBody(t, r)["error"] != "invalid_scope" {
		t.Fatalf("widening: %d %s", r.status, r.body)
	}
	// Another client presenting it gets invalid_grant, and does not burn it.
	if r := h.refresh(rt, "web-jwt", webSecret, nil); jsonBody(t, r)["error"] != "invalid_grant" {
		t.Fatalf("foreign client: %d %s", r.status, r.body)
	}
	r := h.refresh(rt, "web", webSecret, url.Values{"scope": {"email"}})
	body := jsonBody(t, r)
	if r.status != 200 || body["scope"] != "email" || body["id_token"] != nil {
		t.Fatalf("narrowing to email (no openid, so no ID token): %d %v", r.status, body)
	}
	// The rotated token keeps the original scope.
	r = h.refresh(body["refresh_token"].(string), "web", webSecret, nil)
	if b := jsonBody(t, r); b["scope"] != "openid email offline_access" {
		t.Fatalf("scope after narrowing: %v", b)
	}
}

func TestRefreshLifetimes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rt := h.tokens(t, "web", "openid offline_access")["refresh_token"].(string)
	// Idle: unused for longer than the sliding lifetime.
	h.clock.advance(14*24*time.Hour + time.Second)
	if r := h.refresh(rt, "web", webSecret, nil); r.status != 400 {
		t.Fatalf("idle-expired refresh token: %d %s", r.status, r.body)
	}
	// Absolute: used often, but the chain ends 30 days after the login.
	rt = h.tokens(t, "web", "openid offline_access")["refresh_token"].(string)
	for day := 0; ; day += 10 {
		h.clock.advance(10 * 24 * time.Hour)
		r := h.refresh(rt, "web", webSecret, nil)
		if r.status != 200 {
			if day < 20 {
				t.Fatalf("refresh failed on day %d: %s", day+10, r.body)
			}
			break
		}
		if day > 30 {
			t.Fatalf("refresh chain outlived its absolute lifetime")
		}
		rt = jsonBody(t, r)["refresh_token"].(string)
	}
}

func TestRefreshTokensOnlyWhenWanted(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if tok := h.tokens(t, "web", "openid email"); tok["refresh_token"] != nil {
		t.Errorf("refresh token without offline_access: %v", tok)
	}
	if tok := h.tokens(t, "web-jwt", "openid"); tok["refresh_token"] == nil {
		t.Errorf("AlwaysIssueRefreshToken client got none: %v", tok)
	}
	// A client without the refresh_token grant: offline_access is dropped.
	b := h.browser()
	verifier, challenge := pkce("o")
	q := b.login(h.authorizeURL(map[string]string{"client_id": "post", "scope": "openid offline_access", "code_challenge": challenge, "code_challenge_method": "S256"}), alicePassword)
	r := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}, "client_id": {"post"}, "client_secret": {postSecret}}, "", "")
	if tok := jsonBody(t, r); tok["refresh_token"] != nil || tok["scope"] != "openid" {
		t.Errorf("client without refresh_token grant: %v", tok)
	}
}

func TestCodeReplayRevokesIssuedTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	b := h.browser()
	code, verifier := h.codeFor(b, nil)
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}
	at := jsonBody(t, h.token(v, "web", webSecret))["access_token"].(string)
	h.events.reset()
	if r := h.token(v, "web", webSecret); r.status != 400 {
		t.Fatalf("replay: %d", r.status)
	}
	if h.events.count(provider.EventGrantRevoked) != 1 || h.events.count(provider.EventAccessTokenDestroyed) != 1 {
		t.Errorf("events: %v", h.events.names())
	}
	if got := h.introspect(at, ""); got["active"] != false {
		t.Fatalf("token from a replayed code still active: %v", got)
	}
}

func TestClientCredentials(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cc := func(client string, v url.Values) response {
		v.Set("grant_type", "client_credentials")
		return h.token(v, client, apiSecret)
	}
	r := cc("api", url.Values{})
	tok := jsonBody(t, r)
	if r.status != 200 || tok["scope"] != "read write" || tok["refresh_token"] != nil || tok["id_token"] != nil {
		t.Fatalf("client_credentials: %d %v", r.status, tok)
	}
	if h.events.count(provider.EventClientCredentialsSaved) != 1 || h.events.count(provider.EventAccessTokenSaved) != 0 {
		t.Errorf("events: %v", h.events.names())
	}
	got := h.introspect(tok["access_token"].(string), "")
	if got["active"] != true || got["client_id"] != "api" || got["sub"] != "api" || got["scope"] != "read write" || got["token_type"] != "Bearer" {
		t.Fatalf("introspection: %v", got)
	}
	if r := cc("api", url.Values{"scope": {"write"}}); jsonBody(t, r)["scope"] != "write" {
		t.Errorf("narrowed scope: %s", r.body)
	}
	for _, tc := range []struct {
		client string
		v      url.Values
		code   string
	}{
		{"api", url.Values{"scope": {"admin"}}, "invalid_scope"},
		{"api", url.Values{"resource": {"https://unknown.example/"}}, "invalid_target"},
		{"api", url.Values{"resource": {apiResource}, "scope": {"write"}}, "invalid_scope"}, // the resource knows only read
	} {
		if r := cc(tc.client, tc.v); jsonBody(t, r)["error"] != tc.code {
			t.Errorf("%v: %d %s, want %s", tc.v, r.status, r.body, tc.code)
		}
	}
	// Revocation by its owner; then inactive.
	h.events.reset()
	if r := h.revoke(tok["access_token"].(string), "api", apiSecret); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if h.events.count(provider.EventClientCredentialsDestroyed) != 1 || h.events.count(provider.EventAccessTokenDestroyed) != 0 {
		t.Errorf("events: %v", h.events.names())
	}
	if got := h.introspect(tok["access_token"].(string), ""); got["active"] != false {
		t.Fatalf("revoked token: %v", got)
	}
}

// JWT access tokens are verified by an independent library against the
// published JWKS, and their revocation is honoured at introspection.
func TestJWTAccessTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	set, err := jwk.Parse([]byte(h.browser().get(h.issuer + "/jwks").body))
	if err != nil {
		t.Fatal(err)
	}
	verify := func(tok string) jwt.Token {
		t.Helper()
		parsed, err := jwt.Parse([]byte(tok), jwt.WithKeySet(set), jwt.WithIssuer(h.issuer), jwt.WithClock(jwt.ClockFunc(h.clock.now)), jwt.WithValidate(true))
		if err != nil {
			t.Fatalf("jwx rejected the access token: %v", err)
		}
		return parsed
	}
	// client_credentials for a resource: its audience and format.
	r := h.token(url.Values{"grant_type": {"client_credentials"}, "resource": {apiResource}}, "api", apiSecret)
	tok := jsonBody(t, r)["access_token"].(string)
	parsed := verify(tok)
	if aud, _ := parsed.Audience(); len(aud) != 1 || aud[0] != apiResource {
		t.Errorf("aud = %v", aud)
	}
	if h.events.count(provider.EventClientCredentialsIssued) != 1 || h.events.count(provider.EventClientCredentialsSaved) != 0 {
		t.Errorf("events: %v", h.events.names())
	}
	// A user token of a JWT client, via the code flow.
	user := h.tokens(t, "web-jwt", "openid email")
	ut := verify(user["access_token"].(string))
	var scope, clientID string
	ut.Get("scope", &scope)
	ut.Get("client_id", &clientID)
	if sub, _ := ut.Subject(); sub != "alice-sub" || scope != "openid email" || clientID != "web-jwt" {
		t.Errorf("claims sub=%q scope=%q client_id=%q", sub, scope, clientID)
	}
	if h.events.count(provider.EventAccessTokenIssued) != 1 {
		t.Errorf("access_token.issued = %d", h.events.count(provider.EventAccessTokenIssued))
	}
	// The access token cannot pass for an ID token: go-oidc, configured as
	// the client, refuses it (its audience is the userinfo endpoint).
	ctx := oidc.ClientContext(context.Background(), h.srv.Client())
	rp, err := oidc.NewProvider(ctx, h.issuer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rp.Verifier(&oidc.Config{ClientID: "web-jwt", Now: h.clock.now}).Verify(ctx, user["access_token"].(string)); err == nil {
		t.Errorf("a JWT access token verified as an ID token (RFC 9068 §5 confusion)")
	}
	if aud, _ := ut.Audience(); len(aud) != 1 || aud[0] != h.issuer+"/userinfo" {
		t.Errorf("user JWT aud = %v", aud)
	}
	// typ header is at+jwt (RFC 9068 §2.1).
	if hdr := strings.Split(user["access_token"].(string), ".")[0]; !strings.Contains(decodeSegment(t, hdr), `"typ":"at+jwt"`) {
		t.Errorf("header = %s", decodeSegment(t, hdr))
	}
	if got := h.introspect(user["access_token"].(string), ""); got["active"] != true || got["sub"] != "alice-sub" || got["jti"] == nil {
		t.Fatalf("introspection of a JWT: %v", got)
	}
	userinfo := func(tok string) response {
		req, _ := http.NewRequest(http.MethodGet, h.issuer+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		return h.browser().do(req)
	}
	if r := userinfo(user["access_token"].(string)); r.status != 200 || jsonBody(t, r)["email"] != "alice@example.com" {
		t.Fatalf("userinfo with a JWT access token: %d %s", r.status, r.body)
	}
	if r := userinfo(user["refresh_token"].(string)); r.status != 401 {
		t.Fatalf("userinfo with a refresh token: %d %s", r.status, r.body)
	}
	if r := userinfo(user["id_token"].(string)); r.status != 401 {
		t.Fatalf("userinfo with an ID token: %d %s", r.status, r.body)
	}
	// Revoked by jti; still valid by signature, inactive at introspection.
	if r := h.revoke(tok, "api", apiSecret); r.status != 200 {
		t.Fatalf("revoke JWT: %d %s", r.status, r.body)
	}
	if got := h.introspect(tok, ""); got["active"] != false {
		t.Fatalf("revoked JWT: %v", got)
	}
	// Revoking the user's refresh token revokes the grant: the JWT goes too.
	if r := h.revoke(user["refresh_token"].(string), "web-jwt", webSecret); r.status != 200 {
		t.Fatalf("revoke refresh: %d %s", r.status, r.body)
	}
	if got := h.introspect(user["access_token"].(string), ""); got["active"] != false {
		t.Fatalf("JWT of a revoked grant: %v", got)
	}
	if r := userinfo(user["access_token"].(string)); r.status != 401 {
		t.Fatalf("userinfo with a JWT of a revoked grant: %d %s", r.status, r.body)
	}
	// An ID token is not an access token.
	if got := h.introspect(user["id_token"].(string), ""); got["active"] != false {
		t.Errorf("ID token introspected as active: %v", got)
	}
}

func TestIntrospectionErrorsAndHints(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := h.tokens(t, "web", "openid offline_access")
	at, rt := tok["access_token"].(string), tok["refresh_token"].(string)
	if got := h.introspect(rt, "access_token"); got["active"] != true || got["token_type"] != "refresh_token" {
		t.Errorf("refresh token with a wrong hint: %v", got)
	}
	if got := h.introspect(at, "refresh_token"); got["active"] != true || got["token_type"] != "Bearer" || got["exp"] == nil || got["iat"] == nil || got["iss"] != h.issuer || got["aud"] != h.issuer+"/userinfo" {
		t.Errorf("access token with a wrong hint: %v", got)
	}
	for _, garbage := range []string{"garbage", "a.b.c", strings.Repeat("x", 9000), "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."} {
		if got := h.introspect(garbage, ""); got["active"] != false || len(got) != 1 {
			t.Errorf("%.20q: %v", garbage, got)
		}
	}
	h.clock.advance(time.Hour + time.Second)
	if got := h.introspect(at, ""); got["active"] != false {
		t.Errorf("expired token: %v", got)
	}
	post := func(v url.Values, id, secret string) response {
		req, _ := http.NewRequest(http.MethodPost, h.issuer+"/token/introspection", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if id != "" {
			req.SetBasicAuth(id, secret)
		}
		return h.browser().do(req)
	}
	for _, tc := range []struct {
		name   string
		r      response
		status int
		code   string
	}{
		{"no client authentication", post(url.Values{"token": {at}}, "", ""), 401, "invalid_client"},
		{"public client", post(url.Values{"token": {at}, "client_id": {"spa"}}, "", ""), 401, "invalid_client"},
		{"wrong secret", post(url.Values{"token": {at}}, "api", "nope"), 401, "invalid_client"},
		{"missing token", post(url.Values{}, "api", apiSecret), 400, "invalid_request"},
	} {
		if body := jsonBody(t, tc.r); tc.r.status != tc.status || body["error"] != tc.code {
			t.Errorf("%s: %d %v", tc.name, tc.r.status, body)
		}
	}
	if h.events.count(provider.EventIntrospectionError) != 4 {
		t.Errorf("introspection.error = %d", h.events.count(provider.EventIntrospectionError))
	}
}

func TestRevocation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tok := h.tokens(t, "web", "openid offline_access")
	at, rt := tok["access_token"].(string), tok["refresh_token"].(string)
	if r := h.revoke("unknown-token", "web", webSecret); r.status != 200 {
		t.Errorf("unknown token: %d", r.status)
	}
	h.events.reset()
	if r := h.revoke(at, "post", postSecret); r.status != 401 {
		// post authenticates by client_secret_post, Basic is refused first.
		t.Errorf("wrong auth method: %d %s", r.status, r.body)
	}
	if r := h.revoke(at, "api", apiSecret); jsonBody(t, r)["error"] != "invalid_grant" {
		t.Errorf("another client's token: %d %s", r.status, r.body)
	}
	if got := h.introspect(at, ""); got["active"] != true {
		t.Fatalf("a refused revocation revoked: %v", got)
	}
	if h.events.count(provider.EventRevocationError) != 2 {
		t.Errorf("revocation.error = %d (%v)", h.events.count(provider.EventRevocationError), h.events.names())
	}
	// Revoking the refresh token revokes its grant's access tokens too.
	if r := h.revoke(rt, "web", webSecret); r.status != 200 {
		t.Fatalf("revoke refresh: %d %s", r.status, r.body)
	}
	if got := h.introspect(at, ""); got["active"] != false {
		t.Fatalf("access token after its refresh token was revoked: %v", got)
	}
	// A public client revokes its own token with client_id only.
	b := h.browser()
	verifier, challenge := pkce("r")
	q := b.login(h.authorizeURL(map[string]string{"client_id": "spa", "redirect_uri": spaRedirect, "code_challenge": challenge, "code_challenge_method": "S256"}), alicePassword)
	r := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {spaRedirect}, "client_id": {"spa"}, "code_verifier": {verifier}}, "", "")
	spaAT := jsonBody(t, r)["access_token"].(string)
	if r := h.revoke(spaAT, "spa", ""); r.status != 200 {
		t.Fatalf("public client revocation: %d %s", r.status, r.body)
	}
	if got := h.introspect(spaAT, ""); got["active"] != false {
		t.Fatalf("public client's revoked token: %v", got)
	}
}
