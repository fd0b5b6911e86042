package caddymodule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/oidcaddy/oidcaddy/internal/keyring"
	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/store/memstore"
)

// testKEK is a key-encryption secret for tests, given to the handler as a
// placeholder like an operator would.
const testKEK = "mN4qT7wZ1xC3vB6nM9kL2jH5gF8dS0aP4oI7uY1tR3e="

func sharedKeysHandler(t *testing.T, dir string) *Handler {
	t.Helper()
	t.Setenv("OIDCADDY_TEST_KEK", testKEK)
	h := testHandler(t, dir)
	h.KeyEncryptionSecret = "{env.OIDCADDY_TEST_KEK}"
	return h
}

func signingKID(t *testing.T, s provider.Signer) string {
	t.Helper()
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(s.PublicJWKS(), &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("JWKS: %v", err)
	}
	return set.Keys[0].KID
}

// Two instances with their own storage directories and one database (what
// several Caddy servers on a shared store are) get the same signing key and
// the same secret key, and write no key file.
func TestKeysWithKeyEncryptionSecretAreSharedThroughTheStore(t *testing.T) {
	store := memstore.New()
	core, logs := observer.New(zapcore.InfoLevel)
	var signers []provider.Signer
	var secrets [][]byte
	for range 2 {
		dir := t.TempDir()
		h := sharedKeysHandler(t, dir)
		h.logger = zap.New(core)
		signer, secret, err := h.loadKeys(caddy.NewReplacer(), dir, store)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.closeKeys)
		signers, secrets = append(signers, signer), append(secrets, secret)
		if _, err := os.Stat(filepath.Join(dir, "keys")); !os.IsNotExist(err) {
			t.Errorf("a key directory was written under the storage dir: %v", err)
		}
	}
	if signingKID(t, signers[0]) != signingKID(t, signers[1]) || signers[0].Algorithm() != "RS256" {
		t.Fatal("the instances publish different keys")
	}
	tok, err := signers[0].SignJWT(map[string]any{"sub": "x"}, "JWT")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signers[1].VerifyJWT(tok, "JWT"); err != nil {
		t.Fatalf("one instance's token does not verify on the other: %v", err)
	}
	if len(secrets[0]) != secretKeyLen || !bytes.Equal(secrets[0], secrets[1]) {
		t.Fatal("the instances have different secret keys")
	}
	// One instance generated, and said so without any secret.
	if n := logs.FilterMessage("generated a new signing key into the database").Len(); n != 1 {
		t.Fatalf("%d lines about a generated signing key, want 1", n)
	}
	if n := logs.FilterMessage("generated a new secret key into the database, sealed").Len(); n != 1 {
		t.Fatalf("%d lines about a generated secret key, want 1", n)
	}
	for _, e := range logs.All() {
		line, _ := json.Marshal(e.ContextMap())
		if strings.Contains(e.Message+string(line), testKEK) || strings.Contains(string(line), "PRIVATE") {
			t.Fatalf("a log line carries a secret: %s %s", e.Message, line)
		}
	}
}

// A real provision on Badger: the keys survive a restart through the
// database, the log says what was generated without any secret, and a
// wrong or weak key-encryption secret fails provisioning clearly.
func TestProvisionKeysFromTheStore(t *testing.T) {
	dir := t.TempDir()
	h := sharedKeysHandler(t, dir)
	if err := h.Provision(newTestContext(t)); err != nil {
		t.Fatal(err)
	}
	kid := h.keyring.SigningKID()
	if err := h.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if h.keyring != nil {
		t.Fatal("Cleanup left the key ring running")
	}
	if _, err := os.Stat(filepath.Join(dir, "keys")); !os.IsNotExist(err) {
		t.Fatalf("key files were written: %v", err)
	}

	h2 := sharedKeysHandler(t, dir)
	h2.logger = zap.NewNop()
	store, err := acquireStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = releaseStore(dir, nil) })
	signer, _, err := h2.loadKeys(caddy.NewReplacer(), dir, store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h2.closeKeys)
	if got := signingKID(t, signer); got != kid {
		t.Fatalf("after a restart the key is %s, want %s from the store", got, kid)
	}

	for name, secret := range map[string]string{
		"wrong": "Qw3rTy7uIo9pAs2dFg4hJk6lZx8cVb1nM5q0WeRtYuI=",
		"short": "tooShort-123",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("OIDCADDY_TEST_KEK", secret)
			h := testHandler(t, dir)
			h.KeyEncryptionSecret = "{env.OIDCADDY_TEST_KEK}"
			h.logger = zap.NewNop()
			_, _, err := h.loadKeys(caddy.NewReplacer(), dir, store)
			if err == nil {
				h.closeKeys()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), testKEK) {
				t.Fatalf("unclear or leaking error: %v", err)
			}
		})
	}
}

