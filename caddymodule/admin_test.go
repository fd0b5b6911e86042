package caddymodule

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// adminHandler is the route's handler as Caddy's admin server would call it.
func adminHandler(t *testing.T) caddy.AdminHandler {
	t.Helper()
	mod, err := caddy.GetModule("admin.api.oidc_provider")
	if err != nil {
		t.Fatal(err)
	}
	router, ok := mod.New().(caddy.AdminRouter)
	if !ok {
		t.Fatal("admin.api.oidc_provider is not an AdminRouter")
	}
	for _, r := range router.Routes() {
		if r.Pattern == "/oidc_provider/initial_access_tokens" {
			return r.Handler
		}
	}
	t.Fatal("no /oidc_provider/initial_access_tokens route")
	return nil
}

// serveAdmin calls the handler and, like Caddy's admin server, turns a
// returned error into its JSON answer.
func serveAdmin(t *testing.T, h caddy.AdminHandler, method, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "/oidc_provider/initial_access_tokens", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	if err := h.ServeHTTP(rec, req); err != nil {
		var apiErr caddy.APIError
		if !errors.As(err, &apiErr) {
			t.Fatalf("handler returned %T %v, want a caddy.APIError", err, err)
		}
		if apiErr.HTTPStatus == 0 || apiErr.Message == "" {
			t.Fatalf("APIError without status or message: %+v", apiErr)
		}
		rec.Header().Set("Content-Type", "application/json")
		rec.WriteHeader(apiErr.HTTPStatus)
		_ = json.NewEncoder(rec).Encode(apiErr)
	}
	return rec
}

// iatHandler provisions a provider whose registration needs an initial
// access token.
func iatHandler(t *testing.T, issuer, dir string) *Handler {
	t.Helper()
	h := testHandler(t, dir)
	h.Issuer = issuer
	h.Registration = &RegistrationConfig{Policy: "initial_access_token"}
	if err := h.Provision(newTestContext(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Cleanup() })
	return h
}

func register(t *testing.T, h *Handler, token string) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/register", strings.NewReader(`{"redirect_uris":["https://new.example/cb"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	return serve(t, h, req).Code
}

func TestAdminMintInitialAccessToken(t *testing.T) {
	const issuer = "http://admin-mint.localhost:8080"
	h := iatHandler(t, issuer, t.TempDir())
	admin := adminHandler(t)

	mint := func(body string) (string, int64) {
		t.Helper()
		rec := serveAdmin(t, admin, http.MethodPost, "application/json", body)
		if rec.Code != http.StatusCreated {
			t.Fatalf("mint %s: %d %s", body, rec.Code, rec.Body)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", cc)
		}
		var got map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Errorf("response members = %v, want initial_access_token and expires_in", got)
		}
		tok, _ := got["initial_access_token"].(string)
		exp, _ := got["expires_in"].(float64)
		if len(tok) < 16 {
			t.Fatalf("token %q too short", tok)
		}
		return tok, int64(exp)
	}

	// Reusable until it expires.
	tok, exp := mint(`{"issuer":"` + issuer + `","ttl":"90m"}`)
	if exp != 5400 {
		t.Errorf("expires_in = %d, want 5400", exp)
	}
	for i := range 2 {
		if code := register(t, h, tok); code != http.StatusCreated {
			t.Fatalf("registration %d with a reusable token: %d", i+1, code)
		}
	}

	// Single use: the second registration is refused.
	tok, exp = mint(`{"issuer":"` + issuer + `","single_use":true}`)
	if exp != 3600 {
		t.Errorf("default ttl: expires_in = %d, want 3600", exp)
	}
	if code := register(t, h, tok); code != http.StatusCreated {
		t.Fatalf("first registration with a single-use token: %d", code)
	}
	if code := register(t, h, tok); code != http.StatusUnauthorized {
		t.Fatalf("second registration with a single-use token: %d, want 401", code)
	}
	if code := register(t, h, "not-a-minted-token-at-all"); code != http.StatusUnauthorized {
		t.Fatalf("registration with an unknown token: %d, want 401", code)
	}
}

