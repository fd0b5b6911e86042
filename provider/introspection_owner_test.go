package provider_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// introspectAs asks the introspection endpoint about token, authenticated as
// clientID with HTTP Basic.
func (h *harness) introspectAs(clientID, secret, token string) map[string]any {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.issuer+"/token/introspection", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	r := h.browser().do(req)
	if r.status != http.StatusOK {
		h.t.Fatalf("introspection as %s: %d %s", clientID, r.status, r.body)
	}
	return jsonBody(h.t, r)
}

// A client may introspect its own tokens; another client's tokens only when
// the operator made it a resource server (RFC 7662 §4: the server decides
// which callers may learn about which tokens). For anyone else they are
// simply not active, so a client cannot learn whether a leaked token of
// another client is live, nor its subject and scopes.
func TestIntrospectionOfOtherClientsTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	user := h.tokens(t, "web", "openid offline_access")
	at, rt := user["access_token"].(string), user["refresh_token"].(string)
	machine := jsonBody(t, h.token(url.Values{"grant_type": {"client_credentials"}}, "machine", webSecret))["access_token"].(string)

	// Its own tokens: web sees its access and refresh tokens.
	for name, tok := range map[string]string{"access token": at, "refresh token": rt} {
		if got := h.introspectAs("web", webSecret, tok); got["active"] != true || got["client_id"] != "web" {
			t.Errorf("web introspecting its own %s: %v", name, got)
		}
	}
	// Others' tokens: machine (a plain confidential client) learns nothing.
	for name, tok := range map[string]string{"web's access token": at, "web's refresh token": rt} {
		if got := h.introspectAs("machine", webSecret, tok); got["active"] != false || len(got) != 1 {
			t.Errorf("machine introspecting %s: %v, want only active=false", name, got)
		}
	}
	if got := h.introspectAs("web", webSecret, machine); got["active"] != false || len(got) != 1 {
		t.Errorf("web introspecting machine's token: %v, want only active=false", got)
	}
	// The resource server (api, introspect_any_token) sees everyone's.
	for name, tok := range map[string]string{"web's access token": at, "web's refresh token": rt, "machine's token": machine} {
		if got := h.introspectAs("api", apiSecret, tok); got["active"] != true {
			t.Errorf("resource server introspecting %s: %v", name, got)
		}
	}
}
