package provider_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

// idTokenClaims verifies an ID token with the harness's keys.
func (h *harness) idTokenClaims(t *testing.T, idt string) map[string]any {
	t.Helper()
	claims, err := h.keys.VerifyJWT(idt, "JWT")
	if err != nil {
		t.Fatalf("ID token does not verify: %v", err)
	}
	return claims
}

// A client with ClaimsInIDToken gets the granted scopes' claims (the ones
// userinfo returns) in its ID tokens too, from the code exchange and from
// refresh (OIDC Core §5.4 allows both places); without it, the ID token
// carries no scope claims, as before.
func TestClaimsInIDToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, openRegistration, func(c *provider.Config) {
		cs := testClients(t)
		wc := &provider.Client{ID: "web-claims", RedirectURIs: []string{webRedirect}, TokenEndpointAuthMethod: provider.AuthMethodClientSecretBasic,
			GrantTypes: []string{provider.GrantTypeAuthorizationCode, provider.GrantTypeRefreshToken}, ClaimsInIDToken: true}
		wc.SetSecret(webSecret)
		cs["web-claims"] = wc
		c.Clients = cs
	})
	want := map[string]any{"name": "Alice Liddell", "email": "alice@example.com", "email_verified": true}
	check := func(what string, claims map[string]any, withClaims bool) {
		t.Helper()
		for k, v := range want {
			if withClaims && claims[k] != v {
				t.Errorf("%s: %s = %v, want %v", what, k, claims[k], v)
			}
			if !withClaims && claims[k] != nil {
				t.Errorf("%s: %s = %v in the ID token of a client without claims_in_id_token", what, k, claims[k])
			}
		}
		if claims["phone_number"] != nil {
			t.Errorf("%s: phone_number released without the phone scope", what)
		}
		if claims["sub"] != "alice-sub" || claims["aud"] == nil {
			t.Errorf("%s: sub %v aud %v", what, claims["sub"], claims["aud"])
		}
	}

	tok := h.codeExchange(t, "web-claims", webSecret, webRedirect, "openid profile email offline_access")
	check("web-claims code exchange", h.idTokenClaims(t, tok["id_token"].(string)), true)
	// userinfo returns the same claims.
	ui := h.browser()
	if r := ui.do(bearerGet(h.issuer+"/userinfo", tok["access_token"].(string))); r.status != 200 || jsonBody(t, r)["email"] != "alice@example.com" {
		t.Errorf("userinfo: %d %s", r.status, r.body)
	}
	r := h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, "web-claims", webSecret)
	if r.status != 200 {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	check("web-claims refresh", h.idTokenClaims(t, jsonBody(t, r)["id_token"].(string)), true)

	// Only what was granted: openid alone releases nothing more.
	only := h.codeExchange(t, "web-claims", webSecret, webRedirect, "openid")
	check("web-claims openid only", h.idTokenClaims(t, only["id_token"].(string)), false)

	// The default is unchanged.
	web := h.codeExchange(t, "web", webSecret, webRedirect, "openid profile email")
	check("web default", h.idTokenClaims(t, web["id_token"].(string)), false)

	// A registered client asks for it with the claims_in_id_token member.
	reg := h.register(`{"redirect_uris":["https://app.example/cb"],"claims_in_id_token":true}`, "")
	if reg.status != 201 || jsonBody(t, reg)["claims_in_id_token"] != true {
		t.Fatalf("register with claims_in_id_token: %d %s", reg.status, reg.body)
	}
	info := jsonBody(t, reg)
	dyn := h.codeExchange(t, info["client_id"].(string), info["client_secret"].(string), "https://app.example/cb", "openid profile email")
	check("registered code exchange", h.idTokenClaims(t, dyn["id_token"].(string)), true)
	if r := h.register(`{"redirect_uris":["https://app.example/cb"],"claims_in_id_token":"yes"}`, ""); r.status != 400 {
		t.Errorf("claims_in_id_token as a string: %d %s", r.status, r.body)
	}
}

func bearerGet(u, token string) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}
