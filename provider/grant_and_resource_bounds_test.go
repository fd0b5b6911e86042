package provider_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

// A user token whose grant is gone is dead, even when the cascade missed it
// (minted while DeleteByGrant ran). Simulated by removing only the grant.
func TestTokensDoNotOutliveTheirGrant(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *provider.Config) {
		cs := testClients(t)
		cs["web"].DisableRefreshTokenRotation = true
		c.Clients = cs
	})
	tok := h.tokens(t, "web", "openid offline_access")
	at, rt := tok["access_token"].(string), tok["refresh_token"].(string)
	info := h.introspect(at, "")
	if info["active"] != true {
		t.Fatalf("fresh token: %v", info)
	}
	var grantID string
	for _, e := range h.events.events {
		if e.Name == provider.EventGrantSuccess {
			grantID = e.GrantID
		}
	}
	if err := h.store.Delete(t.Context(), provider.KindGrant, grantID); err != nil {
		t.Fatal(err)
	}
	if got := h.introspect(at, ""); got["active"] != false {
		t.Errorf("access token of a vanished grant: %v", got)
	}
	req, _ := http.NewRequest(http.MethodGet, h.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	if r := h.browser().do(req); r.status != 401 {
		t.Errorf("userinfo with a token of a vanished grant: %d", r.status)
	}
	// Without rotation nothing else re-reads the grant: refresh must.
	if r := h.refresh(rt, "web", webSecret, nil); jsonBody(t, r)["error"] != "invalid_grant" {
		t.Errorf("non-rotating refresh of a vanished grant: %d %s", r.status, r.body)
	}
}

func TestResourceAuthorization(t *testing.T) {
	t.Parallel()
	const other = "https://other.example/"
	h := newHarness(t, func(c *provider.Config) {
		cs := testClients(t)
		cs["api"].Resources = []string{other}
		c.Clients = cs
		c.Resources = append(c.Resources, provider.Resource{Identifier: other, Scopes: []string{"read", "write"}})
	})
	cc := func(resource string) response {
		return h.token(url.Values{"grant_type": {"client_credentials"}, "resource": {resource}}, "api", apiSecret)
	}
	if r := cc(apiResource); jsonBody(t, r)["error"] != "invalid_target" {
		t.Errorf("resource outside the client's list: %d %s", r.status, r.body)
	}
	if r := cc(other); r.status != 200 {
		t.Errorf("listed resource: %d %s", r.status, r.body)
	}
	// A user token for a resource carries only the resource's scopes.
	b := h.browser()
	verifier, challenge := pkce("r")
	q := b.login(h.authorizeURL(map[string]string{"client_id": "web-jwt", "scope": "openid email", "code_challenge": challenge, "code_challenge_method": "S256"}), alicePassword)
	r := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}, "resource": {apiResource}}, "web-jwt", webSecret)
	tok := jsonBody(t, r)
	if r.status != 200 || tok["scope"] != "" && tok["scope"] != nil {
		t.Fatalf("user token for a resource that knows only read: %d %v", r.status, tok)
	}
	got := h.introspect(tok["access_token"].(string), "")
	if got["aud"] != apiResource || got["scope"] != nil {
		t.Errorf("introspection: %v", got)
	}
	// A token for the API is not a token for userinfo.
	req, _ := http.NewRequest(http.MethodGet, h.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
	if r := h.browser().do(req); r.status != 401 {
		t.Errorf("userinfo with a token for another resource: %d %s", r.status, r.body)
	}
	// Its refresh token stays bound to that resource.
	if r := h.refresh(tok["refresh_token"].(string), "web-jwt", webSecret, url.Values{"resource": {other}}); jsonBody(t, r)["error"] != "invalid_target" {
		t.Errorf("refresh switching resources: %d %s", r.status, r.body)
	}
}
