package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/oidcaddy/oidcaddy/internal/pgtest"
	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/store/badgerstore"
	"github.com/oidcaddy/oidcaddy/store/postgres"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// badgerAt is the storage JSON for a Badger directory.
func badgerAt(dir string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"backend": "badger", "dir": dir})
	return b
}

func parseStorage(t *testing.T, input string) (json.RawMessage, error) {
	t.Helper()
	d := caddyfile.NewTestDispenser("oidc_provider {\n issuer https://a.example\n " + input + "\n}")
	var h Handler
	err := h.UnmarshalCaddyfile(d)
	return h.StorageRaw, err
}

// Every Caddyfile form of storage, including the old `storage <dir>`, gives
// the module JSON with its backend.
func TestCaddyfileStorageForms(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"storage ./data/oidc", `{"backend":"badger","dir":"./data/oidc"}`},
		{"storage badger", `{"backend":"badger"}`},
		{"storage badger {\n dir /var/lib/oidc\n}", `{"backend":"badger","dir":"/var/lib/oidc"}`},
		{"storage postgres {\n dsn {env.OIDC_DATABASE_URL}\n max_conns 20\n}", `{"backend":"postgres","dsn":"{env.OIDC_DATABASE_URL}","max_conns":20}`},
		{"storage postgres {\n dsn postgres://h/db\n simple_protocol\n timeout 2s\n reap_interval 5m\n}", `{"backend":"postgres","dsn":"postgres://h/db","simple_protocol":true,"timeout":2000000000,"reap_interval":300000000000}`},
	} {
		raw, err := parseStorage(t, tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		var got, want any
		_ = json.Unmarshal(raw, &got)
		_ = json.Unmarshal([]byte(tc.want), &want)
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("%q\n got %s\nwant %s", tc.in, g, w)
		}
	}
}

func TestCaddyfileStorageMistakes(t *testing.T) {
	for _, tc := range []struct{ in, wantErr string }{
		{"storage", "wrong argument count"},
		{"storage postgres", "dsn is required"},
		{"storage postgres {\n max_conns 0\n dsn x\n}", "max_conns must be a positive number"},
		{"storage postgres {\n dsn x\n timeout soon\n}", "timeout must be a positive duration"},
		{"storage postgres {\n dsn x\n password y\n}", `unrecognized storage postgres option "password"`},
		{"storage badger {\n path x\n}", `unrecognized storage badger option "path"`},
		{"storage mysql {\n dsn x\n}", "unknown storage backend"},
		{"storage a b", "wrong argument count"},
		{"storage ./a\n storage ./b", "storage already specified"},
	} {
		_, err := parseStorage(t, tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%q: error %v, want one containing %q", tc.in, err, tc.wantErr)
		}
	}
}

