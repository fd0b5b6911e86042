package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// readAndPutBack reads a client's registration (RFC 7592 §2.1) and sends
// back what it read as the update (§2.2), as client libraries do: the
// update must be accepted unchanged.
func readAndPutBack(t *testing.T, c registeredClient) map[string]any {
	t.Helper()
	r := sendJSON(t, http.MethodGet, c.RegistrationClientURI, c.RegistrationAccessToken, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("read: %d %s", r.Status, r.Body)
	}
	meta := r.JSON(t)
	for _, k := range []string{"registration_client_uri", "client_id_issued_at", "client_secret_expires_at"} {
		delete(meta, k)
	}
	if r := sendJSON(t, http.MethodPut, c.RegistrationClientURI, c.RegistrationAccessToken, meta); r.Status != http.StatusOK {
		t.Fatalf("update with the metadata read: %d %s", r.Status, r.Body)
	}
	return meta
}

// TestRegisterDeviceAndMachineClients registers a device-only and a
// client_credentials-only client with an explicit `response_types: []`
// (RFC 7591 §2: the default ["code"] applies only when the member is
// omitted), reads and updates them, and uses their grants.
func TestRegisterDeviceAndMachineClients(t *testing.T) {
	cfg := newSiteConfig(t)
	cfg.ExtraClients = `
		registration {
			policy open
			allowed_scopes read
		}`
	srv := startCaddy(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := discover(ctx, t, srv.cfg.Issuer())

	tv := registered(t, register(t, m, "", map[string]any{
		"client_name":                "Living Room TV",
		"grant_types":                []string{"urn:ietf:params:oauth:grant-type:device_code"},
		"response_types":             []string{},
		"token_endpoint_auth_method": "none",
	}))
	if rt, ok := tv.Info["response_types"].([]any); !ok || len(rt) != 0 {
		t.Errorf("device client response_types = %#v, want []", tv.Info["response_types"])
	}
	if meta := readAndPutBack(t, tv); meta["client_name"] != "Living Room TV" {
		t.Errorf("device client read: %v", meta)
	}
	da := postForm(t, srv.cfg.Issuer()+"/device/auth", url.Values{"scope": {"openid"}}, clientCreds{ID: tv.ClientID})
	if da.Status != http.StatusOK {
		t.Fatalf("device authorization for the registered device client: %d %s", da.Status, da.Body)
	}
	dc, _ := da.JSON(t)["device_code"].(string)
	poll := postForm(t, m.TokenEndpoint, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {dc}}, clientCreds{ID: tv.ClientID})
	if poll.Status != http.StatusBadRequest || poll.errorCode() != "authorization_pending" {
		t.Errorf("first poll: %d %s, want 400 authorization_pending", poll.Status, poll.Body)
	}

	machine := registered(t, register(t, m, "", map[string]any{
		"grant_types":    []string{"client_credentials"},
		"response_types": []string{},
		"scope":          "read",
	}))
	readAndPutBack(t, machine)
	cc := clientcredentials.Config{ClientID: machine.ClientID, ClientSecret: machine.ClientSecret, TokenURL: m.TokenEndpoint,
		Scopes: []string{"read"}, AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client_credentials for the registered machine client: %v", err)
	}
	wantActive(t, "machine client's access token", introspect(t, m, clientCreds{ID: machine.ClientID, Secret: machine.ClientSecret}, tok.AccessToken), true, machine.ClientID)

	// An explicit empty grant_types is not "authorization_code".
	if r := register(t, m, "", map[string]any{"redirect_uris": []string{"http://localhost:5570/cb"}, "grant_types": []string{}}); r.Status != http.StatusBadRequest || r.errorCode() != "invalid_client_metadata" {
		t.Errorf("grant_types []: %d %s, want 400 invalid_client_metadata", r.Status, r.Body)
	}
}

