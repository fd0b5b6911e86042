package badgerstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/store/storetest"
)

func openT(t testing.TB, opts Options) *Store {
	t.Helper()
	if !opts.InMemory && opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.GCInterval == 0 {
		opts.GCInterval = -1
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// storetest.RunShared (two handles racing on one database) does not apply:
// Badger locks its directory, so no second handle, in this process or
// another, can open it; one Caddy process shares one handle instead.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) provider.Store {
		// The default GC interval, as in production; Close must stop it.
		return openT(t, Options{Dir: t.TempDir(), GCInterval: DefaultGCInterval})
	})
}

func TestConformanceInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) provider.Store {
		return openT(t, Options{InMemory: true})
	})
}

func TestPersistence(t *testing.T) {
	storetest.RunPersistence(t, func(t *testing.T, dir string) provider.Store {
		return openT(t, Options{Dir: dir})
	})
}

func TestOpenOptions(t *testing.T) {
	if _, err := Open(Options{}); err == nil {
		t.Error("Open without Dir succeeded")
	}
	if _, err := Open(Options{InMemory: true, Dir: t.TempDir()}); err == nil {
		t.Error("Open with both InMemory and Dir succeeded")
	}

	// Badger locks its directory: a second handle must fail, not share it.
	dir := t.TempDir()
	openT(t, Options{Dir: dir})
	if s, err := Open(Options{Dir: dir}); err == nil {
		s.Close()
		t.Error("second Open of the same directory succeeded")
	}
}

func TestUnknownFormatRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(formatKey, []byte{formatVersion + 1})
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(Options{Dir: dir, GCInterval: -1})
	if err == nil {
		s.Close()
		t.Fatal("Open accepted an unknown on-disk format")
	}
	// The refused directory must be released again.
	s, err = Open(Options{Dir: dir, GCInterval: -1})
	if err == nil {
		s.Close()
		t.Fatal("Open accepted an unknown on-disk format on the second try")
	}
	if strings.Contains(err.Error(), "lock") {
		t.Fatalf("refusing the format left the directory locked: %v", err)
	}
}

func TestCorruptValue(t *testing.T) {
	ctx := context.Background()
	s := openT(t, Options{InMemory: true})
	const secret = "SECRET-PAYLOAD"
	good := encodeRecord(&provider.Record{UID: "u", GrantID: "g", Payload: []byte(secret)})
	corrupt := map[string][]byte{
		"empty":          {},
		"version":        append([]byte{9}, good[1:]...),
		"flags":          append([]byte{recordVersion, 0x80}, good[2:]...),
		"truncated":      good[:len(good)-3],
		"trailing":       append(append([]byte(nil), good...), 0),
		"huge length":    {recordVersion, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"bad varint":     {recordVersion, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},
		"nanos too big":  {recordVersion, flagExpires, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f, 0},
		"missing time":   {recordVersion, flagConsumed, 0, 0},
		"only version":   {recordVersion},
		"secret in junk": append([]byte{recordVersion, 0, 0, 0, 100}, secret...),
	}
	for name, v := range corrupt {
		t.Run(name, func(t *testing.T) {
			id := "corrupt-" + name
			if err := s.db.Update(func(txn *badger.Txn) error {
				return txn.Set(recordKey(provider.KindSession, id), v)
			}); err != nil {
				t.Fatal(err)
			}
			_, err := s.Get(ctx, provider.KindSession, id)
			if err == nil || errors.Is(err, provider.ErrNotFound) {
				t.Fatalf("Get of a corrupt record: %v, want a corruption error", err)
			}
			if !errors.Is(err, errCorruptRecord) {
				t.Errorf("Get: %v, want errCorruptRecord", err)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), id) {
				t.Errorf("error quotes the stored data or the ID: %v", err)
			}
			if _, err := s.Update(ctx, provider.KindSession, id, func(*provider.Record) error {
				t.Error("Update ran fn on a corrupt record")
				return nil
			}); !errors.Is(err, errCorruptRecord) {
				t.Errorf("Update: %v, want errCorruptRecord", err)
			}
			if _, err := s.Consume(ctx, provider.KindSession, id, time.Now()); !errors.Is(err, errCorruptRecord) {
				t.Errorf("Consume: %v, want errCorruptRecord", err)
			}
			// Put overwrites and Delete removes a corrupt record: that is how
			// it gets repaired.
			if err := s.Delete(ctx, provider.KindSession, id); err != nil {
				t.Fatalf("Delete of a corrupt record: %v", err)
			}
			if _, err := s.Get(ctx, provider.KindSession, id); !errors.Is(err, provider.ErrNotFound) {
				t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
			}
		})
	}

	// Put over corrupt data, and a grant index entry pointing at it.
	rec := provider.Record{Kind: provider.KindSession, ID: "overwritten", GrantID: "g", Payload: []byte("ok")}
	if err := s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(recordKey(rec.Kind, rec.ID), []byte{0xde, 0xad}); err != nil {
			return err
		}
		return txn.Set(grantKey("g", rec.Kind, "junk"), nil)
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, rec, false); err != nil {
		t.Fatalf("Put over a corrupt record: %v", err)
	}
	removed, err := s.DeleteByGrant(ctx, "g")
	if err != nil || len(removed) != 1 || removed[0].ID != "overwritten" {
		t.Fatalf("DeleteByGrant = %d records, %v; want just the overwritten one", len(removed), err)
	}
}

