package provider_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcaddy/oidcaddy/internal/jose"
	"github.com/oidcaddy/oidcaddy/provider"
)

func withAssertions(c *provider.Config) { c.Assertions = &jose.Assertions{} }

// registerStatus registers a client with one extra metadata member.
func (h *harness) registerWith(member, value string) response {
	body := map[string]any{"redirect_uris": []string{"https://app.example/cb"}, member: value}
	if member == "jwks_uri" {
		body["token_endpoint_auth_method"] = "private_key_jwt"
	}
	b, _ := json.Marshal(body)
	return h.register(string(b), "")
}

// By default a registered client's back-channel logout and jwks_uri URLs
// may not name a private host: anyone able to register would otherwise
// make the provider call into its own network (SSRF).
func TestRegisteredClientURLsMustBePublicByDefault(t *testing.T) {
	t.Parallel()
	h := newHarness(t, openRegistration, withAssertions)
	for _, tc := range []struct{ member, uri string }{
		{"backchannel_logout_uri", "https://10.1.2.3/bcl"},
		{"backchannel_logout_uri", "https://127.0.0.1/bcl"},
		{"backchannel_logout_uri", "http://127.0.0.1:9000/bcl"},
		{"backchannel_logout_uri", "http://localhost/bcl"},
		{"backchannel_logout_uri", "https://api.localhost/bcl"},
		{"backchannel_logout_uri", "https://[fd00::1]/bcl"},
		{"backchannel_logout_uri", "https://169.254.169.254/latest"},
		{"backchannel_logout_uri", "http://app:8080/backchannel"},
		{"jwks_uri", "https://10.0.0.5/jwks"},
		{"jwks_uri", "https://[::1]/jwks"},
	} {
		if r := h.registerWith(tc.member, tc.uri); r.status != 400 || jsonBody(t, r)["error"] != "invalid_client_metadata" {
			t.Errorf("%s %s: %d %s, want 400 invalid_client_metadata", tc.member, tc.uri, r.status, r.body)
		}
	}
	// A name is checked when dialled, not here.
	if r := h.registerWith("backchannel_logout_uri", "https://app.example/bcl"); r.status != 201 {
		t.Errorf("public name: %d %s", r.status, r.body)
	}
}

// The operator's allow-list lets exactly the listed hosts and networks
// through at registration, and the back-channel logout of a registered
// client on a listed private address is delivered.
func TestAllowPrivateHosts(t *testing.T) {
	t.Parallel()
	rp := newLogoutReceiver(t)
	ks := twoAlgKeys(t)
	h := newHarness(t, openRegistration, withAssertions, withKeySet(ks), func(c *provider.Config) {
		c.Registration.AllowPrivateHosts = []string{"App", "10.0.0.0/8", "127.0.0.1"}
	})
	for _, tc := range []struct {
		member, uri string
		ok          bool
	}{
		{"backchannel_logout_uri", "http://app:8080/backchannel", true},
		{"backchannel_logout_uri", "https://APP./backchannel", true},
		{"backchannel_logout_uri", "https://10.9.8.7/bcl", true},
		{"backchannel_logout_uri", "http://10.9.8.7:8080/bcl", true},
		{"backchannel_logout_uri", rp.URL + "/bcl", true},
		{"jwks_uri", "https://app/jwks", true},
		{"jwks_uri", "https://10.0.0.5/jwks", true},
		{"backchannel_logout_uri", "https://192.168.1.1/bcl", false},
		{"backchannel_logout_uri", "https://127.0.0.2/bcl", false},
		{"backchannel_logout_uri", "https://[::1]/bcl", false},
		{"backchannel_logout_uri", "http://localhost/bcl", false},
		{"backchannel_logout_uri", "http://app2:8080/bcl", false},
		{"backchannel_logout_uri", "http://app.example/bcl", false},
		{"jwks_uri", "http://app/jwks", false}, // keys: https only, listed or not
	} {
		r := h.registerWith(tc.member, tc.uri)
		if tc.ok && r.status != 201 || !tc.ok && (r.status != 400 || jsonBody(t, r)["error"] != "invalid_client_metadata") {
			t.Errorf("%s %s: %d %s, want ok=%v", tc.member, tc.uri, r.status, r.body, tc.ok)
		}
	}

	// A registered client (ES256 ID tokens) on the listed loopback address
	// hears of the logout, with a logout token signed like its ID tokens.
	reg := h.register(`{"redirect_uris":["https://app.example/cb"],"backchannel_logout_uri":"`+rp.URL+`/bcl","id_token_signed_response_alg":"ES256"}`, "")
	if reg.status != 201 {
		t.Fatalf("register: %d %s", reg.status, reg.body)
	}
	info := jsonBody(t, reg)
	id, secret := info["client_id"].(string), info["client_secret"].(string)
	b := h.browser()
	verifier, challenge := pkce("p")
	q := b.login(h.authorizeURL(map[string]string{"client_id": id, "redirect_uri": "https://app.example/cb", "scope": "openid",
		"code_challenge": challenge, "code_challenge_method": "S256"}), alicePassword)
	tok := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {"https://app.example/cb"}, "code_verifier": {verifier}}, id, secret)
	if tok.status != 200 {
		t.Fatalf("token: %d %s", tok.status, tok.body)
	}
	h.events.reset()
	if r := b.get(h.issuer + "/session/end?" + url.Values{"id_token_hint": {jsonBody(t, tok)["id_token"].(string)}}.Encode()); r.status != 200 {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if h.events.count(provider.EventBackchannelSuccess) != 1 || h.events.count(provider.EventBackchannelError) != 0 {
		t.Fatalf("back-channel events: %v", h.events.names())
	}
	logoutTokens := rp.received()
	if len(logoutTokens) != 1 {
		t.Fatalf("logout tokens received: %d", len(logoutTokens))
	}
	if hdr := idTokenHeader(t, logoutTokens[0]); hdr["alg"] != "ES256" || hdr["kid"] != kidOf(t, ks, "ES256") {
		t.Errorf("logout token header %v, want the client's ID token alg ES256", hdr)
	}
	if _, err := ks.VerifyJWT(logoutTokens[0], "logout+jwt"); err != nil {
		t.Errorf("logout token: %v", err)
	}
}

// A bad allow-list entry fails provider.New.
func TestAllowPrivateHostsRejectsBadEntries(t *testing.T) {
	// In parallel: its cost is password hashing or key work, which can
	// overlap the tests that only wait.
	t.Parallel()
	for _, bad := range []string{"", "*.internal", "http://app", "app:8080", "10.0.0.0/33", "0.0.0.0/0", "::/0", "app_1", "-app"} {
		if err := provider.CheckAllowPrivateHosts([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := provider.CheckAllowPrivateHosts([]string{"app", "Internal.Example.", "10.0.0.0/8", "fd00::/8", "192.168.1.10", "::ffff:10.0.0.1"}); err != nil {
		t.Errorf("good entries refused: %v", err)
	}
	h := newHarness(t)
	cfg := provider.Config{Issuer: h.issuer, Store: h.store, Clients: testClients(t), Signer: h.keys, Accounts: testAccounts(t)}
	cfg.Registration.AllowPrivateHosts = []string{"*.internal"}
	if _, err := provider.New(cfg); err == nil || !strings.Contains(err.Error(), "allow_private_hosts") {
		t.Errorf("New with a bad entry: %v", err)
	}
}
