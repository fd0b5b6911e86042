package provider_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

// tokenByPost calls the token endpoint with the client's secret in the body
// (client_secret_post, RFC 6749 §2.3.1).
func (h *harness) tokenByPost(v url.Values, clientID, secret string) response {
	c := url.Values{"client_id": {clientID}, "client_secret": {secret}}
	for k, vv := range v {
		c[k] = vv
	}
	return h.token(c, "", "")
}

// A registered client that omitted token_endpoint_auth_method gets the RFC
// 7591 §2 default (client_secret_basic) in its client information, but real
// relying parties differ in how they send the secret (openid-client posts
// it, zitadel's rp switches between header and body), so both secret methods
// are accepted. A client that named its method is held to it.
func TestRegisteredClientWithoutAuthMethodAcceptsBothSecretMethods(t *testing.T) {
	t.Parallel()
	h := newHarness(t, openRegistration)
	cc := url.Values{"grant_type": {"client_credentials"}}
	register := func(method string) (id, secret string) {
		t.Helper()
		body := `{"grant_types":["client_credentials"]`
		if method != "" {
			body += `,"token_endpoint_auth_method":"` + method + `"`
		}
		r := h.register(body+`}`, "")
		if r.status != http.StatusCreated {
			t.Fatalf("register (%q): %d %s", method, r.status, r.body)
		}
		info := jsonBody(t, r)
		want := method
		if want == "" {
			want = provider.AuthMethodClientSecretBasic // RFC 7591 §2 default, reported as registered
		}
		if info["token_endpoint_auth_method"] != want {
			t.Errorf("token_endpoint_auth_method = %v, want %s", info["token_endpoint_auth_method"], want)
		}
		return info["client_id"].(string), info["client_secret"].(string)
	}

	id, secret := register("")
	if r := h.token(cc, id, secret); r.status != http.StatusOK {
		t.Errorf("client_secret_basic, method omitted at registration: %d %s", r.status, r.body)
	}
	if r := h.tokenByPost(cc, id, secret); r.status != http.StatusOK {
		t.Errorf("client_secret_post, method omitted at registration: %d %s", r.status, r.body)
	}
	if r := h.tokenByPost(cc, id, "wrong-"+secret); r.status != http.StatusUnauthorized || jsonBody(t, r)["error"] != "invalid_client" {
		t.Errorf("wrong secret in the body: %d %s", r.status, r.body)
	}
	// RFC 6749 §2.3: one method per request, still.
	both := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	if r := h.token(both, id, secret); r.status != http.StatusBadRequest || jsonBody(t, r)["error"] != "invalid_request" {
		t.Errorf("secret in header and body: %d %s", r.status, r.body)
	}
	// No secret at all is not a secret method.
	if r := h.token(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}}, "", ""); r.status != http.StatusUnauthorized {
		t.Errorf("no secret: %d %s", r.status, r.body)
	}

	id, secret = register(provider.AuthMethodClientSecretBasic)
	if r := h.tokenByPost(cc, id, secret); r.status != http.StatusUnauthorized || jsonBody(t, r)["error"] != "invalid_client" {
		t.Errorf("client_secret_post for a client registered with client_secret_basic: %d %s", r.status, r.body)
	}
	if r := h.token(cc, id, secret); r.status != http.StatusOK {
		t.Errorf("client_secret_basic for a client registered with it: %d %s", r.status, r.body)
	}
	id, secret = register(provider.AuthMethodClientSecretPost)
	if r := h.token(cc, id, secret); r.status != http.StatusUnauthorized || jsonBody(t, r)["error"] != "invalid_client" {
		t.Errorf("client_secret_basic for a client registered with client_secret_post: %d %s", r.status, r.body)
	}
	if r := h.tokenByPost(cc, id, secret); r.status != http.StatusOK {
		t.Errorf("client_secret_post for a client registered with it: %d %s", r.status, r.body)
	}
}

// RFC 7592 §2.2: an update replaces the metadata, so naming the method in
// an update pins it, and omitting it again unpins it.
func TestRegistrationUpdateDecidesWhetherTheAuthMethodIsPinned(t *testing.T) {
	t.Parallel()
	h := newHarness(t, openRegistration)
	r := h.register(`{"grant_types":["client_credentials"]}`, "")
	info := jsonBody(t, r)
	id, secret, rat, uri := info["client_id"].(string), info["client_secret"].(string), info["registration_access_token"].(string), info["registration_client_uri"].(string)
	cc := url.Values{"grant_type": {"client_credentials"}}
	if r := h.tokenByPost(cc, id, secret); r.status != http.StatusOK {
		t.Fatalf("client_secret_post before the update: %d %s", r.status, r.body)
	}
	upd := `{"client_id":"` + id + `","grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic"}`
	if r := h.configure(http.MethodPut, uri, rat, upd); r.status != http.StatusOK {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	if r := h.tokenByPost(cc, id, secret); r.status != http.StatusUnauthorized {
		t.Errorf("client_secret_post after pinning client_secret_basic: %d %s", r.status, r.body)
	}
	upd = `{"client_id":"` + id + `","grant_types":["client_credentials"]}`
	if r := h.configure(http.MethodPut, uri, rat, upd); r.status != http.StatusOK {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	if r := h.tokenByPost(cc, id, secret); r.status != http.StatusOK {
		t.Errorf("client_secret_post after the method was omitted again: %d %s", r.status, r.body)
	}
}

// A configured client with a secret and no explicit method accepts both
// secret methods at every endpoint that authenticates clients; JWT methods
// and an explicit method stay strict.
func TestConfiguredClientWithoutExplicitAuthMethod(t *testing.T) {
	t.Parallel()
	flexible := &provider.Client{ID: "flexible", TokenEndpointAuthMethod: provider.AuthMethodClientSecretBasic, AuthMethodDefaulted: true,
		GrantTypes: []string{provider.GrantTypeClientCredentials}}
	flexible.SetSecret(apiSecret)
	h := newHarness(t, func(c *provider.Config) {
		clients := testClients(t)
		clients[flexible.ID] = flexible
		c.Clients = clients
	})
	cc := url.Values{"grant_type": {"client_credentials"}}
	if r := h.token(cc, "flexible", apiSecret); r.status != http.StatusOK {
		t.Errorf("basic: %d %s", r.status, r.body)
	}
	r := h.tokenByPost(cc, "flexible", apiSecret)
	if r.status != http.StatusOK {
		t.Fatalf("post: %d %s", r.status, r.body)
	}
	at := jsonBody(t, r)["access_token"].(string)
	// Introspection and revocation authenticate the same way.
	intro := url.Values{"token": {at}, "client_id": {"flexible"}, "client_secret": {apiSecret}}
	req, _ := http.NewRequest(http.MethodPost, h.issuer+"/token/introspection", strings.NewReader(intro.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r := h.browser().do(req); r.status != http.StatusOK || jsonBody(t, r)["active"] != true {
		t.Errorf("introspection with the secret in the body: %d %s", r.status, r.body)
	}
	// The explicit ones in the fixtures stay pinned.
	if r := h.tokenByPost(cc, "api", apiSecret); r.status != http.StatusUnauthorized {
		t.Errorf("client_secret_post for a client pinned to client_secret_basic: %d %s", r.status, r.body)
	}
	if r := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {webRedirect}}, "post", postSecret); r.status != http.StatusUnauthorized {
		t.Errorf("client_secret_basic for a client pinned to client_secret_post: %d %s", r.status, r.body)
	}
}
