package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/oidcaddy/oidcaddy/internal/caddyproc"
)

// e2eKeyEncryptionSecret reaches Caddy only through its environment, as
// {env.OIDC_KEY_ENCRYPTION_SECRET}; a test value.
const e2eKeyEncryptionSecret = "x7Kp2Qm9Vt4Rz8Lw1Nc6Hb3Jf5Dg0Sa7Ey2Uo9Ti4Pq="

// sharedKeysProviderBlock goes into the oidc_provider block (siteConfig's
// ExtraClients) of every instance that shares keys through the store: the
// key-encryption secret, a client whose access tokens are JWTs (signed with
// the shared keys) and registration, for a client_secret_jwt client (whose
// secret is sealed with the shared secret key).
const sharedKeysProviderBlock = `
		key_encryption_secret {env.OIDC_KEY_ENCRYPTION_SECRET}
		client shared-keys-machine {
			secret {env.DEMO_CLIENT_SECRET}
			grant_types client_credentials
			access_token_format jwt
		}
		registration {
			policy initial_access_token
			initial_access_token ` + staticInitialAccessToken + `
		}`

// sharedKeysEnv is the environment of every instance sharing keys.
func sharedKeysEnv(secret string) string { return "OIDC_KEY_ENCRYPTION_SECRET=" + secret }

// sharedKeyArtifacts are what one instance made with its keys, for another
// instance (or the same one restarted) on the same store to accept: the
// instances share keys when checkOn passes. For two instances behind a load
// balancer, A serving the issuer at its address and B the same issuer at
// another: mintSharedKeyArtifacts(ctx, t, on(issuer, addrA)) then
// checkOn(ctx, t, on(issuer, addrB)), and the other way round.
type sharedKeyArtifacts struct {
	kids      []string // the JWKS's kids
	jwtAccess string   // a JWT access token of shared-keys-machine
	jwtClient registeredClient
}

// keysInstance is one instance of an issuer: the issuer (discovery is read
// from it) and the base URL this instance answers at (the issuer itself
// for a single instance).
type keysInstance struct{ issuer, base string }

func on(issuer, base string) keysInstance { return keysInstance{issuer, base} }

// endpoints are the issuer's endpoints at this instance's address.
func (in keysInstance) endpoints(ctx context.Context, t *testing.T) providerMetadata {
	t.Helper()
	m := discover(ctx, t, in.issuer)
	at := func(u string) string { return strings.Replace(u, in.issuer, in.base, 1) }
	m.TokenEndpoint, m.IntrospectionEndpoint, m.RevocationEndpoint = at(m.TokenEndpoint), at(m.IntrospectionEndpoint), at(m.RevocationEndpoint)
	m.JWKSURI, m.RegistrationEndpoint = at(m.JWKSURI), at(m.RegistrationEndpoint)
	return m
}

// mintSharedKeyArtifacts needs sharedKeysProviderBlock in the instance's
// configuration.
func mintSharedKeyArtifacts(ctx context.Context, t *testing.T, in keysInstance) sharedKeyArtifacts {
	t.Helper()
	m := in.endpoints(ctx, t)
	var a sharedKeyArtifacts
	a.kids = jwksKIDs(t, m.JWKSURI)
	r := postForm(t, m.TokenEndpoint, url.Values{"grant_type": {"client_credentials"}},
		clientCreds{ID: "shared-keys-machine", Secret: demoClientSecret})
	if r.Status != http.StatusOK {
		t.Fatalf("client_credentials: %d %s", r.Status, r.Body)
	}
	a.jwtAccess, _ = r.JSON(t)["access_token"].(string)
	if strings.Count(a.jwtAccess, ".") != 2 {
		t.Fatalf("shared-keys-machine got no JWT access token: %s", r.Body)
	}
	a.jwtClient = registered(t, register(t, m, staticInitialAccessToken, map[string]any{
		"client_name":                "Shared keys check",
		"grant_types":                []string{"client_credentials"},
		"token_endpoint_auth_method": "client_secret_jwt",
	}))
	if a.jwtClient.ClientSecret == "" {
		t.Fatalf("the client_secret_jwt client got no secret: %v", a.jwtClient.Info)
	}
	return a
}

