package e2e

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/internal/pgtest"
)

// postgresStorage is the storage subdirective for a DSN passed in the
// environment, as an operator keeps the password out of the Caddyfile.
const postgresStorage = `postgres {
			dsn {env.OIDC_DATABASE_URL}
			max_conns 8
		}`

// A Caddyfile whose database cannot be used fails `caddy validate` and
// `caddy run` with a message that names the storage and the reason, and
// never shows the password.
func TestPostgresBadDatabaseFailsValidateAndRun(t *testing.T) {
	c := pgtest.Shared(t)
	db := c.NewDatabase(t)
	const secret = "e2e-Wrong-Pa55"
	closedPort := freePort(t)
	for name, tc := range map[string]struct{ dsn, why string }{
		"wrong password": {strings.Replace(db, c.Password(), secret, 1), "password authentication failed"},
		"nothing listening": {"postgres://" + pgtest.Role + ":" + secret + "@127.0.0.1:" + strconv.Itoa(closedPort) + "/db?sslmode=disable",
			"connection refused"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := newSiteConfig(t)
			cfg.StorageDir = postgresStorage
			dir := t.TempDir()
			path := filepath.Join(dir, "Caddyfile")
			if err := os.WriteFile(path, cfg.caddyfile(t), 0o600); err != nil {
				t.Fatal(err)
			}
			env := append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
				"DEMO_CLIENT_SECRET="+demoClientSecret, "OIDC_DATABASE_URL="+tc.dsn)
			for _, verb := range []string{"validate", "run"} {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				cmd := exec.CommandContext(ctx, caddyBin, verb, "--config", path, "--adapter", "caddyfile")
				cmd.Env = env
				out, err := cmd.CombinedOutput()
				cancel()
				if err == nil {
					t.Fatalf("caddy %s succeeded with an unusable database:\n%s", verb, out)
				}
				for _, want := range []string{"storage postgres", tc.why} {
					if !strings.Contains(string(out), want) {
						t.Errorf("caddy %s output does not mention %q:\n%s", verb, want, out)
					}
				}
				if strings.Contains(string(out), secret) {
					t.Errorf("caddy %s output contains the database password:\n%s", verb, out)
				}
			}
		})
	}
}

// Two Caddy instances on one database serve one issuer: a token issued by
// one is active on the other, and a revocation on the other is seen by the
// first at once; a client registered on one works on the other and, deleted
// there, is refused on the first at once.
func TestTwoInstancesShareOnePostgres(t *testing.T) {
	dsn := pgtest.Database(t)
	cfgA, cfgB := newSiteConfig(t), newSiteConfig(t)
	extra := `
		client svc {
			secret {env.DEMO_CLIENT_SECRET}
			grant_types client_credentials
		}
		registration {
			policy open
		}`
	for _, cfg := range []*siteConfig{&cfgA, &cfgB} {
		cfg.StorageDir = postgresStorage
		cfg.ExtraClients = extra
	}
	a := startCaddyWith(t, cfgA, cfgA.caddyfile(t), "OIDC_DATABASE_URL="+dsn)
	// B serves A's issuer from its own port, as an instance behind a load
	// balancer does.
	bFile := strings.Replace(string(cfgB.caddyfile(t)), "issuer "+cfgB.Issuer(), "issuer "+cfgA.Issuer(), 1)
	startCaddyWith(t, cfgB, []byte(bFile), "OIDC_DATABASE_URL="+dsn)
	_ = a

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mA := discover(ctx, t, cfgA.Issuer())
	// B's endpoints: A's metadata with B's address.
	onB := func(endpoint string) string { return strings.Replace(endpoint, cfgA.Issuer(), cfgB.Issuer(), 1) }
	mB := mA
	mB.TokenEndpoint, mB.IntrospectionEndpoint, mB.RevocationEndpoint = onB(mA.TokenEndpoint), onB(mA.IntrospectionEndpoint), onB(mA.RevocationEndpoint)
	mB.RegistrationEndpoint = onB(mA.RegistrationEndpoint)

	svc := clientCreds{ID: "svc", Secret: demoClientSecret}
	rs := clientCreds{ID: "demo-app", Secret: demoClientSecret}
	r := postForm(t, mA.TokenEndpoint, url.Values{"grant_type": {"client_credentials"}}, svc)
	if r.Status != http.StatusOK {
		t.Fatalf("client_credentials on A: %d %s", r.Status, r.Body)
	}
	token, _ := r.JSON(t)["access_token"].(string)
	if token == "" {
		t.Fatalf("no access token: %s", r.Body)
	}
	wantActive(t, "token from A introspected on B", introspect(t, mB, rs, token), true, "svc")
	revoke(t, mB, svc, token)
	wantActive(t, "token revoked on B introspected on A", introspect(t, mA, rs, token), false, "")

	// A client registered on B gets a token on A; deleted on B, it is
	// refused on A at once (no per-instance cache on a shared store).
	dyn := registered(t, register(t, mB, "", map[string]any{
		"client_name":                "Shared",
		"grant_types":                []string{"client_credentials"},
		"response_types":             []string{},
		"token_endpoint_auth_method": "client_secret_basic",
	}))
	dynCreds := clientCreds{ID: dyn.ClientID, Secret: dyn.ClientSecret}
	if r := postForm(t, mA.TokenEndpoint, url.Values{"grant_type": {"client_credentials"}}, dynCreds); r.Status != http.StatusOK {
		t.Fatalf("client registered on B, token on A: %d %s", r.Status, r.Body)
	}
	if r := sendJSON(t, http.MethodDelete, onB(dyn.RegistrationClientURI), dyn.RegistrationAccessToken, nil); r.Status != http.StatusNoContent {
		t.Fatalf("deleting the client on B: %d %s", r.Status, r.Body)
	}
	if r := postForm(t, mA.TokenEndpoint, url.Values{"grant_type": {"client_credentials"}}, dynCreds); r.Status != http.StatusUnauthorized {
		t.Errorf("client deleted on B, token on A: %d %s, want 401 invalid_client", r.Status, r.Body)
	}
}