// Turning on key_encryption_secret on an instance that had key files keeps
// its keys: tokens it signed stay valid, registered clients' sealed secrets
// still open.
func TestKeyFilesAreAdoptedIntoTheStore(t *testing.T) {
	dir := t.TempDir()
	store := memstore.New()
	before := testHandler(t, dir)
	before.logger = zap.NewNop()
	fileSigner, fileSecret, err := before.loadKeys(caddy.NewReplacer(), dir, store)
	if err != nil {
		t.Fatal(err)
	}
	after := sharedKeysHandler(t, dir)
	after.logger = zap.NewNop()
	signer, secret, err := after.loadKeys(caddy.NewReplacer(), dir, store)
	if err != nil {
		t.Fatal(err)
	}
	defer after.closeKeys()
	if signingKID(t, signer) != signingKID(t, fileSigner) {
		t.Fatal("the key file was not adopted")
	}
	if !bytes.Equal(secret, fileSecret) {
		t.Fatal("the secret key file was not adopted")
	}
	// From now on the store decides: a new instance without the files
	// gets the same keys.
	otherDir := t.TempDir()
	other := sharedKeysHandler(t, otherDir)
	other.logger = zap.NewNop()
	signer2, secret2, err := other.loadKeys(caddy.NewReplacer(), otherDir, store)
	if err != nil {
		t.Fatal(err)
	}
	defer other.closeKeys()
	if signingKID(t, signer2) != signingKID(t, fileSigner) || !bytes.Equal(secret2, fileSecret) {
		t.Fatal("an instance without key files gets other keys")
	}
}

func TestKeyPolicy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rotation *KeyRotationConfig
		lifetime *LifetimesConfig
		want     keyring.Policy
		err      string
	}{
		{name: "defaults", want: keyring.Policy{RotateEvery: 30 * 24 * time.Hour, PublishBefore: 24 * time.Hour, Retain: time.Hour + retainMargin}},
		{name: "off", rotation: &KeyRotationConfig{Disabled: true}, want: keyring.Policy{Retain: time.Hour + retainMargin}},
		{
			name:     "retain follows the longest signed token",
			rotation: &KeyRotationConfig{RotateEvery: caddy.Duration(7 * 24 * time.Hour), PublishBefore: caddy.Duration(time.Hour)},
			lifetime: &LifetimesConfig{IDToken: caddy.Duration(10 * time.Minute), AccessToken: caddy.Duration(3 * time.Hour)},
			want:     keyring.Policy{RotateEvery: 7 * 24 * time.Hour, PublishBefore: time.Hour, Retain: 3*time.Hour + retainMargin},
		},
		{
			name:     "short rotation publishes half an interval ahead",
			rotation: &KeyRotationConfig{RotateEvery: caddy.Duration(12 * time.Hour)},
			want:     keyring.Policy{RotateEvery: 12 * time.Hour, PublishBefore: 6 * time.Hour, Retain: time.Hour + retainMargin},
		},
		{name: "publish shorter than JWKS cache", rotation: &KeyRotationConfig{PublishBefore: caddy.Duration(time.Minute)}, err: "publish_before"},
		{name: "publish not before rotation", rotation: &KeyRotationConfig{RotateEvery: caddy.Duration(time.Hour), PublishBefore: caddy.Duration(time.Hour)}, err: "shorter than rotate_every"},
		{name: "off and interval", rotation: &KeyRotationConfig{Disabled: true, RotateEvery: caddy.Duration(time.Hour)}, err: "disabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &Handler{KeyRotation: tc.rotation, Lifetimes: tc.lifetime}
			got, err := h.keyPolicy()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one about %s", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("policy = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestKeyRotationNeedsKeyEncryptionSecret(t *testing.T) {
	dir := t.TempDir()
	h := testHandler(t, dir)
	h.KeyRotation = &KeyRotationConfig{RotateEvery: caddy.Duration(time.Hour)}
	h.logger = zap.NewNop()
	if _, _, err := h.loadKeys(caddy.NewReplacer(), dir, memstore.New()); err == nil || !strings.Contains(err.Error(), "key_encryption_secret") {
		t.Fatalf("err = %v", err)
	}
}

func TestUnmarshalSharedKeysCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		input string
		want  Handler
		err   string
	}{
		{
			input: "key_encryption_secret {env.KEK}\nkey_rotation {\nrotate_every 7d\npublish_before 12h\n}",
			want: Handler{KeyEncryptionSecret: "{env.KEK}", KeyRotation: &KeyRotationConfig{
				RotateEvery: caddy.Duration(7 * 24 * time.Hour), PublishBefore: caddy.Duration(12 * time.Hour)}},
		},
		{input: "key_rotation {\nrotate_every off\n}", want: Handler{KeyRotation: &KeyRotationConfig{Disabled: true}}},
		{input: "key_rotation {\nrotate_every\n}", err: "argument"},
		{input: "key_rotation {\nrotate_every 1d 2d\n}", err: "argument"},
		{input: "key_rotation {\nrotate_every soon\n}", err: "rotate_every"},
		{input: "key_rotation {\npublish_before 1m\n}", err: "at least 5m"},
		{input: "key_rotation {\nrotate_every 1h\npublish_before 2h\n}", err: "shorter than rotate_every"},
		{input: "key_rotation {\nrotate_more 1h\n}", err: "unrecognized key_rotation option"},
		{input: "key_encryption_secret a b", err: "argument"},
		{input: "key_encryption_secret {env.A}\nkey_encryption_secret {env.B}", err: "already specified"},
	} {
		t.Run(tc.input, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("oidc_provider {\nissuer https://a.example\n" + tc.input + "\n}"))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Issuer = "https://a.example"
			if !reflect.DeepEqual(h, tc.want) {
				t.Fatalf("got %+v, want %+v", h, tc.want)
			}
		})
	}
}

