package caddymodule

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

var b64 = base64.RawURLEncoding

// testClientKey is a client's P-256 key and its public JWK members.
func testClientKey(t *testing.T) (*ecdsa.PrivateKey, map[string]any) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key, publicJWK(t, key)
}

func publicJWK(t *testing.T, key *ecdsa.PrivateKey) map[string]any {
	t.Helper()
	pub, err := key.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	point := pub.Bytes() // 0x04 || X || Y
	return map[string]any{
		"kty": "EC", "crv": "P-256", "kid": "rp-1", "alg": "ES256", "use": "sig",
		"x": b64.EncodeToString(point[1:33]), "y": b64.EncodeToString(point[33:]),
	}
}

func jwksOf(t *testing.T, jwk map[string]any) []byte {
	t.Helper()
	doc, err := json.Marshal(map[string]any{"keys": []any{jwk}})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// privateJWKS is the mistake of publishing the private key as well.
func privateJWKS(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	jwk := publicJWK(t, key)
	d, err := key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	jwk["d"] = b64.EncodeToString(d)
	return jwksOf(t, jwk)
}

// signES256 makes a client assertion (RFC 7523 §3) by hand, so the test
// depends on no JOSE library's idea of one.
func signES256(t *testing.T, key *ecdsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	hdr, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": kid})
	payload, _ := json.Marshal(claims)
	input := b64.EncodeToString(hdr) + "." + b64.EncodeToString(payload)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig)
}

func serve(t *testing.T, h *Handler, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := h.ServeHTTP(rec, req, &recordingNext{}); err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return rec
}

