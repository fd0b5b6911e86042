package provider_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

// registrationAllowing opens registration and lets registered clients hold
// only the given scopes.
func registrationAllowing(scopes ...string) func(*provider.Config) {
	return func(c *provider.Config) {
		c.Registration.Policy = provider.RegistrationOpen
		c.Registration.AllowedScopes = scopes
	}
}

// A client that registers itself cannot pick its own client_credentials
// scopes: its scope metadata must stay within the operator's allow-list, on
// registration and on update (security review H1).
func TestRegisteredClientScopesBoundedByAllowList(t *testing.T) {
	t.Parallel()
	wideResource := func(c *provider.Config) {
		c.Resources = []provider.Resource{{Identifier: apiResource, Scopes: []string{"read", "write", "admin"}, AccessTokenFormat: provider.TokenFormatJWT}}
	}
	t.Run("no allow-list", func(t *testing.T) {
		h := newHarness(t, openRegistration, wideResource)
		r := h.register(`{"grant_types":["client_credentials"],"scope":"admin write"}`, "")
		if r.status != 400 || jsonBody(t, r)["error"] != "invalid_client_metadata" {
			t.Fatalf("self-assigned scopes without an allow-list: %d %s, want 400 invalid_client_metadata", r.status, r.body)
		}
		// Without scope metadata the client registers, and holds no scope.
		info := jsonBody(t, h.register(`{"grant_types":["client_credentials"]}`, ""))
		id, secret := info["client_id"].(string), info["client_secret"].(string)
		if r := h.token(url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}, id, secret); r.status != 400 || jsonBody(t, r)["error"] != "invalid_scope" {
			t.Fatalf("scope admin for a client registered without scope: %d %s", r.status, r.body)
		}
	})

	h := newHarness(t, registrationAllowing("read", "write"), wideResource)
	for _, scope := range []string{"admin", "read admin", "read  write delete"} {
		r := h.register(`{"grant_types":["client_credentials"],"scope":"`+scope+`"}`, "")
		if r.status != 400 || jsonBody(t, r)["error"] != "invalid_client_metadata" {
			t.Errorf("registration with scope %q: %d %s, want 400 invalid_client_metadata", scope, r.status, r.body)
		}
	}
	r := h.register(`{"grant_types":["client_credentials"],"scope":"read"}`, "")
	if r.status != 201 {
		t.Fatalf("registration within the allow-list: %d %s", r.status, r.body)
	}
	info := jsonBody(t, r)
	id, secret, rat, uri := info["client_id"].(string), info["client_secret"].(string), info["registration_access_token"].(string), info["registration_client_uri"].(string)
	if r := h.token(url.Values{"grant_type": {"client_credentials"}}, id, secret); r.status != 200 || jsonBody(t, r)["scope"] != "read" {
		t.Fatalf("client_credentials: %d %s", r.status, r.body)
	}
	// An update cannot widen the client's scopes beyond the allow-list.
	h.events.reset()
	upd := func(scope string) response {
		return h.configure(http.MethodPut, uri, rat, `{"client_id":"`+id+`","grant_types":["client_credentials"],"scope":"`+scope+`"}`)
	}
	if r := upd("read admin"); r.status != 400 || jsonBody(t, r)["error"] != "invalid_client_metadata" {
		t.Fatalf("update to scope read admin: %d %s, want 400 invalid_client_metadata", r.status, r.body)
	}
	if h.events.count(provider.EventRegistrationUpdateError) != 1 {
		t.Errorf("events: %v", h.events.names())
	}
	if r := h.token(url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}, id, secret); r.status != 400 {
		t.Fatalf("scope admin after a refused update: %d %s", r.status, r.body)
	}
	if r := upd("read write"); r.status != 200 {
		t.Fatalf("update within the allow-list: %d %s", r.status, r.body)
	}
	if r := h.token(url.Values{"grant_type": {"client_credentials"}}, id, secret); r.status != 200 || jsonBody(t, r)["scope"] != "read write" {
		t.Fatalf("client_credentials after the update: %d %s", r.status, r.body)
	}
}

// Narrowing the allow-list narrows the clients that registered under the
// wider one: what a registered client holds is its stored scope metadata
// intersected with the current list.
func TestRegisteredClientScopesNarrowedByOperator(t *testing.T) {
	t.Parallel()
	h := newHarness(t, registrationAllowing("read", "write"))
	info := jsonBody(t, h.register(`{"grant_types":["client_credentials"],"scope":"read write"}`, ""))
	id, secret := info["client_id"].(string), info["client_secret"].(string)
	if r := h.token(url.Values{"grant_type": {"client_credentials"}}, id, secret); r.status != 200 || jsonBody(t, r)["scope"] != "read write" {
		t.Fatalf("client_credentials: %d %s", r.status, r.body)
	}
	// The operator reloads with a narrower list.
	h2 := newHarness(t, registrationAllowing("read"), func(c *provider.Config) { c.Store = h.store })
	if r := h2.token(url.Values{"grant_type": {"client_credentials"}}, id, secret); r.status != 200 || jsonBody(t, r)["scope"] != "read" {
		t.Fatalf("client_credentials after narrowing: %d %s, want scope read", r.status, r.body)
	}
	if r := h2.token(url.Values{"grant_type": {"client_credentials"}, "scope": {"write"}}, id, secret); r.status != 400 || jsonBody(t, r)["error"] != "invalid_scope" {
		t.Fatalf("scope write after narrowing: %d %s, want invalid_scope", r.status, r.body)
	}
	// And to nothing.
	h3 := newHarness(t, openRegistration, func(c *provider.Config) { c.Store = h.store })
	if r := h3.token(url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}, id, secret); r.status != 400 {
		t.Fatalf("scope read with an empty allow-list: %d %s, want 400", r.status, r.body)
	}
}

// The OpenID scopes are always registrable: they grant nothing by themselves
// (each user consents), and relying parties routinely send them.
func TestRegisteredClientMayNameOpenIDScopes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, openRegistration)
	r := h.register(`{"redirect_uris":["https://app.example/cb"],"scope":"openid profile email offline_access"}`, "")
	if r.status != 201 {
		t.Fatalf("registration naming OpenID scopes: %d %s", r.status, r.body)
	}
	// They do not open the door to other scopes.
	if r := h.register(`{"grant_types":["client_credentials"],"scope":"openid admin"}`, ""); r.status != 400 {
		t.Fatalf("an API scope outside the allow-list: %d %s", r.status, r.body)
	}
}
