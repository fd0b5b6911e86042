package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/crypto/bcrypt"

	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/store/badgerstore"
)

func newTestContext(t *testing.T) caddy.Context {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	return ctx
}

func testHash(t *testing.T) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func testHandler(t *testing.T, dir string) *Handler {
	t.Helper()
	t.Setenv("OIDCADDY_TEST_SECRET", "not-a-real-secret")
	return &Handler{
		Issuer:     "http://localhost:8080",
		StorageRaw: badgerAt(dir),
		Clients: []ClientConfig{{
			ClientID:     "app",
			ClientSecret: "{env.OIDCADDY_TEST_SECRET}",
			RedirectURIs: []string{"http://localhost:5556/callback"},
		}},
		Users:       []UserConfig{{Login: "demo", PasswordHash: testHash(t)}},
		LogExporter: "none",
	}
}

func references(dir string) int {
	n, _ := stores.References(dir)
	return n
}

// The situation of a config reload: the new handler provisions while the old
// one still holds the database, then the old one is cleaned up.
func TestProvisionSharesStoreAcrossInstances(t *testing.T) {
	dir := t.TempDir()
	old := testHandler(t, dir)
	if err := old.Provision(newTestContext(t)); err != nil {
		t.Fatalf("provision first instance: %v", err)
	}
	if err := old.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	replacement := testHandler(t, dir)
	replacement.Clients = append(replacement.Clients, ClientConfig{
		ClientID: "spa", Public: true, RedirectURIs: []string{"http://localhost:5557/callback"},
	})
	if err := replacement.Provision(newTestContext(t)); err != nil {
		t.Fatalf("provision second instance on the same storage: %v", err)
	}
	if n := references(dir); n != 2 {
		t.Fatalf("store references = %d, want 2", n)
	}

	if err := old.Cleanup(); err != nil {
		t.Fatalf("cleanup first instance: %v", err)
	}
	if n := references(dir); n != 1 {
		t.Fatalf("store references after first cleanup = %d, want 1", n)
	}
	// The remaining instance's store must still be open and usable.
	st, err := acquireStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rec := provider.Record{Kind: provider.KindSession, ID: "probe", Payload: []byte("x"), ExpiresAt: time.Now().Add(time.Minute)}
	if err := st.Put(ctx, rec, true); err != nil {
		t.Fatalf("store unusable after the other instance's cleanup: %v", err)
	}
	if _, err := st.Get(ctx, provider.KindSession, "probe"); err != nil {
		t.Fatalf("store unusable after the other instance's cleanup: %v", err)
	}
	if err := releaseStore(dir, nil); err != nil {
		t.Fatal(err)
	}

	if err := replacement.Cleanup(); err != nil {
		t.Fatalf("cleanup second instance: %v", err)
	}
	if n := references(dir); n != 0 {
		t.Fatalf("store references after both cleanups = %d, want 0", n)
	}
	// Cleanup twice must not release someone else's reference.
	if err := replacement.Cleanup(); err != nil {
		t.Fatalf("second cleanup: %v", err)
	}

	// Both released: the database is closed, so it can be opened again.
	s, err := badgerstore.Open(badgerstore.Options{Dir: dir})
	if err != nil {
		t.Fatalf("reopen after both cleanups: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestProvisionGeneratesAndKeepsDefaultKey(t *testing.T) {
	dir := t.TempDir()
	core, logs := observer.New(zapcore.InfoLevel)
	ctx := newTestContext(t)
	h := testHandler(t, dir)
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Cleanup(); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "keys", "signing-RS256.pem")
	first, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatalf("default key not persisted: %v", err)
	}

	h2 := testHandler(t, dir)
	if err := h2.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h2.Cleanup() })
	second, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(first) != string(second) {
		t.Fatal("the default key was regenerated instead of reused")
	}

	// The generation log line names the file but never carries key material.
	dir3 := t.TempDir()
	h3 := testHandler(t, dir3)
	h3.logger = zap.New(core)
	if _, err := h3.loadSigner(caddy.NewReplacer(), dir3); err != nil {
		t.Fatal(err)
	}
	entries := logs.FilterMessage("generated a new signing key").All()
	if len(entries) != 1 {
		t.Fatalf("want one info line about the generated key, got %d", len(entries))
	}
	line, _ := json.Marshal(entries[0].ContextMap())
	if strings.Contains(string(line), "PRIVATE") {
		t.Fatalf("log line carries key material: %s", line)
	}
}