func TestAdminMintInitialAccessTokenErrors(t *testing.T) {
	const issuer = "http://admin-errors.localhost:8080"
	iatHandler(t, issuer, t.TempDir())
	open := testHandler(t, t.TempDir())
	open.Issuer = "http://admin-open.localhost:8080"
	open.Registration = &RegistrationConfig{Policy: "open"}
	if err := open.Provision(newTestContext(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = open.Cleanup() })
	admin := adminHandler(t)

	for _, tt := range []struct {
		name, method, contentType, body string
		status                          int
		want                            string
	}{
		{"GET", http.MethodGet, "", "", http.StatusMethodNotAllowed, "use POST"},
		{"DELETE", http.MethodDelete, "application/json", `{"issuer":"` + issuer + `"}`, http.StatusMethodNotAllowed, "use POST"},
		{"no content type", http.MethodPost, "", `{"issuer":"` + issuer + `"}`, http.StatusBadRequest, "Content-Type must be application/json"},
		{"form", http.MethodPost, "application/x-www-form-urlencoded", "issuer=" + issuer, http.StatusBadRequest, "Content-Type"},
		{"not JSON", http.MethodPost, "application/json", `issuer`, http.StatusBadRequest, "JSON object"},
		{"two objects", http.MethodPost, "application/json", `{"issuer":"` + issuer + `"}{}`, http.StatusBadRequest, "one JSON object"},
		{"unknown member", http.MethodPost, "application/json", `{"issuer":"` + issuer + `","lifetime":"1h"}`, http.StatusBadRequest, "lifetime"},
		{"ttl as a number", http.MethodPost, "application/json", `{"issuer":"` + issuer + `","ttl":3600}`, http.StatusBadRequest, "ttl"},
		{"bad ttl", http.MethodPost, "application/json", `{"issuer":"` + issuer + `","ttl":"soon"}`, http.StatusBadRequest, `invalid duration "soon"`},
		{"zero ttl", http.MethodPost, "application/json", `{"issuer":"` + issuer + `","ttl":"0s"}`, http.StatusBadRequest, "at least 1s"},
		{"negative ttl", http.MethodPost, "application/json", `{"issuer":"` + issuer + `","ttl":"-1h"}`, http.StatusBadRequest, "at least 1s"},
		{"no issuer", http.MethodPost, "application/json", `{"ttl":"1h"}`, http.StatusBadRequest, "issuer is required"},
		{"unknown issuer", http.MethodPost, "application/json", `{"issuer":"https://nowhere.example"}`, http.StatusNotFound, issuer},
		{"issuer with a trailing slash", http.MethodPost, "application/json", `{"issuer":"` + issuer + `/"}`, http.StatusNotFound, "no OIDC provider"},
		{"open registration", http.MethodPost, "application/json", `{"issuer":"http://admin-open.localhost:8080"}`, http.StatusBadRequest, "policy of http://admin-open.localhost:8080 is open"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := serveAdmin(t, admin, tt.method, tt.contentType, tt.body)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			var body struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || !strings.Contains(body.Error, tt.want) {
				t.Fatalf("error body %s does not mention %q", rec.Body, tt.want)
			}
			if tt.status == http.StatusMethodNotAllowed && rec.Header().Get("Allow") != "POST" {
				t.Errorf("Allow = %q", rec.Header().Get("Allow"))
			}
		})
	}
}

// During a reload both configurations are provisioned for a while; the
// admin API must use the newest and keep working once the old one goes,
// and stop when the last one goes.
func TestAdminRegistryAcrossReload(t *testing.T) {
	const issuer = "http://admin-reload.localhost:8080"
	dir := t.TempDir()
	old := iatHandler(t, issuer, dir)
	replacement := iatHandler(t, issuer, dir)
	if n := providers.count(issuer); n != 2 {
		t.Fatalf("registrations = %d, want 2", n)
	}
	var got *liveProvider
	if found, _ := providers.with(issuer, func(lp *liveProvider) error { got = lp; return nil }); !found || got.prov != replacement.prov {
		t.Fatal("the newest provider must answer")
	}

	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	admin := adminHandler(t)
	body := `{"issuer":"` + issuer + `","ttl":"1h"}`
	rec := serveAdmin(t, admin, http.MethodPost, "application/json", body)
	if rec.Code != http.StatusCreated {
		t.Fatalf("after the old config's cleanup: %d %s", rec.Code, rec.Body)
	}
	var minted initialAccessTokenResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &minted); err != nil {
		t.Fatal(err)
	}
	if code := register(t, replacement, minted.InitialAccessToken); code != http.StatusCreated {
		t.Fatalf("registration with the minted token: %d", code)
	}

	if err := replacement.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if n := providers.count(issuer); n != 0 {
		t.Fatalf("registrations after both cleanups = %d", n)
	}
	if rec := serveAdmin(t, admin, http.MethodPost, "application/json", body); rec.Code != http.StatusNotFound {
		t.Fatalf("after both cleanups: %d %s", rec.Code, rec.Body)
	}
	// A handler whose Provision failed registered nothing and removes nothing.
	failed := testHandler(t, t.TempDir())
	failed.Issuer = issuer
	failed.Users[0].PasswordHash = "plain"
	if err := failed.Provision(newTestContext(t)); err == nil {
		t.Fatal("expected a provisioning error")
	}
	if err := failed.Cleanup(); err != nil || providers.count(issuer) != 0 {
		t.Fatalf("cleanup of a failed provision: %v, registrations %d", err, providers.count(issuer))
	}
}
