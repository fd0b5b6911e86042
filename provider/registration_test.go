package provider_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

func openRegistration(c *provider.Config) { c.Registration.Policy = provider.RegistrationOpen }

func (h *harness) register(body string, bearer string) response {
	req, _ := http.NewRequest(http.MethodPost, h.issuer+"/register", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return h.browser().do(req)
}

func (h *harness) configure(method, uri, rat, body string) response {
	req, _ := http.NewRequest(method, uri, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+rat)
	return h.browser().do(req)
}

func TestRegistrationLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, openRegistration)
	if doc := jsonBody(t, h.browser().get(h.issuer+"/.well-known/openid-configuration")); doc["registration_endpoint"] != h.issuer+"/register" {
		t.Fatalf("registration_endpoint = %v", doc["registration_endpoint"])
	}
	r := h.register(`{"redirect_uris":["https://app.example/cb"],"client_name":"Dyn","grant_types":["authorization_code","refresh_token"],"contacts":["ops@app.example"],"unknown_member":{"x":1}}`, "")
	if r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	info := jsonBody(t, r)
	id, secret, rat, uri := info["client_id"].(string), info["client_secret"].(string), info["registration_access_token"].(string), info["registration_client_uri"].(string)
	if id == "" || len(secret) < 32 || rat == "" || uri != h.issuer+"/register/"+id || info["token_endpoint_auth_method"] != "client_secret_basic" || info["client_secret_expires_at"] != float64(0) || info["unknown_member"] != nil {
		t.Fatalf("client information: %v", info)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("client information is cacheable")
	}
	if h.events.count(provider.EventRegistrationCreateSuccess) != 1 || h.events.count(provider.EventRegistrationAccessTokenSaved) != 1 {
		t.Errorf("create events: %v", h.events.names())
	}
	// The registered client logs a user in.
	b := h.browser()
	verifier, challenge := pkce("d")
	q := b.login(h.authorizeURL(map[string]string{"client_id": id, "redirect_uri": "https://app.example/cb", "scope": "openid offline_access", "code_challenge": challenge, "code_challenge_method": "S256"}), alicePassword)
	r = h.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {"https://app.example/cb"}, "code_verifier": {verifier}}, id, secret)
	if r.status != 200 {
		t.Fatalf("token for the registered client: %d %s", r.status, r.body)
	}
	tok := jsonBody(t, r)

	// Read.
	if r := h.configure(http.MethodGet, uri, rat, ""); r.status != 200 || jsonBody(t, r)["client_secret"] != nil || jsonBody(t, r)["client_name"] != "Dyn" {
		t.Fatalf("read: %d %s", r.status, r.body)
	}
	h.events.reset()
	for _, bad := range []struct{ uri, rat string }{{uri, "wrong"}, {h.issuer + "/register/other", rat}, {uri, ""}} {
		if r := h.configure(http.MethodGet, bad.uri, bad.rat, ""); r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
			t.Errorf("read with %v: %d", bad, r.status)
		}
	}
	if h.events.count(provider.EventRegistrationReadError) != 3 {
		t.Errorf("registration_read.error = %d", h.events.count(provider.EventRegistrationReadError))
	}
	// Update: full replacement.
	upd := `{"client_id":"` + id + `","redirect_uris":["https://app.example/new"],"client_name":"Dyn2","grant_types":["authorization_code","refresh_token"]}`
	if r := h.configure(http.MethodPut, uri, rat, upd); r.status != 200 || jsonBody(t, r)["client_name"] != "Dyn2" {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	if h.events.count(provider.EventRegistrationUpdateSuccess) != 1 {
		t.Errorf("registration_update.success = %d", h.events.count(provider.EventRegistrationUpdateSuccess))
	}
	h.events.reset()
	if r := h.browser().get(h.authorizeURL(map[string]string{"client_id": id, "redirect_uri": "https://app.example/cb"})); r.status != 400 {
		t.Errorf("the replaced redirect URI still works: %d", r.status)
	}
	for name, body := range map[string]string{
		"mismatched client_id":  `{"client_id":"other","redirect_uris":["https://app.example/new"]}`,
		"server-assigned field": `{"client_id":"` + id + `","redirect_uris":["https://app.example/new"],"registration_access_token":"x"}`,
		"wrong client_secret":   `{"client_id":"` + id + `","client_secret":"nope","redirect_uris":["https://app.example/new"]}`,
		"invalid metadata":      `{"client_id":"` + id + `","redirect_uris":["javascript:alert(1)"]}`,
	} {
		if r := h.configure(http.MethodPut, uri, rat, body); r.status != 400 {
			t.Errorf("update with %s: %d %s", name, r.status, r.body)
		}
	}
	if h.events.count(provider.EventRegistrationUpdateError) != 4 {
		t.Errorf("registration_update.error = %d", h.events.count(provider.EventRegistrationUpdateError))
	}
	if r := h.configure(http.MethodDelete, uri, "wrong", ""); r.status != 401 || h.events.count(provider.EventRegistrationDeleteError) != 1 {
		t.Errorf("delete with a wrong token: %d %v", r.status, h.events.names())
	}
	// Delete: 204, then the client and everything it held are gone.
	h.events.reset()
	if r := h.configure(http.MethodDelete, uri, rat, ""); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	for _, ev := range []provider.EventName{provider.EventRegistrationDeleteSuccess, provider.EventRegistrationAccessTokenDestroyed, provider.EventGrantRevoked, provider.EventAccessTokenDestroyed, provider.EventRefreshTokenDestroyed} {
		if h.events.count(ev) == 0 {
			t.Errorf("%s not emitted on delete: %v", ev, h.events.names())
		}
	}
	if got := h.introspect(tok["access_token"].(string), ""); got["active"] != false {
		t.Errorf("a deleted client's token is active: %v", got)
	}
	if r := h.refresh(tok["refresh_token"].(string), id, secret, nil); r.status != 401 {
		t.Errorf("a deleted client authenticated: %d %s", r.status, r.body)
	}
	if r := h.configure(http.MethodGet, uri, rat, ""); r.status != 401 {
		t.Errorf("read after delete: %d", r.status)
	}
}