func TestRecordCodecRoundTrip(t *testing.T) {
	zone := time.FixedZone("z", -7*3600)
	for _, rec := range []provider.Record{
		{},
		{UID: "u", GrantID: "g", Payload: []byte{0}},
		{ExpiresAt: time.Unix(0, 0)}, // the epoch is not the zero time
		{ExpiresAt: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)},
		{ExpiresAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, zone), ConsumedAt: time.Date(1969, 12, 31, 23, 59, 59, 1, zone)},
		{UID: strings.Repeat("u", 300), GrantID: "\x00", Payload: bytes.Repeat([]byte{0xff}, 70000)},
	} {
		var got provider.Record
		if err := decodeRecord(encodeRecord(&rec), &got); err != nil {
			t.Fatalf("decode(encode(%+v)): %v", rec, err)
		}
		if got.UID != rec.UID || got.GrantID != rec.GrantID || !bytes.Equal(got.Payload, rec.Payload) ||
			!got.ExpiresAt.Equal(rec.ExpiresAt) || got.ExpiresAt.IsZero() != rec.ExpiresAt.IsZero() ||
			!got.ConsumedAt.Equal(rec.ConsumedAt) || got.ConsumedAt.IsZero() != rec.ConsumedAt.IsZero() {
			t.Errorf("round trip changed the record: got %+v, want %+v", got, rec)
		}
	}
}

// FuzzDecodeRecord: decoding arbitrary bytes returns an error or a record that
// encodes back to the same bytes; it never panics.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord(&provider.Record{}))
	f.Add(encodeRecord(&provider.Record{UID: "u", GrantID: "g", Payload: []byte("p"), ExpiresAt: time.Now(), ConsumedAt: time.Now()}))
	f.Add([]byte{recordVersion, 3, 0, 0, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		var rec provider.Record
		if err := decodeRecord(b, &rec); err != nil {
			return
		}
		if again := encodeRecord(&rec); !bytes.Equal(again, b) {
			// Non-minimal varints decode fine but encode shorter; anything
			// else means decode dropped or invented data.
			var rec2 provider.Record
			if err := decodeRecord(again, &rec2); err != nil {
				t.Fatalf("re-encoding a decoded record gives undecodable bytes: %v", err)
			}
		}
	})
}