// JSON of earlier versions ({"dir": ...}, no backend) still provisions Badger.
func TestOldStorageJSONMeansBadger(t *testing.T) {
	dir := t.TempDir()
	h := testHandler(t, dir)
	h.StorageRaw = json.RawMessage(`{"dir":` + strconvQuote(dir) + `}`)
	if err := h.Provision(newTestContext(t)); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	t.Cleanup(func() { h.Cleanup() })
	if references(dir) != 1 {
		t.Fatalf("the Badger store in %s is not held", dir)
	}
	if _, ok := h.store.(*badgerstore.Store); !ok {
		t.Fatalf("store is %T, want Badger", h.store)
	}
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

func postgresHandler(t *testing.T, dsnExpr string) *Handler {
	t.Helper()
	h := testHandler(t, t.TempDir())
	raw, _ := json.Marshal(map[string]any{"backend": "postgres", "dsn": dsnExpr})
	h.StorageRaw = raw
	t.Setenv("XDG_DATA_HOME", t.TempDir()) // default key files per test
	return h
}

// The Postgres backend provisions from a placeholder DSN, shares one pool
// between a configuration and the one replacing it (a reload), and closes it
// when the last one is cleaned up.
func TestPostgresStorageSharedAcrossReload(t *testing.T) {
	dsn := pgtest.Database(t)
	t.Setenv("OIDCADDY_TEST_DSN", dsn)
	old := postgresHandler(t, "{env.OIDCADDY_TEST_DSN}")
	if err := old.Provision(newTestContext(t)); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	oldStore, ok := old.store.(*postgres.Store)
	if !ok {
		t.Fatalf("store is %T, want *postgres.Store", old.store)
	}
	ctx := context.Background()
	if err := oldStore.Put(ctx, provider.Record{Kind: "k", ID: "kept", Payload: []byte("x")}, true); err != nil {
		t.Fatal(err)
	}

	next := postgresHandler(t, "{env.OIDCADDY_TEST_DSN}")
	if err := next.Provision(newTestContext(t)); err != nil {
		t.Fatalf("Provision of the replacing config: %v", err)
	}
	if next.store != old.store {
		t.Error("the replacing configuration opened a second pool instead of sharing the first")
	}
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, err := next.store.Get(ctx, "k", "kept"); err != nil {
		t.Fatalf("after the old config's cleanup the shared pool no longer works: %v", err)
	}
	if err := next.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, err := oldStore.Get(ctx, "k", "kept"); !errors.Is(err, provider.ErrUnavailable) {
		t.Errorf("after the last cleanup the pool is still open: Get = %v", err)
	}
}

// A DSN that cannot work fails provisioning (so `caddy validate` and
// `caddy run`) with a message that says why, without the password.
func TestPostgresStorageBadDSNFailsProvision(t *testing.T) {
	c := pgtest.Shared(t)
	db := c.NewDatabase(t)
	const secret = "Pr0vision-Secret"
	for name, tc := range map[string]struct{ dsn, want string }{
		"wrong password": {strings.Replace(db, c.Password(), secret, 1), "password authentication failed"},
		"unparsable":     {"postgres://u:" + secret + "@[::1/db", "cannot be parsed"},
		"empty env":      {"{env.OIDCADDY_UNSET_DSN}", "dsn is required"},
	} {
		t.Run(name, func(t *testing.T) {
			h := postgresHandler(t, tc.dsn)
			err := h.Provision(newTestContext(t))
			defer h.Cleanup()
			if err == nil {
				t.Fatal("Provision succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "storage postgres") {
				t.Errorf("error %q, want it to name storage postgres and contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error contains the password: %v", err)
			}
		})
	}
}

// Two providers with different issuers cannot share one database, also not
// within one process where the second would reuse the first's pool.
func TestPostgresStorageRefusesASecondIssuer(t *testing.T) {
	dsn := pgtest.Database(t)
	t.Setenv("OIDCADDY_TEST_DSN", dsn)
	first := postgresHandler(t, "{env.OIDCADDY_TEST_DSN}")
	if err := first.Provision(newTestContext(t)); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	t.Cleanup(func() { first.Cleanup() })
	second := postgresHandler(t, "{env.OIDCADDY_TEST_DSN}")
	second.Issuer = "http://other.example"
	err := second.Provision(newTestContext(t))
	second.Cleanup()
	if !errors.Is(err, postgres.ErrOtherIssuer) {
		t.Fatalf("second issuer on the same database: %v, want ErrOtherIssuer", err)
	}
	if _, err := first.store.Get(context.Background(), "k", "x"); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("the first provider's store after the refused second: %v", err)
	}
}

// A DSN with its password written in the config draws the literal-secret
// warning (naming where, not the value); one from a placeholder does not.
func TestPostgresLiteralPasswordWarns(t *testing.T) {
	for dsn, want := range map[string]bool{
		"postgres://u:hunter2@db/x":                   true,
		"host=db user=u password=hunter2 dbname=x":    true,
		"{env.OIDC_DATABASE_URL}":                     false,
		"postgres://u:{env.DB_PASSWORD}@db/x":         false,
		"postgres://u@db/x?sslmode=verify-full":       false,
		"host=db user=u dbname=x sslmode=verify-full": false,
	} {
		core, logs := observer.New(zap.WarnLevel)
		(&PostgresStorage{DSN: dsn}).warnLiteralPassword(zap.New(core))
		entries := logs.All()
		if got := len(entries) == 1; got != want {
			t.Errorf("%q: warned %v, want %v", dsn, got, want)
		}
		for _, e := range entries {
			line, _ := json.Marshal(e.ContextMap())
			if strings.Contains(e.Message+string(line), "hunter2") {
				t.Errorf("the warning shows the password: %s %s", e.Message, line)
			}
		}
	}
}