// A provider with open registration, an API resource with JWT access tokens
// and a private_key_jwt client whose keys come from a jwks_file: the
// configuration reaches the provider, which then serves all three.
func TestProvisionRegistrationResourceAndPrivateKeyJWT(t *testing.T) {
	dir := t.TempDir()
	keysDir := t.TempDir()
	key, jwk := testClientKey(t)
	writeFile(t, filepath.Join(keysDir, "machine.jwks.json"), jwksOf(t, jwk))
	t.Setenv("OIDCADDY_TEST_KEYS", keysDir)

	h := testHandler(t, dir)
	h.Clients = append(h.Clients, ClientConfig{
		ClientID:      "machine",
		GrantTypes:    []string{"client_credentials"},
		JWKSFile:      "{env.OIDCADDY_TEST_KEYS}/machine.jwks.json",
		AllowedScopes: []string{"read", "write"},
		// No auth_method: keys without a secret mean private_key_jwt.
	})
	h.Resources = []ResourceConfig{{Identifier: "https://api.example.com/", Scopes: []string{"read"}, AccessTokenFormat: "jwt"}}
	h.Registration = &RegistrationConfig{Policy: "open", AllowedScopes: []string{"read"}}
	h.Lifetimes = &LifetimesConfig{RefreshTokenReuseGrace: durationPtr(0)}
	h.LoginThrottle = &LoginThrottleConfig{FreeAttempts: 3}
	h.MaxBodySize = 32 << 10
	if err := h.Provision(newTestContext(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Cleanup() })
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}

	// Discovery offers registration and JWT client authentication.
	rec := serve(t, h, httptest.NewRequest(http.MethodGet, "/.well-known/openid-configuration", nil))
	var disc struct {
		RegistrationEndpoint string   `json:"registration_endpoint"`
		AuthMethods          []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &disc); err != nil {
		t.Fatalf("discovery: %v\n%s", err, rec.Body)
	}
	if disc.RegistrationEndpoint != "http://localhost:8080/register" {
		t.Errorf("registration_endpoint = %q", disc.RegistrationEndpoint)
	}
	if !slices.Contains(disc.AuthMethods, "private_key_jwt") {
		t.Errorf("token_endpoint_auth_methods_supported = %v, want private_key_jwt among them", disc.AuthMethods)
	}

	// client_credentials with a signed assertion, for the resource.
	now := time.Now()
	assertion := signES256(t, key, "rp-1", map[string]any{
		"iss": "machine", "sub": "machine", "aud": "http://localhost:8080/token",
		"jti": "jti-1", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	})
	tokenRequest := func() *http.Request {
		form := url.Values{
			"grant_type":            {"client_credentials"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {assertion},
			"resource":              {"https://api.example.com/"},
		}
		req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	}
	rec = serve(t, h, tokenRequest())
	if rec.Code != http.StatusOK {
		t.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("the resource's format is jwt, got an access token of %d parts", len(parts))
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Aud   any    `json:"aud"`
		Scope string `json:"scope"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if aud, _ := json.Marshal(claims.Aud); !strings.Contains(string(aud), "https://api.example.com/") {
		t.Errorf("aud = %s, want the resource", aud)
	}
	if tok.Scope != "read" {
		t.Errorf("scope = %q: the client's allowed scopes narrowed to the resource's should be just read", tok.Scope)
	}
	// The assertion's jti is remembered: the replay detection is wired.
	if rec := serve(t, h, tokenRequest()); rec.Code != http.StatusUnauthorized {
		t.Errorf("replayed assertion: %d %s", rec.Code, rec.Body)
	}

	// Open registration.
	req := httptest.NewRequest(http.MethodPost, "/register", strings.NewReader(`{"redirect_uris":["https://new.example/cb"],"client_name":"New"}`))
	req.Header.Set("Content-Type", "application/json")
	rec = serve(t, h, req)
	if rec.Code != http.StatusCreated || !strings.Contains(rec.Body.String(), `"client_id"`) {
		t.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	// registration.allowed_scopes reaches the provider: a registered client
	// may hold read, and nothing else.
	for scope, want := range map[string]int{"read": http.StatusCreated, "read write": http.StatusBadRequest} {
		req := httptest.NewRequest(http.MethodPost, "/register", strings.NewReader(`{"grant_types":["client_credentials"],"scope":"`+scope+`"}`))
		req.Header.Set("Content-Type", "application/json")
		if rec := serve(t, h, req); rec.Code != want {
			t.Errorf("register with scope %q: %d %s, want %d", scope, rec.Code, rec.Body, want)
		}
	}

	// max_body_size reaches the provider.
	big := `{"client_name":"` + strings.Repeat("x", 40<<10) + `","redirect_uris":["https://new.example/cb"]}`
	req = httptest.NewRequest(http.MethodPost, "/register", strings.NewReader(big))
	req.Header.Set("Content-Type", "application/json")
	if rec := serve(t, h, req); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a 40 KiB body with max_body_size 32KiB: %d %s", rec.Code, rec.Body)
	}

	// The secret key was generated next to the signing key, private.
	assertPrivateFile(t, filepath.Join(dir, "keys", "secret.key"), 32)
}

func assertPrivateFile(t *testing.T, path string, size int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != size {
		t.Errorf("%s: mode %v, size %d; want 0600 and %d bytes", path, fi.Mode().Perm(), fi.Size(), size)
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("%s: mode %v, want 0700", filepath.Dir(path), di.Mode().Perm())
	}
}

func TestSecretKeyFile(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	h := &Handler{logger: zap.New(core)}
	repl := caddy.NewReplacer()

	// Generated into a new directory, then reused.
	path := filepath.Join(t.TempDir(), "new", "secret.key")
	h.SecretKeyFile = path
	first, err := h.loadSecretKey(repl, "/unused")
	if err != nil {
		t.Fatal(err)
	}
	assertPrivateFile(t, path, 32)
	second, err := h.loadSecretKey(repl, "/unused")
	if err != nil {
		t.Fatal(err)
	}
	if string(first) != string(second) {
		t.Fatal("the secret key was regenerated instead of reused")
	}
	if logs.FilterMessage("generated a new secret key").Len() != 1 {
		t.Fatalf("want one log line about the generated key, got %v", logs.All())
	}
	for _, e := range logs.All() {
		line, _ := json.Marshal(e.ContextMap())
		if strings.Contains(string(line), hex.EncodeToString(first)) || strings.Contains(string(line), base64.StdEncoding.EncodeToString(first)) {
			t.Fatalf("log line carries the key: %s", line)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}

	// Operators may write the key with openssl rand -hex/-base64 32.
	want := make([]byte, 32)
	for i := range want {
		want[i] = byte(i)
	}
	for name, content := range map[string]string{
		"hex":    hex.EncodeToString(want) + "\n",
		"base64": base64.StdEncoding.EncodeToString(want) + "\n",
		"raw":    string(want),
	} {
		t.Run(name, func(t *testing.T) {
			h.SecretKeyFile = filepath.Join(t.TempDir(), "secret.key")
			writeFile(t, h.SecretKeyFile, []byte(content))
			got, err := h.loadSecretKey(repl, "/unused")
			if err != nil || string(got) != string(want) {
				t.Fatalf("got %x, %v", got, err)
			}
		})
	}

	// A wrong file is refused, not replaced, and its content not quoted.
	h.SecretKeyFile = filepath.Join(t.TempDir(), "secret.key")
	writeFile(t, h.SecretKeyFile, []byte("hunter2-not-a-key"))
	_, err = h.loadSecretKey(repl, "/unused")
	if err == nil || !strings.Contains(err.Error(), "must hold exactly 32 bytes") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v", err)
	}

	// Placeholders in the path are resolved.
	t.Setenv("OIDCADDY_TEST_KEYDIR", t.TempDir())
	h.SecretKeyFile = "{env.OIDCADDY_TEST_KEYDIR}/keys/k"
	if _, err := h.loadSecretKey(repl, "/unused"); err != nil {
		t.Fatal(err)
	}
	assertPrivateFile(t, filepath.Join(os.Getenv("OIDCADDY_TEST_KEYDIR"), "keys", "k"), 32)
}

// The provider reads 0 as "default 2s" and a negative value as "none".
func TestReuseGraceMapping(t *testing.T) {
	for _, tt := range []struct {
		in   *caddy.Duration
		want time.Duration
	}{
		{nil, 0},
		{durationPtr(0), -1},
		{durationPtr(5 * time.Second), 5 * time.Second},
	} {
		l := LifetimesConfig{RefreshTokenReuseGrace: tt.in}
		if got := l.toProvider().RefreshTokenReuseGrace; got != tt.want {
			t.Errorf("%v: got %v, want %v", tt.in, got, tt.want)
		}
	}
}

// Initial access tokens from the config never show up in errors.
func TestInitialAccessTokenNeverInErrors(t *testing.T) {
	const tok = "short{secret}"
	h := testHandler(t, t.TempDir())
	h.Registration = &RegistrationConfig{Policy: "initial_access_token", InitialAccessTokens: []string{"{env.OIDCADDY_TEST_SECRET}-long-enough", tok}}
	err := h.Provision(newTestContext(t))
	defer h.Cleanup()
	if err == nil || strings.Contains(err.Error(), "secret}") || !strings.Contains(err.Error(), "initial access token 2") {
		t.Fatalf("err = %v", err)
	}
}