func TestKeysUnambiguous(t *testing.T) {
	// Different (kind, id) pairs that concatenate to the same bytes.
	pairs := [][2]string{{"a", "bc"}, {"ab", "c"}, {"a\x01", "c"}, {"a", "\x01c"}, {"", "abc"}}
	seen := map[string]bool{}
	for _, p := range pairs {
		for _, k := range [][]byte{recordKey(provider.Kind(p[0]), p[1]), uidKey(provider.Kind(p[0]), p[1])} {
			if seen[string(k)] {
				t.Errorf("key %q produced twice", k)
			}
			seen[string(k)] = true
		}
	}
	prefix := grantPrefix("g\x00")
	key := grantKey("g\x00", "kind\x00", "id\x00x")
	if !bytes.HasPrefix(key, prefix) || bytes.HasPrefix(key, grantPrefix("g")) {
		t.Fatalf("grant key %q and prefixes disagree", key)
	}
	kind, id, ok := parseGrantKey(key, prefix)
	if !ok || kind != "kind\x00" || id != "id\x00x" {
		t.Fatalf("parseGrantKey = %q, %q, %v", kind, id, ok)
	}
	if _, _, ok := parseGrantKey(append(prefix, 0x7f), prefix); ok {
		t.Fatal("parseGrantKey accepted a kind length past the end")
	}
}