func TestProvisionFailureReleasesStore(t *testing.T) {
	dir := t.TempDir()
	h := testHandler(t, dir)
	// A key file that exists but holds no key fails after the store is open.
	bad := filepath.Join(t.TempDir(), "bad.pem")
	if err := os.WriteFile(bad, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.SigningKeys = []SigningKeyConfig{{Algorithm: "RS256", File: bad}}
	if err := h.Provision(newTestContext(t)); err == nil {
		t.Fatal("expected provisioning to fail on the bad key file")
	}
	if n := references(dir); n != 1 {
		t.Fatalf("references after failed provision = %d, want 1 (held until Cleanup)", n)
	}
	// Caddy calls Cleanup on a module whose Provision failed.
	if err := h.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if n := references(dir); n != 0 {
		t.Fatalf("references after cleanup = %d, want 0", n)
	}
}

func TestProvisionLockedByAnotherOpener(t *testing.T) {
	dir := t.TempDir()
	other, err := badgerstore.Open(badgerstore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	h := testHandler(t, dir)
	err = h.Provision(newTestContext(t))
	if err == nil {
		t.Fatal("expected a lock error")
	}
	for _, want := range []string{dir, "locked by another process", "caddy reload", "caddy validate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	// Nothing was acquired, so Cleanup must not release anything.
	if err := h.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if n := references(dir); n != 0 {
		t.Fatalf("references = %d, want 0", n)
	}
}

func TestProvisionRejectsInconsistentConfig(t *testing.T) {
	files := t.TempDir()
	key, _ := testClientKey(t)
	privateJWKSFile := filepath.Join(files, "private.jwks.json")
	writeFile(t, privateJWKSFile, privateJWKS(t, key))
	notJWKSFile := filepath.Join(files, "key.pem")
	writeFile(t, notJWKSFile, []byte("-----BEGIN PUBLIC KEY-----\n"))

	tests := []struct {
		name   string
		modify func(h *Handler)
		want   string
	}{
		{"client without redirect_uri", func(h *Handler) { h.Clients[0].RedirectURIs = nil }, "redirect URI"},
		{"missing issuer", func(h *Handler) { h.Issuer = "" }, "issuer is required"},
		{"issuer not a URL", func(h *Handler) { h.Issuer = "auth.example.com" }, "issuer must be an absolute"},
		{"public client with secret", func(h *Handler) { h.Clients[0].Public = true }, "public client must not have a secret"},
		{"public resource server", func(h *Handler) {
			h.Clients[0].Public, h.Clients[0].ClientSecret, h.Clients[0].IntrospectAnyToken = true, "", true
		}, "a public client cannot introspect tokens"},
		{"client neither public nor with secret", func(h *Handler) { h.Clients[0].ClientSecret = "" }, "set a client_secret, a jwks_file or jwks_uri, or mark the client public"},
		{"duplicate client", func(h *Handler) { h.Clients = append(h.Clients, h.Clients[0]) }, `client "app" defined twice`},
		{"unset secret variable", func(h *Handler) { h.Clients[0].ClientSecret = "{env.OIDCADDY_TEST_UNSET}" }, "{env.OIDCADDY_TEST_UNSET} is empty"},
		{"user without bcrypt or argon2id hash", func(h *Handler) { h.Users[0].PasswordHash = "plain" }, "not a bcrypt ($2a$, $2b$, $2y$) or argon2id ($argon2id$) hash"},
		{"two default keys of one algorithm", func(h *Handler) {
			h.SigningKeys = []SigningKeyConfig{{Algorithm: "ES256"}, {Algorithm: "ES256"}}
		}, "give it a file"},
		{"bad log exporter", func(h *Handler) { h.LogExporter = "jaeger" }, "log_exporter"},
		{"missing users file", func(h *Handler) { h.UsersFile = "/nonexistent/users.json" }, "users_file"},
		{"jwks_file with a private key", func(h *Handler) {
			h.Clients[0].ClientSecret, h.Clients[0].JWKSFile = "", privateJWKSFile
		}, `has private member "d"; register public keys only`},
		{"missing jwks_file", func(h *Handler) { h.Clients[0].JWKSFile = "/nonexistent/keys.json" }, "jwks_file"},
		{"jwks_file not a key set", func(h *Handler) { h.Clients[0].JWKSFile = notJWKSFile }, "not a JSON object"},
		{"private_key_jwt without keys", func(h *Handler) {
			h.Clients[0].TokenEndpointAuthMethod, h.Clients[0].ClientSecret = "private_key_jwt", ""
		}, "private_key_jwt needs jwks or jwks_uri"},
		{"jwks_uri over http", func(h *Handler) { h.Clients[0].JWKSURI = "http://rp.example/jwks" }, "jwks_uri must be an absolute https URL"},
		{"jwks_file and jwks_uri", func(h *Handler) {
			h.Clients[0].JWKSFile, h.Clients[0].JWKSURI = "/k.json", "https://rp.example/jwks"
		}, "mutually exclusive"},
		{"client_secret_jwt with a short secret", func(h *Handler) { h.Clients[0].TokenEndpointAuthMethod = "client_secret_jwt" }, "at least 32 bytes"},
		{"bad client token format", func(h *Handler) { h.Clients[0].AccessTokenFormat = "paseto" }, "access_token_format must be opaque or jwt"},
		{"bad backchannel logout URI", func(h *Handler) { h.Clients[0].BackchannelLogoutURI = "ftp://rp.example/x" }, "backchannel_logout_uri"},
		{"relative resource", func(h *Handler) { h.Resources = []ResourceConfig{{Identifier: "/api"}} }, "identifier must be an absolute URI"},
		{"resource without identifier", func(h *Handler) { h.Resources = []ResourceConfig{{Scopes: []string{"read"}}} }, "identifier is required"},
		{"duplicate resource", func(h *Handler) {
			h.Resources = []ResourceConfig{{Identifier: "https://api.example/"}, {Identifier: "https://api.example/"}}
		}, "defined twice"},
		{"bad resource token format", func(h *Handler) {
			h.Resources = []ResourceConfig{{Identifier: "https://api.example/", AccessTokenFormat: "JWT"}}
		}, "access_token_format must be opaque or jwt"},
		{"bad registration policy", func(h *Handler) { h.Registration = &RegistrationConfig{Policy: "anyone"} }, "registration: policy must be one of"},
		{"empty registration allowed scope", func(h *Handler) {
			h.Registration = &RegistrationConfig{Policy: "open", AllowedScopes: []string{"read", ""}}
		}, "registration: allowed_scopes"},
		{"registration allowed scope with a space", func(h *Handler) {
			h.Registration = &RegistrationConfig{Policy: "open", AllowedScopes: []string{"read write"}}
		}, "registration: allowed_scopes"},
		{"initial access tokens with open registration", func(h *Handler) {
			h.Registration = &RegistrationConfig{Policy: "open", InitialAccessTokens: []string{"0123456789abcdef"}}
		}, "only used with policy initial_access_token"},
		{"short initial access token", func(h *Handler) {
			h.Registration = &RegistrationConfig{Policy: "initial_access_token", InitialAccessTokens: []string{"short-token"}}
		}, "initial access token 1 is shorter than 16 characters"},
		{"unset initial access token variable", func(h *Handler) {
			h.Registration = &RegistrationConfig{Policy: "initial_access_token", InitialAccessTokens: []string{"{env.OIDCADDY_TEST_UNSET}"}}
		}, "{env.OIDCADDY_TEST_UNSET} is empty"},
		{"negative reuse grace", func(h *Handler) {
			h.Lifetimes = &LifetimesConfig{RefreshTokenReuseGrace: durationPtr(-time.Second)}
		}, "refresh_token_reuse_grace must not be negative"},
		{"negative refresh token lifetime", func(h *Handler) {
			h.Lifetimes = &LifetimesConfig{RefreshToken: caddy.Duration(-time.Hour)}
		}, "refresh_token must not be negative"},
		{"negative throttle count", func(h *Handler) { h.LoginThrottle = &LoginThrottleConfig{FreeAttempts: -1} }, "free_attempts"},
		{"throttle base above max", func(h *Handler) {
			h.LoginThrottle = &LoginThrottleConfig{BaseDelay: caddy.Duration(time.Minute), MaxDelay: caddy.Duration(time.Second)}
		}, "base_delay must not exceed max_delay"},
		{"tiny max body size", func(h *Handler) { h.MaxBodySize = 64 }, "max_body_size must be at least 1024 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			h := testHandler(t, dir)
			tt.modify(h)
			err := h.Provision(newTestContext(t))
			if err == nil {
				err = h.Validate()
			}
			defer h.Cleanup()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
			// Configuration mistakes are found before the database is opened.
			if n := references(dir); n != 0 {
				t.Fatalf("store opened for an invalid configuration (references = %d)", n)
			}
		})
	}
}

// A literal secret with braces would be quoted by the replacer's error;
// ours must not repeat it.
func TestSecretNeverInErrors(t *testing.T) {
	const secret = "abc{notaplaceholder}def"
	h := testHandler(t, t.TempDir())
	h.Clients[0].ClientSecret = secret
	err := h.Provision(newTestContext(t))
	defer h.Cleanup()
	if err == nil {
		t.Fatal("expected an error")
	}
	if strings.Contains(err.Error(), "notaplaceholder") {
		t.Fatalf("error leaks part of the secret: %v", err)
	}
}

func TestUsersFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "users.json")
	users := []UserConfig{{Login: "alice", Subject: "a-1", PasswordHash: testHash(t), Claims: map[string]any{"email": "alice@example.com"}}}
	data, _ := json.Marshal(users)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	h := testHandler(t, dir)
	h.UsersFile = file
	got, err := h.collectUsers(caddy.NewReplacer())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Login != "alice" || got[1].Subject != "a-1" || got[1].Claims["email"] != "alice@example.com" {
		t.Fatalf("users = %+v", got)
	}

	if err := os.WriteFile(file, []byte(`[{"login":"bob","pasword_hash":"x"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := h.collectUsers(caddy.NewReplacer()); err == nil || !strings.Contains(err.Error(), "pasword_hash") {
		t.Fatalf("a misspelt field must be rejected, got %v", err)
	}
}

type recordingNext struct{ called bool }

func (n *recordingNext) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	n.called = true
	w.WriteHeader(http.StatusTeapot)
	return nil
}

func TestServeHTTPPassesThroughForeignPaths(t *testing.T) {
	h := testHandler(t, t.TempDir())
	if err := h.Provision(newTestContext(t)); err != nil {
		t.Fatal(err)
	}
	defer h.Cleanup()

	for path, wantNext := range map[string]bool{
		"/":                                 true,
		"/app/index.html":                   true,
		"/interaction/some-uid":             false,
		"/.well-known/openid-configuration": !h.prov.Handles("/.well-known/openid-configuration"),
	} {
		next := &recordingNext{}
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if err := h.ServeHTTP(rec, req, next); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if next.called != wantNext {
			t.Errorf("%s: next handler called = %v, want %v", path, next.called, wantNext)
		}
	}
}

func TestClientIP(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "10.0.0.1:4242"
	if got := clientIP(req); got != "10.0.0.1" {
		t.Errorf("without Caddy's variable: %q", got)
	}
	// Behind a trusted proxy Caddy puts the forwarded client address here.
	ctx := context.WithValue(req.Context(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: "203.0.113.7"})
	if got := clientIP(req.WithContext(ctx)); got != "203.0.113.7" {
		t.Errorf("with Caddy's client_ip: %q", got)
	}
}

func TestZapSink(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	s := newZapSink(zap.New(core))
	ctx := context.Background()
	s.Emit(ctx, provider.Event{Name: provider.EventGrantError, ClientID: "app", GrantID: "grant-id-value", ErrorCode: "invalid_grant"})
	s.Emit(ctx, provider.Event{Name: provider.EventServerError, Cause: os.ErrPermission})

	all := logs.All()
	if len(all) != 2 {
		t.Fatalf("got %d entries", len(all))
	}
	if all[0].Level != zapcore.InfoLevel || all[0].ContextMap()["event"] != "grant.error" || all[0].ContextMap()["error_code"] != "invalid_grant" {
		t.Errorf("first entry = %+v", all[0])
	}
	if g, _ := all[0].ContextMap()["grant"].(string); g == "" || strings.Contains(g, "grant-id-value") {
		t.Errorf("grant id must be logged as a digest, got %q", g)
	}
	if all[1].Level != zapcore.ErrorLevel || !strings.Contains(all[1].ContextMap()["error"].(string), "permission denied") {
		t.Errorf("server_error entry = %+v", all[1])
	}

	// With debug off, only the error events are written.
	core, logs = observer.New(zapcore.InfoLevel)
	s = newZapSink(zap.New(core))
	s.Emit(ctx, provider.Event{Name: provider.EventGrantSuccess})
	s.Emit(ctx, provider.Event{Name: provider.EventGrantError, ErrorCode: "invalid_client"})
	s.Emit(ctx, provider.Event{Name: provider.EventServerError})
	if logs.Len() != 2 {
		t.Fatalf("got %d entries at info level, want 2", logs.Len())
	}
}

func TestIssuerDirName(t *testing.T) {
	for in, want := range map[string]string{
		"http://localhost:8080":             "localhost_8080",
		"https://Auth.Example.com/realm/a":  "auth.example.com_realm_a",
		"https://auth.example.com":          "auth.example.com",
		"https://[::1]:8443/x":              "1_8443_x",
		"https://auth.example.com/../../up": "auth.example.com_.._.._up",
	} {
		_, u, err := resolveIssuer(caddy.NewReplacer(), in)
		if err != nil {
			t.Fatal(err)
		}
		if got := issuerDirName(u); got != want {
			t.Errorf("issuerDirName(%s) = %q, want %q", in, got, want)
		}
	}
}