func TestRegistrationPersistsAcrossProviders(t *testing.T) {
	t.Parallel()
	h := newHarness(t, registrationAllowing("read"))
	info := jsonBody(t, h.register(`{"grant_types":["client_credentials"],"scope":"read"}`, ""))
	// A second provider on the same store (a config reload) knows the client.
	cfgCopy := func(c *provider.Config) {
		c.Store = h.store
		c.Registration = provider.RegistrationConfig{Policy: provider.RegistrationOpen, AllowedScopes: []string{"read"}}
	}
	h2 := newHarness(t, cfgCopy)
	r := h2.token(url.Values{"grant_type": {"client_credentials"}}, info["client_id"].(string), info["client_secret"].(string))
	if r.status != 200 || jsonBody(t, r)["scope"] != "read" {
		t.Fatalf("registered machine client on a new provider: %d %s", r.status, r.body)
	}
}

func TestInitialAccessTokens(t *testing.T) {
	t.Parallel()
	const configured = "configured-initial-token-123456"
	h := newHarness(t, func(c *provider.Config) {
		c.Registration = provider.RegistrationConfig{Policy: provider.RegistrationInitialAccessToken, InitialAccessTokens: []string{configured}}
	})
	body := `{"redirect_uris":["https://app.example/cb"]}`
	if r := h.register(body, ""); r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("no initial access token: %d %s", r.status, r.body)
	}
	if r := h.register(body, "wrong-token"); r.status != 401 {
		t.Fatalf("wrong initial access token: %d", r.status)
	}
	for range 2 {
		if r := h.register(body, configured); r.status != 201 {
			t.Fatalf("configured token: %d %s", r.status, r.body)
		}
	}
	single, err := h.p.MintInitialAccessToken(t.Context(), time.Hour, true)
	if err != nil {
		t.Fatal(err)
	}
	if h.events.count(provider.EventInitialAccessTokenSaved) != 1 {
		t.Errorf("initial_access_token.saved = %d", h.events.count(provider.EventInitialAccessTokenSaved))
	}
	if r := h.register(body, single); r.status != 201 {
		t.Fatalf("minted single-use token: %d %s", r.status, r.body)
	}
	if r := h.register(body, single); r.status != 401 {
		t.Fatalf("single-use token used twice: %d", r.status)
	}
	if h.events.count(provider.EventInitialAccessTokenDestroyed) != 1 {
		t.Errorf("initial_access_token.destroyed = %d", h.events.count(provider.EventInitialAccessTokenDestroyed))
	}
	multi, _ := h.p.MintInitialAccessToken(t.Context(), time.Hour, false)
	for range 2 {
		if r := h.register(body, multi); r.status != 201 {
			t.Fatalf("reusable minted token: %d", r.status)
		}
	}
	h.clock.advance(time.Hour + time.Second)
	if r := h.register(body, multi); r.status != 401 {
		t.Fatalf("expired initial access token: %d", r.status)
	}
}