// checkOn proves that the instance has the keys the artifacts were made
// with: the same JWKS, the JWT access token verifies there (its
// introspection checks the signature), and the registered client's secret,
// sealed by the other instance, opens there to check an HS256 assertion.
func (a sharedKeyArtifacts) checkOn(ctx context.Context, t *testing.T, in keysInstance) {
	t.Helper()
	m := in.endpoints(ctx, t)
	if got := jwksKIDs(t, m.JWKSURI); !slices.Equal(got, a.kids) {
		t.Errorf("JWKS kids = %q, want %q", got, a.kids)
	}
	wantActive(t, "JWT access token of the other instance", introspect(t, m, demoApp, a.jwtAccess), true, "shared-keys-machine")

	now := time.Now()
	// The audience is the issuer's token endpoint, whichever instance
	// receives the assertion.
	aud := discover(ctx, t, in.issuer).TokenEndpoint
	tok, err := jwt.NewBuilder().Issuer(a.jwtClient.ClientID).Subject(a.jwtClient.ClientID).Audience([]string{aud}).
		JwtID(randomString(t)).IssuedAt(now).Expiration(now.Add(time.Minute)).Build()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.HS256(), []byte(a.jwtClient.ClientSecret)))
	if err != nil {
		t.Fatal(err)
	}
	if r := postForm(t, m.TokenEndpoint, assertionGrant(string(signed)), clientCreds{}); r.Status != http.StatusOK {
		t.Errorf("client_secret_jwt client registered on the other instance: %d %s", r.Status, r.Body)
	}
}

func jwksKIDs(t *testing.T, jwksURI string) []string {
	t.Helper()
	resp, err := http.Get(jwksURI)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("JWKS: %v", err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KID)
	}
	slices.Sort(kids)
	return kids
}

// TestKeysInTheStoreSurviveARestart runs one instance with
// key_encryption_secret, restarts it, and checks that its keys came from
// the database: no key file is written, and after the restart its JWKS,
// its JWT access tokens and the sealed secrets of registered
// client_secret_jwt clients are all still good. A restart with another
// secret refuses to start, saying why without quoting either secret.
// (Two instances on one database need the Postgres backend; the same
// artifacts check them: mint on A, checkOn B.)
func TestKeysInTheStoreSurviveARestart(t *testing.T) {
	cfg := newSiteConfig(t)
	cfg.ExtraClients = sharedKeysProviderBlock
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	first := startCaddyWith(t, cfg, cfg.caddyfile(t), sharedKeysEnv(e2eKeyEncryptionSecret))
	instance := on(cfg.Issuer(), cfg.Issuer())
	made := mintSharedKeyArtifacts(ctx, t, instance)
	made.checkOn(ctx, t, instance) // the check itself passes where the artifacts were made
	first.stop()
	if _, err := os.Stat(filepath.Join(cfg.StorageDir, "keys")); !os.IsNotExist(err) {
		t.Errorf("key files were written under the storage directory: %v", err)
	}

	restarted := startCaddyWith(t, cfg, cfg.caddyfile(t), sharedKeysEnv(e2eKeyEncryptionSecret))
	made.checkOn(ctx, t, instance)
	restarted.stop()
	for name, srv := range map[string]*caddyServer{"first": first, "restarted": restarted} {
		if srv.logContains(e2eKeyEncryptionSecret) {
			t.Errorf("the %s instance logged the key-encryption secret", name)
		}
	}

	const wrongSecret = "Wq8Zr3Yt6Uv1Xs5Ap9Bo2Cn7Dm4El0Fk3Gj6Hi9Ih2J="
	proc, err := caddyproc.Start(caddyBin, t.TempDir(), cfg.caddyfile(t), "DEMO_CLIENT_SECRET="+demoClientSecret, sharedKeysEnv(wrongSecret))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-proc.Exited():
	case <-time.After(30 * time.Second):
		proc.Stop(5 * time.Second)
		t.Fatalf("caddy started with the wrong key-encryption secret:\n%s", proc.Log.String())
	}
	log := proc.Log.String()
	if !strings.Contains(log, "does not open with the configured key-encryption secret") {
		t.Errorf("the refusal does not say why:\n%s", log)
	}
	if strings.Contains(log, wrongSecret) || strings.Contains(log, e2eKeyEncryptionSecret) {
		t.Error("the refusal quotes a key-encryption secret")
	}
}