func TestLiteralKeyEncryptionSecretIsWarnedAbout(t *testing.T) {
	for secret, warned := range map[string]bool{testKEK: true, "{env.OIDC_KEY_ENCRYPTION_SECRET}": false} {
		core, logs := observer.New(zapcore.InfoLevel)
		warnLiteralSecrets(zap.New(core), &Handler{KeyEncryptionSecret: secret})
		var places []string
		for _, e := range logs.All() {
			places = append(places, e.ContextMap()["secret"].(string))
			if strings.Contains(e.Message, testKEK) || strings.Contains(fmt.Sprint(e.ContextMap()), testKEK) {
				t.Error("the warning quotes the secret")
			}
		}
		if want := map[bool]int{true: 1, false: 0}[warned]; len(places) != want || (warned && places[0] != "key_encryption_secret") {
			t.Errorf("secret %q: warned about %q", secret, places)
		}
	}
}

// Retain is derived from the provider's token lifetimes, whose defaults
// caddymodule repeats: a JWT access token issued with the defaults must
// not outlive what the key ring keeps its key for.
func TestRetainCoversDefaultTokenLifetime(t *testing.T) {
	h := sharedKeysHandler(t, t.TempDir())
	h.Clients = append(h.Clients, ClientConfig{
		ClientID: "machine", ClientSecret: "{env.OIDCADDY_TEST_SECRET}",
		GrantTypes: []string{"client_credentials"}, AccessTokenFormat: "jwt",
	})
	if err := h.Provision(newTestContext(t)); err != nil {
		t.Fatal(err)
	}
	defer h.Cleanup()
	req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("machine", "not-a-real-secret")
	rec := httptest.NewRecorder()
	if err := h.ServeHTTP(rec, req, &recordingNext{}); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("token: %v %d %s", err, rec.Code, rec.Body)
	}
	var resp struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	claims, err := h.keyring.VerifyJWT(resp.AccessToken, "at+jwt")
	if err != nil {
		t.Fatal(err)
	}
	lifetime := time.Duration(claims["exp"].(float64)-claims["iat"].(float64)) * time.Second
	if policy, _ := h.keyPolicy(); lifetime > h.signedTokenLifetime() || policy.Retain < lifetime {
		t.Fatalf("a default access token lives %s, the key ring keeps its key for %s", lifetime, policy.Retain)
	}
}

// sharedStore is a store that says other processes use it too, as the
// Postgres backend does.
type sharedStore struct{ *memstore.Store }

func (sharedStore) SharedAcrossProcesses() bool { return true }

func TestSharedDatabaseWithoutKeyEncryptionSecretWarns(t *testing.T) {
	for _, tc := range []struct {
		store provider.Store
		kek   bool
		warn  bool
	}{
		{store: sharedStore{memstore.New()}, warn: true},
		{store: sharedStore{memstore.New()}, kek: true},
		{store: memstore.New()},
	} {
		core, logs := observer.New(zapcore.WarnLevel)
		dir := t.TempDir()
		h := testHandler(t, dir)
		if tc.kek {
			h = sharedKeysHandler(t, dir)
		}
		h.logger = zap.New(core)
		if _, _, err := h.loadKeys(caddy.NewReplacer(), dir, tc.store); err != nil {
			t.Fatal(err)
		}
		h.closeKeys()
		if got := logs.FilterMessageSnippet("set key_encryption_secret").Len() == 1; got != tc.warn {
			t.Errorf("%T, key_encryption_secret %v: warned %v, want %v", tc.store, tc.kek, got, tc.warn)
		}
	}
}