func TestRegistrationClosedByDefault(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if h.p.Handles("/register") || h.p.Handles("/register/x") {
		t.Fatal("a closed provider claims the registration paths")
	}
	if doc := jsonBody(t, h.browser().get(h.issuer+"/.well-known/openid-configuration")); doc["registration_endpoint"] != nil {
		t.Fatalf("closed provider advertises registration")
	}
}

// Registration input is hostile by default.
func TestRegistrationRejectsHostileMetadata(t *testing.T) {
	// In parallel with the other waiting tests: the oversized-body case waits out net/http's 500 ms lingering close,
	// which costs wall time, not work.
	t.Parallel()
	h := newHarness(t, openRegistration)
	many := func(n int, item string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = `"` + strings.ReplaceAll(item, "N", itoa(i)) + `"`
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	cases := []struct {
		name, body, contentType string
		status                  int
		code                    string
	}{
		{"javascript redirect", `{"redirect_uris":["javascript:alert(1)"]}`, "", 400, "invalid_redirect_uri"},
		{"data redirect", `{"redirect_uris":["data:text/html,x"]}`, "", 400, "invalid_redirect_uri"},
		{"fragment", `{"redirect_uris":["https://app.example/cb#frag"]}`, "", 400, "invalid_redirect_uri"},
		{"http for a web client", `{"redirect_uris":["http://app.example/cb"]}`, "", 400, "invalid_redirect_uri"},
		{"relative redirect", `{"redirect_uris":["/cb"]}`, "", 400, "invalid_redirect_uri"},
		{"custom scheme for a web client", `{"redirect_uris":["com.example.app:/cb"]}`, "", 400, "invalid_redirect_uri"},
		{"native scheme without a dot", `{"application_type":"native","redirect_uris":["myapp:/cb"]}`, "", 400, "invalid_redirect_uri"},
		{"missing redirect_uris", `{"client_name":"x"}`, "", 400, "invalid_redirect_uri"},
		{"too many redirect_uris", `{"redirect_uris":` + many(21, "https://app.example/cbN") + `}`, "", 400, "invalid_client_metadata"},
		{"huge client_name", `{"redirect_uris":["https://a.example/cb"],"client_name":"` + strings.Repeat("x", 300) + `"}`, "", 400, "invalid_client_metadata"},
		{"huge redirect URI", `{"redirect_uris":["https://a.example/` + strings.Repeat("x", 3000) + `"]}`, "", 400, "invalid_redirect_uri"},
		{"too many contacts", `{"redirect_uris":["https://a.example/cb"],"contacts":` + many(11, "aN@b.example") + `}`, "", 400, "invalid_client_metadata"},
		{"contact not an address", `{"redirect_uris":["https://a.example/cb"],"contacts":["not an address"]}`, "", 400, "invalid_client_metadata"},
		{"redirect_uris not an array", `{"redirect_uris":"https://a.example/cb"}`, "", 400, "invalid_client_metadata"},
		{"client_name a number", `{"redirect_uris":["https://a.example/cb"],"client_name":5}`, "", 400, "invalid_client_metadata"},
		{"array of numbers", `{"redirect_uris":[1,2]}`, "", 400, "invalid_client_metadata"},
		{"invalid JSON", `{"redirect_uris":[`, "", 400, "invalid_client_metadata"},
		{"JSON array", `[1,2]`, "", 400, "invalid_client_metadata"},
		{"trailing data", `{"redirect_uris":["https://a.example/cb"]} {}`, "", 400, "invalid_client_metadata"},
		{"invalid UTF-8", "{\"redirect_uris\":[\"https://a.example/\xff\"]}", "", 400, "invalid_client_metadata"},
		{"implicit response type", `{"redirect_uris":["https://a.example/cb"],"response_types":["token"]}`, "", 400, "invalid_client_metadata"},
		{"unknown grant type", `{"redirect_uris":["https://a.example/cb"],"grant_types":["password"]}`, "", 400, "invalid_client_metadata"},
		{"code without the code grant", `{"redirect_uris":["https://a.example/cb"],"grant_types":["refresh_token"]}`, "", 400, "invalid_client_metadata"},
		{"public client_credentials", `{"grant_types":["client_credentials"],"token_endpoint_auth_method":"none"}`, "", 400, "invalid_client_metadata"},
		{"unknown auth method", `{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"tls_client_auth"}`, "", 400, "invalid_client_metadata"},
		{"private_key_jwt without keys", `{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}`, "", 400, "invalid_client_metadata"},
		{"jwks and jwks_uri", `{"redirect_uris":["https://a.example/cb"],"jwks":{"keys":[]},"jwks_uri":"https://a.example/jwks"}`, "", 400, "invalid_client_metadata"},
		{"http jwks_uri", `{"redirect_uris":["https://a.example/cb"],"jwks_uri":"http://a.example/jwks"}`, "", 400, "invalid_client_metadata"},
		{"javascript logo_uri", `{"redirect_uris":["https://a.example/cb"],"logo_uri":"javascript:x"}`, "", 400, "invalid_client_metadata"},
		{"pairwise subject", `{"redirect_uris":["https://a.example/cb"],"subject_type":"pairwise"}`, "", 400, "invalid_client_metadata"},
		{"bad application_type", `{"redirect_uris":["https://a.example/cb"],"application_type":"desktop"}`, "", 400, "invalid_client_metadata"},
		{"wrong content type", `{"redirect_uris":["https://a.example/cb"]}`, "text/plain", 400, "invalid_request"},
		{"form body", `redirect_uris=https://a.example/cb`, "application/x-www-form-urlencoded", 400, "invalid_request"},
		{"oversized body", `{"client_name":"` + strings.Repeat("x", 70<<10) + `"}`, "", 413, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.events.reset()
			req, _ := http.NewRequest(http.MethodPost, h.issuer+"/register", strings.NewReader(tc.body))
			ct := tc.contentType
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
			r := h.browser().do(req)
			body := jsonBody(t, r)
			if r.status != tc.status || body["error"] != tc.code {
				t.Fatalf("got %d %v, want %d %s", r.status, body, tc.status, tc.code)
			}
			if h.events.count(provider.EventRegistrationCreateError) != 1 {
				t.Errorf("events: %v", h.events.names())
			}
		})
	}
	// Accepted edge cases: loopback http, native private-use scheme.
	for _, ok := range []string{
		`{"redirect_uris":["http://127.0.0.1:8400/cb","http://[::1]/cb","http://localhost/cb"]}`,
		`{"application_type":"native","redirect_uris":["com.example.app:/oauth2redirect"],"token_endpoint_auth_method":"none"}`,
	} {
		if r := h.register(ok, ""); r.status != 201 {
			t.Errorf("%s: %d %s", ok, r.status, r.body)
		}
	}
}