// TestIDTokenAlgAndClaimsPerClient configures RS256 and ES256 keys: both
// are offered in discovery; a client configured (or registered) for ES256
// gets ES256 ID tokens that go-oidc verifies only when told to accept ES256,
// and with claims_in_id_token its ID tokens carry the user's email and name;
// the other clients keep RS256 and bare ID tokens.
func TestIDTokenAlgAndClaimsPerClient(t *testing.T) {
	const esRedirect, regRedirect = "http://localhost:5566/callback", "http://localhost:5567/callback"
	cfg := newSiteConfig(t)
	cfg.ExtraClients = `
		signing_key RS256
		signing_key ES256
		client es-app {
			name "ES256 App"
			secret {env.DEMO_CLIENT_SECRET}
			redirect_uri ` + esRedirect + `
			id_token_signed_response_alg ES256
			claims_in_id_token
		}
		registration {
			policy open
		}`
	srv := startCaddy(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := discover(ctx, t, srv.cfg.Issuer())
	var doc struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := (&oidcDiscovery{}).get(ctx, srv.cfg.Issuer(), &doc); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(doc.Algs, []string{"RS256", "ES256"}) {
		t.Errorf("id_token_signing_alg_values_supported = %v, want [RS256 ES256]", doc.Algs)
	}

	type profile struct {
		Email string `json:"email"`
		Name  string `json:"name"`
	}
	login := func(rp *relyingParty) (*oauth2.Token, string) {
		t.Helper()
		tok := rp.signIn(ctx, newBrowser(t), demoUser)
		raw, _ := tok.Extra("id_token").(string)
		return tok, raw
	}
	esVerifier := func(rp *relyingParty) *oidc.IDTokenVerifier {
		return rp.provider.Verifier(&oidc.Config{ClientID: rp.conf.ClientID, SupportedSigningAlgs: []string{oidc.ES256}})
	}
	checkES256 := func(what string, rp *relyingParty, raw string) {
		t.Helper()
		rs256Only := rp.provider.Verifier(&oidc.Config{ClientID: rp.conf.ClientID, SupportedSigningAlgs: []string{oidc.RS256}})
		if _, err := rs256Only.Verify(ctx, raw); err == nil {
			t.Errorf("%s: an RS256-only verifier accepted the ID token; it is not ES256", what)
		}
		// go-oidc's default verifier takes the algs from discovery.
		if _, err := rp.verifier.Verify(ctx, raw); err != nil {
			t.Errorf("%s: go-oidc's default verifier rejects the ES256 ID token: %v", what, err)
		}
		idt, err := esVerifier(rp).Verify(ctx, raw)
		if err != nil {
			t.Fatalf("%s: go-oidc with ES256 rejects the ID token: %v", what, err)
		}
		var p profile
		if err := idt.Claims(&p); err != nil || p.Email != "demo@example.com" || p.Name != "Demo User" {
			t.Errorf("%s: ID token claims %+v (%v), want the user's email and name", what, p, err)
		}
	}

	// The configured ES256 client.
	es := newRelyingParty(ctx, t, srv.cfg.Issuer(), clientSpec{ID: "es-app", Secret: demoClientSecret, RedirectURI: esRedirect})
	_, raw := login(es)
	checkES256("configured client", es, raw)

	// A client without the options: RS256, no profile claims in the ID token.
	demo := newRelyingParty(ctx, t, srv.cfg.Issuer(), clientSpec{ID: "demo-app", Secret: demoClientSecret, RedirectURI: "http://localhost:5556/callback"})
	_, raw = login(demo)
	idt, err := demo.verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("default client: go-oidc rejects its RS256 ID token: %v", err)
	}
	var p profile
	if err := idt.Claims(&p); err != nil || p.Email != "" || p.Name != "" {
		t.Errorf("default client's ID token carries profile claims: %+v", p)
	}

	// A registered client asking for ES256 and the claims, through
	// refresh too.
	c := registered(t, register(t, m, "", map[string]any{
		"redirect_uris":                []string{regRedirect},
		"grant_types":                  []string{"authorization_code", "refresh_token"},
		"id_token_signed_response_alg": "ES256",
		"claims_in_id_token":           true,
	}))
	reg := newRelyingParty(ctx, t, srv.cfg.Issuer(), clientSpec{ID: c.ClientID, Secret: c.ClientSecret, RedirectURI: regRedirect})
	reg.conf.Scopes = append(reg.conf.Scopes, "offline_access")
	tok, raw := login(reg)
	checkES256("registered client", reg, raw)
	refreshed, err := reg.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	raw, _ = refreshed.Extra("id_token").(string)
	checkES256("registered client, refresh", reg, raw)
	if r := register(t, m, "", map[string]any{"redirect_uris": []string{regRedirect}, "id_token_signed_response_alg": "PS256"}); r.Status != http.StatusBadRequest {
		t.Errorf("registration with an alg that has no key: %d %s", r.Status, r.Body)
	}
}