// Two instances on one Postgres database with key_encryption_secret share
// their keys: what one signs or seals, the other accepts, both ways.
func TestTwoInstancesShareKeysOnPostgres(t *testing.T) {
	dsn := pgtest.Database(t)
	cfgA, cfgB := newSiteConfig(t), newSiteConfig(t)
	for _, cfg := range []*siteConfig{&cfgA, &cfgB} {
		cfg.StorageDir = postgresStorage
		cfg.ExtraClients = sharedKeysProviderBlock
	}
	env := []string{"OIDC_DATABASE_URL=" + dsn, sharedKeysEnv(e2eKeyEncryptionSecret)}
	startCaddyWith(t, cfgA, cfgA.caddyfile(t), env...)
	bFile := strings.Replace(string(cfgB.caddyfile(t)), "issuer "+cfgB.Issuer(), "issuer "+cfgA.Issuer(), 1)
	startCaddyWith(t, cfgB, []byte(bFile), env...)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, b := on(cfgA.Issuer(), cfgA.Issuer()), on(cfgA.Issuer(), cfgB.Issuer())
	mintSharedKeyArtifacts(ctx, t, a).checkOn(ctx, t, b)
	mintSharedKeyArtifacts(ctx, t, b).checkOn(ctx, t, a)
}

// The database goes down under the real binary: requests that need it get
// 503 temporarily_unavailable (counted as server_error, the store-health
// gauge at 0, the cause in Caddy's log without the password), Caddy stays
// up, and service resumes by itself when the database is back, with what
// was acknowledged before still there.
func TestPostgresDownAnswers503AndRecovers(t *testing.T) {
	c := pgtest.NewCluster(t)
	dsn := c.NewDatabase(t)
	cfg := newSiteConfig(t)
	cfg.StorageDir = `postgres {
			dsn {env.OIDC_DATABASE_URL}
			timeout 2s
		}`
	cfg.ExtraClients = machineClient
	srv := startCaddyWith(t, cfg, cfg.caddyfile(t), "OIDC_DATABASE_URL="+dsn)
	before := machineToken(t, cfg.Issuer())
	if before == "" {
		t.Fatal("no token before the outage")
	}
	eventsBefore := counters(srv.metrics())

	c.Stop()
	down := runLoad(cfg.Issuer(), 2*time.Second)
	down.report(t)
	if down.ok.Load() != 0 || down.unavailable.Load() == 0 {
		t.Errorf("with the database down: %d tokens issued, %d answered 503 temporarily_unavailable; want none issued, some 503", down.ok.Load(), down.unavailable.Load())
	}
	srv.awaitStoreHealthy(0)
	wantIncreased(t, eventsBefore, counters(srv.metrics()), map[string]float64{"server_error": 1})
	select {
	case <-srv.Exited():
		t.Fatal("caddy died with the database down")
	default:
	}

	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	up := runLoad(cfg.Issuer(), time.Second)
	up.report(t)
	if up.ok.Load() == 0 {
		t.Error("tokens were not issued again after the database came back")
	}
	srv.awaitStoreHealthy(1)
	if !introspectActive(t, cfg.Issuer(), before) {
		t.Error("a token issued before the outage is not active after it")
	}
	for _, line := range []string{"OIDC provider database unavailable", "OIDC provider database answers again"} {
		if !srv.logContains(line) {
			t.Errorf("no log line %q", line)
		}
	}
	if srv.logContains(c.Password()) {
		t.Error("Caddy's log contains the database password")
	}
}