func FuzzRegistrationMetadata(f *testing.F) {
	for _, s := range []string{`{"redirect_uris":["https://a.example/cb"]}`, `{"grant_types":["client_credentials"],"scope":"a b"}`,
		`{"redirect_uris":["javascript:x"]}`, `{"jwks":{"keys":[{"kty":"EC"}]},"token_endpoint_auth_method":"private_key_jwt","redirect_uris":["https://a.example/cb"]}`, `[`, `{"contacts":[1]}`} {
		f.Add(s)
	}
	h := newHarness(f, openRegistration)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/register", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.p.ServeHTTP(w, req)
		switch w.Code {
		case 201:
			var info map[string]any
			if json.Unmarshal(w.Body.Bytes(), &info) != nil || info["client_id"] == nil {
				t.Fatalf("201 without client information: %s", w.Body.String())
			}
		case 400, 413:
		default:
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body.String())
		}
	})
}

func TestRegistrationAccessTokenRotation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *provider.Config) {
		c.Registration = provider.RegistrationConfig{Policy: provider.RegistrationOpen, RotateRegistrationAccessToken: true}
	})
	info := jsonBody(t, h.register(`{"redirect_uris":["https://app.example/cb"]}`, ""))
	id, uri, rat := info["client_id"].(string), info["registration_client_uri"].(string), info["registration_access_token"].(string)
	r := h.configure(http.MethodPut, uri, rat, `{"client_id":"`+id+`","redirect_uris":["https://app.example/cb2"]}`)
	newRAT, _ := jsonBody(t, r)["registration_access_token"].(string)
	if r.status != 200 || newRAT == "" || newRAT == rat {
		t.Fatalf("rotation: %d %s", r.status, r.body)
	}
	if h.events.count(provider.EventRegistrationAccessTokenDestroyed) != 1 {
		t.Errorf("registration_access_token.destroyed = %d", h.events.count(provider.EventRegistrationAccessTokenDestroyed))
	}
	if r := h.configure(http.MethodGet, uri, rat, ""); r.status != 401 {
		t.Errorf("the rotated-away token still reads: %d", r.status)
	}
	if r := h.configure(http.MethodGet, uri, newRAT, ""); r.status != 200 {
		t.Errorf("the new token does not read: %d", r.status)
	}
}