// oidcDiscovery fetches the discovery document into any struct.
type oidcDiscovery struct{}

func (oidcDiscovery) get(ctx context.Context, issuer string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, issuer+"/.well-known/openid-configuration", nil)
	if err != nil {
		return err
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("discovery: %s", resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// TestBackchannelLogoutToAllowedPrivateHost is the sidecar deployment: the
// application is on a private network (here, loopback, by the name
// localhost), the operator lists it in allow_private_hosts, and a client
// registered with an http back-channel logout URL on it hears of the
// user's logout. The address literal, not listed, is still refused.
func TestBackchannelLogoutToAllowedPrivateHost(t *testing.T) {
	var mu sync.Mutex
	var logoutTokens []string
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		v, _ := url.ParseQuery(string(body))
		mu.Lock()
		logoutTokens = append(logoutTokens, v.Get("logout_token"))
		mu.Unlock()
	}))
	defer app.Close()
	port := app.Listener.Addr().String()[strings.LastIndex(app.Listener.Addr().String(), ":")+1:]
	const redirect = "http://localhost:5568/callback"

	cfg := newSiteConfig(t)
	cfg.ExtraClients = `
		registration {
			policy open
			allow_private_hosts localhost
		}`
	srv := startCaddy(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := discover(ctx, t, srv.cfg.Issuer())
	before := srv.metrics()

	if r := register(t, m, "", map[string]any{"redirect_uris": []string{redirect}, "backchannel_logout_uri": "http://127.0.0.1:" + port + "/backchannel"}); r.Status != http.StatusBadRequest || r.errorCode() != "invalid_client_metadata" {
		t.Errorf("back-channel URL on an unlisted private address: %d %s, want 400 invalid_client_metadata", r.Status, r.Body)
	}
	c := registered(t, register(t, m, "", map[string]any{"redirect_uris": []string{redirect}, "backchannel_logout_uri": "http://localhost:" + port + "/backchannel"}))
	rp := newRelyingParty(ctx, t, srv.cfg.Issuer(), clientSpec{ID: c.ClientID, Secret: c.ClientSecret, RedirectURI: redirect})
	b := newBrowser(t)
	tok := rp.signIn(ctx, b, demoUser)
	rawIDToken, _ := tok.Extra("id_token").(string)
	resp, err := b.client.Get(m.EndSessionEndpoint + "?" + url.Values{"id_token_hint": {rawIDToken}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("logout: %s", resp.Status)
	}
	mu.Lock()
	got := slices.Clone(logoutTokens)
	mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("the application received %d logout tokens, want 1", len(got))
	}
	// The logout token is signed by the provider's key for this client.
	if _, err := rp.provider.Verifier(&oidc.Config{ClientID: c.ClientID, SkipExpiryCheck: true}).Verify(ctx, got[0]); err != nil {
		t.Errorf("logout token does not verify against the provider's JWKS: %v", err)
	}
	wantIncreased(t, before, srv.metrics(), map[string]float64{"backchannel.success": 1})
}