// TestIndexesExpireWithRecord checks the physical side of expiry: Badger
// drops the index entries with the record, so nothing but Badger's TTL is
// needed to clean up.
func TestIndexesExpireWithRecord(t *testing.T) {
	ctx := context.Background()
	s := openT(t, Options{})
	rec := provider.Record{
		Kind: provider.KindAccessToken, ID: "at", UID: "uid", GrantID: "grant",
		// Mid-second, so the checks right after Put have half a second of
		// slack before Badger's rounded-up TTL.
		ExpiresAt: time.Now().Truncate(time.Second).Add(1500 * time.Millisecond),
	}
	if err := s.Put(ctx, rec, false); err != nil {
		t.Fatal(err)
	}
	keys := [][]byte{recordKey(rec.Kind, rec.ID), uidKey(rec.Kind, rec.UID), grantKey(rec.GrantID, rec.Kind, rec.ID)}
	want := badgerExpiry(rec.ExpiresAt)
	if err := s.db.View(func(txn *badger.Txn) error {
		for _, k := range keys {
			item, err := txn.Get(k)
			if err != nil {
				return fmt.Errorf("key %q: %w", k, err)
			}
			if item.ExpiresAt() != want {
				t.Errorf("key %q expires at %d, want %d (the record's, rounded up)", k, item.ExpiresAt(), want)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(time.Unix(int64(want), 0).Add(20 * time.Millisecond)))
	if err := s.db.View(func(txn *badger.Txn) error {
		for _, k := range keys {
			if _, err := txn.Get(k); !errors.Is(err, badger.ErrKeyNotFound) {
				t.Errorf("key %q after its TTL: %v, want ErrKeyNotFound", k, err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestTooLarge(t *testing.T) {
	ctx := context.Background()
	s := openT(t, Options{InMemory: true})
	payload := bytes.Repeat([]byte("SECRET"), inMemoryValueMax/6+1)
	for name, rec := range map[string]provider.Record{
		"payload":  {Kind: provider.KindSession, ID: "big", Payload: payload},
		"id":       {Kind: provider.KindSession, ID: strings.Repeat("SECRET", 11000)},
		"uid":      {Kind: provider.KindSession, ID: "u", UID: strings.Repeat("SECRET", 11000)},
		"grant id": {Kind: provider.KindSession, ID: "g", GrantID: strings.Repeat("SECRET", 11000)},
	} {
		err := s.Put(ctx, rec, false)
		if !errors.Is(err, errTooLarge) {
			t.Errorf("Put with a huge %s: %v, want errTooLarge", name, err)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("Put with a huge %s: the error quotes the data", name)
		}
		if _, err := s.Get(ctx, rec.Kind, rec.ID); !errors.Is(err, provider.ErrNotFound) {
			t.Errorf("Get after a refused Put: %v, want ErrNotFound", err)
		}
	}
	// The largest payload that fits is accepted.
	fits := provider.Record{Kind: provider.KindSession, ID: "fits", Payload: payload[:inMemoryValueMax-64]}
	if err := s.Put(ctx, fits, false); err != nil {
		t.Fatalf("Put of a payload just under the limit: %v", err)
	}
}

func TestBadgerExpiryRoundsUp(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want uint64
	}{
		{time.Time{}, 0},
		{time.Unix(100, 0), 100},
		{time.Unix(100, 1), 101},
		{time.Unix(100, 999999999), 101},
		{time.Unix(-5, 0), 1},
	} {
		if got := badgerExpiry(tc.t); got != tc.want {
			t.Errorf("badgerExpiry(%v) = %d, want %d", tc.t, got, tc.want)
		}
	}
}

// TestStaleIndexEntriesRemoved looks under the API: replacing a record must
// delete the index entries of its old UID and grant, not merely hide them.
func TestStaleIndexEntriesRemoved(t *testing.T) {
	ctx := context.Background()
	s := openT(t, Options{InMemory: true})
	rec := provider.Record{Kind: provider.KindSession, ID: "s", UID: "u1", GrantID: "g1"}
	if err := s.Put(ctx, rec, false); err != nil {
		t.Fatal(err)
	}
	rec.UID, rec.GrantID = "u2", "g2"
	if err := s.Put(ctx, rec, false); err != nil {
		t.Fatal(err)
	}
	// Update moves them again.
	if _, err := s.Update(ctx, rec.Kind, rec.ID, func(r *provider.Record) error {
		r.UID, r.GrantID = "u3", "g3"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	gone := [][]byte{uidKey(rec.Kind, "u1"), uidKey(rec.Kind, "u2"), grantKey("g1", rec.Kind, "s"), grantKey("g2", rec.Kind, "s")}
	present := [][]byte{uidKey(rec.Kind, "u3"), grantKey("g3", rec.Kind, "s")}
	if err := s.db.View(func(txn *badger.Txn) error {
		for _, k := range gone {
			if _, err := txn.Get(k); !errors.Is(err, badger.ErrKeyNotFound) {
				t.Errorf("stale key %q: %v, want ErrKeyNotFound", k, err)
			}
		}
		for _, k := range present {
			if _, err := txn.Get(k); err != nil {
				t.Errorf("key %q: %v", k, err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// Deleting a record whose UID another record has since taken leaves the
	// other record's index entry alone.
	a := provider.Record{Kind: provider.KindSession, ID: "a", UID: "shared"}
	b := provider.Record{Kind: provider.KindSession, ID: "b", UID: "shared"}
	for _, r := range []provider.Record{a, b} {
		if err := s.Put(ctx, r, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, a.Kind, a.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetByUID(ctx, b.Kind, "shared"); err != nil || got.ID != "b" {
		t.Fatalf("GetByUID after deleting the UID's previous owner = %q, %v; want b", got.ID, err)
	}
}

func TestUpdateMayNotChangeKey(t *testing.T) {
	ctx := context.Background()
	s := openT(t, Options{InMemory: true})
	rec := provider.Record{Kind: provider.KindSession, ID: "s", Payload: []byte("v1")}
	if err := s.Put(ctx, rec, false); err != nil {
		t.Fatal(err)
	}
	for _, change := range []func(*provider.Record){
		func(r *provider.Record) { r.ID = "other" },
		func(r *provider.Record) { r.Kind = provider.KindGrant },
	} {
		_, err := s.Update(ctx, rec.Kind, rec.ID, func(r *provider.Record) error {
			change(r)
			r.Payload = []byte("v2")
			return nil
		})
		if err == nil {
			t.Fatal("Update accepted a changed kind or id")
		}
	}
	got, err := s.Get(ctx, rec.Kind, rec.ID)
	if err != nil || string(got.Payload) != "v1" {
		t.Fatalf("after refused Updates: %q, %v; want v1 unchanged", got.Payload, err)
	}
	for _, k := range []provider.Kind{provider.KindGrant, provider.KindSession} {
		if _, err := s.Get(ctx, k, "other"); !errors.Is(err, provider.ErrNotFound) {
			t.Errorf("Get(%s, other): %v, want ErrNotFound", k, err)
		}
	}
}

func TestConsumeZeroTime(t *testing.T) {
	ctx := context.Background()
	s := openT(t, Options{InMemory: true})
	if err := s.Put(ctx, provider.Record{Kind: provider.KindAuthorizationCode, ID: "c"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Consume(ctx, provider.KindAuthorizationCode, "c", time.Time{}); err == nil {
		t.Fatal("Consume with a zero time succeeded")
	}
	if _, err := s.Consume(ctx, provider.KindAuthorizationCode, "c", time.Now()); err != nil {
		t.Fatalf("Consume after the refused one: %v", err)
	}
}

// TestDeleteByGrantTxnTooBig removes a grant larger than one Badger
// transaction can hold, so the batch has to shrink.
func TestDeleteByGrantTxnTooBig(t *testing.T) {
	ctx := context.Background()
	s := openT(t, Options{InMemory: true})
	s.grantBatch = 1 << 20
	const n = 6000 // x3 entries (record, UID, grant) is past Badger's count limit
	for i := range n {
		rec := provider.Record{
			Kind: provider.KindAccessToken, ID: fmt.Sprintf("at-%05d", i), UID: fmt.Sprintf("u-%05d", i), GrantID: "big",
		}
		if err := s.Put(ctx, rec, false); err != nil {
			t.Fatal(err)
		}
	}
	// Confirm the premise: one transaction cannot delete it all.
	err := s.db.Update(func(txn *badger.Txn) error {
		for i := range n {
			id := fmt.Sprintf("at-%05d", i)
			for _, k := range [][]byte{recordKey(provider.KindAccessToken, id), uidKey(provider.KindAccessToken, fmt.Sprintf("u-%05d", i)), grantKey("big", provider.KindAccessToken, id)} {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if !errors.Is(err, badger.ErrTxnTooBig) {
		t.Fatalf("premise: deleting %d records in one transaction gave %v, want ErrTxnTooBig", n, err)
	}

	removed, err := s.DeleteByGrant(ctx, "big")
	if err != nil {
		t.Fatalf("DeleteByGrant: %v", err)
	}
	if len(removed) != n {
		t.Fatalf("DeleteByGrant removed %d, want %d", len(removed), n)
	}
	seen := make(map[string]bool, n)
	for _, r := range removed {
		seen[r.ID] = true
	}
	if len(seen) != n {
		t.Fatalf("DeleteByGrant returned %d distinct records, want %d", len(seen), n)
	}
	if removed, err := s.DeleteByGrant(ctx, "big"); err != nil || len(removed) != 0 {
		t.Fatalf("second DeleteByGrant = %d, %v", len(removed), err)
	}
}

// TestConflictRetried makes DeleteByGrant (which takes no per-record lock)
// race Updates on the same records: both sides must complete, each record is
// either deleted and reported or survives with every increment.
func TestConflictRetried(t *testing.T) {
	ctx := context.Background()
	s := openT(t, Options{InMemory: true})
	const n = 50
	for i := range n {
		rec := provider.Record{Kind: provider.KindRefreshToken, ID: fmt.Sprint(i), GrantID: "g", Payload: []byte{0}}
		if err := s.Put(ctx, rec, false); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan []provider.Record)
	go func() {
		removed, err := s.DeleteByGrant(ctx, "g")
		if err != nil {
			t.Errorf("DeleteByGrant: %v", err)
		}
		done <- removed
	}()
	for i := range n {
		_, err := s.Update(ctx, provider.KindRefreshToken, fmt.Sprint(i), func(r *provider.Record) error {
			r.Payload[0]++
			return nil
		})
		if err != nil && !errors.Is(err, provider.ErrNotFound) {
			t.Errorf("Update: %v", err)
		}
	}
	removed := <-done
	gotRemoved := map[string]bool{}
	for _, r := range removed {
		gotRemoved[r.ID] = true
	}
	for i := range n {
		id := fmt.Sprint(i)
		_, err := s.Get(ctx, provider.KindRefreshToken, id)
		switch {
		case gotRemoved[id] && !errors.Is(err, provider.ErrNotFound):
			t.Errorf("record %s reported removed but Get says %v", id, err)
		case !gotRemoved[id]:
			t.Errorf("record %s not removed by DeleteByGrant (Get: %v)", id, err)
		}
	}
}

// TestCloseStopsGC: the GC goroutine runs on its ticker, and Close stops it
// and leaves no goroutine behind. Calling Close again is harmless.
func TestCloseStopsGC(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := Open(Options{Dir: t.TempDir(), GCInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for s.gcPasses.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-s.gcDone:
	default:
		t.Fatal("Close returned while the GC goroutine was still running")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Badger's own goroutines wind down asynchronously; wait for them rather
	// than for a fixed time.
	var after int
	for range 200 {
		if after = runtime.NumGoroutine(); after <= before {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if after > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after Close, %d before Open:\n%s", after, before, buf[:runtime.Stack(buf, true)])
	}

	// A negative interval starts no GC at all.
	s, err = Open(Options{Dir: t.TempDir(), GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.gcDone != nil {
		t.Fatal("GCInterval < 0 started a GC goroutine")
	}
}

// TestSyncPerDurableWrite pins down which operations reach the disk before
// returning: each durable operation on its own costs exactly one DB.Sync,
// the others none.
func TestSyncPerDurableWrite(t *testing.T) {
	ctx := context.Background()
	s := openT(t, Options{})
	rec := provider.Record{Kind: provider.KindAuthorizationCode, ID: "c", GrantID: "g"}
	steps := []struct {
		name  string
		syncs uint64
		do    func() error
	}{
		{"non-durable Put", 0, func() error { return s.Put(ctx, rec, false) }},
		{"durable Put", 1, func() error { return s.Put(ctx, rec, true) }},
		{"second durable Put", 1, func() error { return s.Put(ctx, rec, true) }},
		{"Get", 0, func() error { _, err := s.Get(ctx, rec.Kind, rec.ID); return err }},
		{"Update", 1, func() error {
			_, err := s.Update(ctx, rec.Kind, rec.ID, func(*provider.Record) error { return nil })
			return err
		}},
		{"Consume", 1, func() error { _, err := s.Consume(ctx, rec.Kind, rec.ID, time.Now()); return err }},
		{"losing Consume", 0, func() error {
			if _, err := s.Consume(ctx, rec.Kind, rec.ID, time.Now()); !errors.Is(err, provider.ErrAlreadyConsumed) {
				return fmt.Errorf("got %v, want ErrAlreadyConsumed", err)
			}
			return nil
		}},
		{"DeleteByGrant", 1, func() error { _, err := s.DeleteByGrant(ctx, "g"); return err }},
		{"empty DeleteByGrant", 0, func() error { _, err := s.DeleteByGrant(ctx, "g"); return err }},
		{"Put again", 0, func() error { return s.Put(ctx, rec, false) }},
		{"Delete", 1, func() error { return s.Delete(ctx, rec.Kind, rec.ID) }},
		{"Delete of a missing record", 0, func() error {
			if err := s.Delete(ctx, rec.Kind, rec.ID); !errors.Is(err, provider.ErrNotFound) {
				return fmt.Errorf("got %v, want ErrNotFound", err)
			}
			return nil
		}},
	}
	for _, step := range steps {
		before := s.dbSyncs.Load()
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := s.dbSyncs.Load() - before; got != step.syncs {
			t.Errorf("%s: %d syncs, want %d", step.name, got, step.syncs)
		}
	}
}

func TestClosedStoreErrors(t *testing.T) {
	s, err := Open(Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Put(ctx, provider.Record{Kind: provider.KindSession, ID: "x"}, true); err == nil {
		t.Error("Put on a closed store succeeded")
	}
	if _, err := s.Get(ctx, provider.KindSession, "x"); err == nil || errors.Is(err, provider.ErrNotFound) {
		t.Errorf("Get on a closed store: %v, want a closed-store error", err)
	}
	if _, err := s.DeleteByGrant(ctx, "g"); err == nil {
		t.Error("DeleteByGrant on a closed store succeeded")
	}
}
