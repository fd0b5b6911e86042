package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/internal/pgtest"
	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/store/postgres"
)

// The durability contract mapped onto PostgreSQL: only a non-durable Put or
// Create commits with synchronous_commit off; everything else (durable
// writes, Consume, Update) with the server's setting (on). A trigger
// records the setting in force in each writing transaction.
func TestOnlyNonDurableWritesSkipTheFlush(t *testing.T) {
	s := open(t, pgtest.Database(t), postgres.Options{ReapInterval: -1})
	ctx := context.Background()
	if _, err := s.Pool().Exec(ctx, `
		CREATE TABLE sync_seen (id bytea, op text, setting text);
		CREATE FUNCTION note_sync() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO sync_seen VALUES (NEW.id, TG_OP, current_setting('synchronous_commit'));
			RETURN NEW;
		END $$;
		CREATE TRIGGER note_sync AFTER INSERT OR UPDATE ON oidc_provider_records
			FOR EACH ROW EXECUTE FUNCTION note_sync();`); err != nil {
		t.Fatal(err)
	}
	rec := func(id string) provider.Record {
		return provider.Record{Kind: "k", ID: id, UID: "uid-" + id, Payload: []byte("x"), ExpiresAt: time.Now().Add(time.Hour)}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Put(ctx, rec("put-lazy"), false))
	must(s.Put(ctx, rec("put-durable"), true))
	must(s.Create(ctx, rec("create-lazy"), false))
	must(s.Create(ctx, rec("create-durable"), true))
	must(s.Put(ctx, rec("consumed"), false))
	_, err := s.Consume(ctx, "k", "consumed", time.Now())
	must(err)
	must(s.Put(ctx, rec("updated"), false))
	_, err = s.Update(ctx, "k", "updated", func(r *provider.Record) error { r.Payload = []byte("y"); return nil })
	must(err)

	want := map[string][]string{
		"put-lazy":       {"off"},
		"put-durable":    {"on"},
		"create-lazy":    {"off", "off"}, // the insert, then taking the UID
		"create-durable": {"on", "on"},
		"consumed":       {"off", "on"}, // the non-durable Put, then Consume
		"updated":        {"off", "on"}, // the non-durable Put, then Update
	}
	rows, err := s.Pool().Query(ctx, "SELECT convert_from(id, 'UTF8'), setting FROM sync_seen ORDER BY ctid")
	must(err)
	got := map[string][]string{}
	for rows.Next() {
		var id, setting string
		must(rows.Scan(&id, &setting))
		got[id] = append(got[id], setting)
	}
	must(rows.Err())
	for id, w := range want {
		if len(got[id]) != len(w) {
			t.Errorf("%s: writes with synchronous_commit %v, want %v", id, got[id], w)
			continue
		}
		for i := range w {
			if got[id][i] != w[i] {
				t.Errorf("%s: writes with synchronous_commit %v, want %v", id, got[id], w)
				break
			}
		}
	}
}
