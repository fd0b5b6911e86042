// Package storetest is the conformance suite for provider.Store backends.
//
// A backend's tests call Run, and RunPersistence if the backend keeps data
// across restarts. The suite checks outcomes exactly, so a backend that passes
// behaves as the provider assumes: no record outlives its ExpiresAt by even a
// nanosecond, one Consume wins, no concurrent Update is lost, and indexes move
// with the records.
//
// The expiry tests sleep to cross real deadlines; the whole suite takes a few
// seconds.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// OpenFunc returns a fresh, empty store for one subtest. It should register
// its own cleanup (t.Cleanup) to release the store.
type OpenFunc func(t *testing.T) provider.Store

// Run runs the conformance suite, each subtest on a store from open.
func Run(t *testing.T, open OpenFunc) {
	tests := []struct {
		name string
		fn   func(*testing.T, provider.Store)
	}{
		{"PutGetRoundTrip", testRoundTrip},
		{"PutCopiesPayload", testPutCopiesPayload},
		{"KindsAreSeparate", testKindsSeparate},
		{"KeysDoNotCollide", testKeysDoNotCollide},
		{"Overwrite", testOverwrite},
		{"GetByUID", testGetByUID},
		{"UIDMovesOnOverwrite", testUIDMoves},
		{"GrantMovesOnOverwrite", testGrantMoves},
		{"Expiry", testExpiry},
		{"ExpiresAtInPast", testExpiresInPast},
		{"Update", testUpdate},
		{"UpdateErrorAborts", testUpdateErrorAborts},
		{"UpdateMissing", testUpdateMissing},
		{"UpdateConcurrent", testUpdateConcurrent},
		{"Consume", testConsume},
		{"ConsumeTwice", testConsumeTwice},
		{"ConsumeMissing", testConsumeMissing},
		{"ConsumeConcurrent", testConsumeConcurrent},
		{"Delete", testDelete},
		{"DeleteMissing", testDeleteMissing},
		{"DeleteByGrant", testDeleteByGrant},
		{"DeleteByGrantLarge", testDeleteByGrantLarge},
		{"ListByOwner", testListByOwner},
		{"ListByOwnerPages", testListByOwnerPages},
		{"OwnerMovesOnOverwrite", testOwnerMoves},
		{"Create", testCreate},
		{"CreateConcurrent", testCreateConcurrent},
		{"CanceledContext", testCanceledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// Record kinds used by the suite. Two real kinds, plus a made-up one: the
// store must not depend on the provider's list.
const (
	kindA = provider.KindAccessToken
	kindB = provider.KindRefreshToken
	kindC = provider.Kind("storetest/other")
)

// full returns a record with every field set, times at full nanosecond
// precision and outside UTC, so a backend that truncates or drops anything
// fails the comparison.
func full(kind provider.Kind, id string) provider.Record {
	zone := time.FixedZone("storetest", 5*3600+30*60)
	return provider.Record{
		Kind:       kind,
		ID:         id,
		UID:        "uid-" + id,
		GrantID:    "grant-" + id,
		Owner:      "owner-" + id,
		Payload:    []byte("payload of " + id + "\x00\xff\x01"),
		ExpiresAt:  time.Now().Add(24 * time.Hour).Truncate(time.Second).Add(123456789).In(zone),
		ConsumedAt: time.Date(2001, 2, 3, 4, 5, 6, 987654321, zone),
	}
}

// plain returns a record with only the required fields.
func plain(kind provider.Kind, id string, payload string) provider.Record {
	return provider.Record{Kind: kind, ID: id, Payload: []byte(payload)}
}

func put(t *testing.T, s provider.Store, rec provider.Record) {
	t.Helper()
	if err := s.Put(context.Background(), rec, false); err != nil {
		t.Fatalf("Put(%s, %q): %v", rec.Kind, rec.ID, err)
	}
}

func get(t *testing.T, s provider.Store, kind provider.Kind, id string) provider.Record {
	t.Helper()
	rec, err := s.Get(context.Background(), kind, id)
	if err != nil {
		t.Fatalf("Get(%s, %q): %v", kind, id, err)
	}
	return rec
}

// diff describes how got differs from want, or returns "" when they are the
// same record. Times compare with Equal: a backend need not keep the location
// or the monotonic reading.
func diff(got, want provider.Record) string {
	var d []string
	if got.Kind != want.Kind {
		d = append(d, fmt.Sprintf("Kind %q, want %q", got.Kind, want.Kind))
	}
	if got.ID != want.ID {
		d = append(d, fmt.Sprintf("ID %q, want %q", got.ID, want.ID))
	}
	if got.UID != want.UID {
		d = append(d, fmt.Sprintf("UID %q, want %q", got.UID, want.UID))
	}
	if got.GrantID != want.GrantID {
		d = append(d, fmt.Sprintf("GrantID %q, want %q", got.GrantID, want.GrantID))
	}
	if got.Owner != want.Owner {
		d = append(d, fmt.Sprintf("Owner %q, want %q", got.Owner, want.Owner))
	}
	if !bytes.Equal(got.Payload, want.Payload) {
		d = append(d, fmt.Sprintf("Payload %s, want %s", short(got.Payload), short(want.Payload)))
	}
	if !got.ExpiresAt.Equal(want.ExpiresAt) {
		d = append(d, fmt.Sprintf("ExpiresAt %v, want %v", got.ExpiresAt, want.ExpiresAt))
	}
	if !got.ConsumedAt.Equal(want.ConsumedAt) {
		d = append(d, fmt.Sprintf("ConsumedAt %v, want %v", got.ConsumedAt, want.ConsumedAt))
	}
	if len(d) == 0 {
		return ""
	}
	return fmt.Sprint(d)
}

// short describes a payload without flooding the log with a large one.
func short(p []byte) string {
	if len(p) <= 40 {
		return fmt.Sprintf("%q", p)
	}
	return fmt.Sprintf("%q... (%d bytes)", p[:40], len(p))
}

func checkRecord(t *testing.T, what string, got, want provider.Record) {
	t.Helper()
	if d := diff(got, want); d != "" {
		t.Errorf("%s: %s", what, d)
	}
}

func checkGet(t *testing.T, s provider.Store, want provider.Record) {
	t.Helper()
	checkRecord(t, fmt.Sprintf("Get(%s, %q)", want.Kind, want.ID), get(t, s, want.Kind, want.ID), want)
}

func checkNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("%s: error %v, want ErrNotFound", what, err)
	}
}

// checkAbsent asserts that the record is invisible to every read path.
func checkAbsent(t *testing.T, s provider.Store, kind provider.Kind, id, uid string) {
	t.Helper()
	ctx := context.Background()
	_, err := s.Get(ctx, kind, id)
	checkNotFound(t, fmt.Sprintf("Get(%s, %q)", kind, id), err)
	if uid != "" {
		_, err = s.GetByUID(ctx, kind, uid)
		checkNotFound(t, fmt.Sprintf("GetByUID(%s, %q)", kind, uid), err)
	}
}

// checkRemoved compares what DeleteByGrant returned with want, in any order.
func checkRemoved(t *testing.T, grantID string, got []provider.Record, want ...provider.Record) {
	t.Helper()
	type key struct {
		kind provider.Kind
		id   string
	}
	wantBy := make(map[key]provider.Record, len(want))
	for _, r := range want {
		wantBy[key{r.Kind, r.ID}] = r
	}
	if len(got) != len(want) {
		t.Errorf("DeleteByGrant(%q) removed %d records, want %d", grantID, len(got), len(want))
	}
	for _, r := range got {
		k := key{r.Kind, r.ID}
		w, ok := wantBy[k]
		if !ok {
			t.Errorf("DeleteByGrant(%q) removed unexpected %s %q", grantID, r.Kind, r.ID)
			continue
		}
		delete(wantBy, k)
		checkRecord(t, fmt.Sprintf("DeleteByGrant(%q) record %s %q", grantID, r.Kind, r.ID), r, w)
	}
	for k := range wantBy {
		t.Errorf("DeleteByGrant(%q) did not return %s %q", grantID, k.kind, k.id)
	}
}

func sleepUntil(t time.Time) { time.Sleep(time.Until(t)) }

func testRoundTrip(t *testing.T, s provider.Store) {
	ctx := context.Background()
	rec := full(kindA, "round-trip")
	for _, durable := range []bool{false, true} {
		rec.ID = "round-trip-" + strconv.FormatBool(durable)
		rec.UID = "uid-" + rec.ID
		if err := s.Put(ctx, rec, durable); err != nil {
			t.Fatalf("Put(durable=%v): %v", durable, err)
		}
		checkGet(t, s, rec)
	}

	// Optional fields left empty must come back empty, not as zero-valued
	// stand-ins (the Unix epoch for a time, say).
	bare := provider.Record{Kind: kindA, ID: "bare"}
	put(t, s, bare)
	got := get(t, s, kindA, "bare")
	checkRecord(t, "bare record", got, bare)
	if !got.ExpiresAt.IsZero() || !got.ConsumedAt.IsZero() {
		t.Errorf("bare record: times %v, %v, want zero", got.ExpiresAt, got.ConsumedAt)
	}
	if len(got.Payload) != 0 {
		t.Errorf("bare record: payload of %d bytes, want none", len(got.Payload))
	}

	// Binary payload and a large one.
	big := plain(kindA, "big", "")
	big.Payload = make([]byte, 256<<10)
	for i := range big.Payload {
		big.Payload[i] = byte(i * 7)
	}
	put(t, s, big)
	checkGet(t, s, big)
}

func testPutCopiesPayload(t *testing.T, s provider.Store) {
	rec := plain(kindA, "copy", "original")
	put(t, s, rec)
	copy(rec.Payload, "CHANGED!")
	got := get(t, s, kindA, "copy")
	if string(got.Payload) != "original" {
		t.Fatalf("store kept the caller's payload buffer: got %q after the caller changed it", got.Payload)
	}
	copy(got.Payload, "CHANGED!")
	if again := get(t, s, kindA, "copy"); string(again.Payload) != "original" {
		t.Fatalf("store handed out its own buffer: got %q after a reader changed it", again.Payload)
	}
}

func testKindsSeparate(t *testing.T, s provider.Store) {
	ctx := context.Background()
	a := plain(kindA, "same-id", "in A")
	a.UID = "same-uid"
	b := plain(kindB, "same-id", "in B")
	b.UID = "same-uid"
	put(t, s, a)
	put(t, s, b)
	checkGet(t, s, a)
	checkGet(t, s, b)
	if got, err := s.GetByUID(ctx, kindA, "same-uid"); err != nil || diff(got, a) != "" {
		t.Errorf("GetByUID(A) = %v, %v; want the A record", got.ID, err)
	}
	if got, err := s.GetByUID(ctx, kindB, "same-uid"); err != nil || diff(got, b) != "" {
		t.Errorf("GetByUID(B) = %v, %v; want the B record", got.ID, err)
	}
	_, err := s.Get(ctx, kindC, "same-id")
	checkNotFound(t, "Get in a third kind", err)

	if err := s.Delete(ctx, kindA, "same-id"); err != nil {
		t.Fatalf("Delete(A): %v", err)
	}
	checkAbsent(t, s, kindA, "same-id", "same-uid")
	checkGet(t, s, b)
	if got, err := s.GetByUID(ctx, kindB, "same-uid"); err != nil || diff(got, b) != "" {
		t.Errorf("after deleting A, GetByUID(B) = %q, %v; want the B record", got.ID, err)
	}
}

// testKeysDoNotCollide stores keys that a naive concatenation would confuse.
func testKeysDoNotCollide(t *testing.T, s provider.Store) {
	ctx := context.Background()
	recs := []provider.Record{
		{Kind: "a", ID: "b\x00c", UID: "u\x00v", GrantID: "g\x00h"},
		{Kind: "a\x00b", ID: "c", UID: "v", GrantID: "g"},
		{Kind: "a", ID: "b", UID: "u", GrantID: "g\x00"},
		{Kind: "a", ID: "bc", UID: "uv", GrantID: "gh"},
		{Kind: "a", ID: "b:c", UID: "u:v", GrantID: "g:h"},
		{Kind: "a:b", ID: "c", UID: "x", GrantID: "g:"},
		{Kind: "a", ID: "\xff\xfe", UID: "\xff", GrantID: "\xff\x00"},
		{Kind: "a", ID: "b/c", UID: "u/v", GrantID: "g/h"},
	}
	for i := range recs {
		recs[i].Payload = []byte(strconv.Itoa(i))
		put(t, s, recs[i])
	}
	for _, r := range recs {
		checkGet(t, s, r)
		got, err := s.GetByUID(ctx, r.Kind, r.UID)
		if err != nil || diff(got, r) != "" {
			t.Errorf("GetByUID(%q, %q) = %q, %v; want record %q", r.Kind, r.UID, got.ID, err, r.ID)
		}
	}
	// Each grant holds exactly one record; prefixes of it ("g" of "g\x00h")
	// and extensions of it must stay untouched.
	for i, r := range recs {
		removed, err := s.DeleteByGrant(ctx, r.GrantID)
		if err != nil {
			t.Fatalf("DeleteByGrant(%q): %v", r.GrantID, err)
		}
		checkRemoved(t, r.GrantID, removed, r)
		for _, other := range recs[i+1:] {
			checkGet(t, s, other)
		}
	}
}

func testOverwrite(t *testing.T, s provider.Store) {
	ctx := context.Background()
	first := full(kindA, "overwrite")
	put(t, s, first)
	if _, err := s.Consume(ctx, kindA, "overwrite", time.Now()); !errors.Is(err, provider.ErrAlreadyConsumed) {
		t.Fatalf("Consume of a record stored consumed: %v, want ErrAlreadyConsumed", err)
	}

	// Replacing is total: fields absent from the new record are gone,
	// including the consumed mark.
	second := plain(kindA, "overwrite", "second")
	put(t, s, second)
	checkGet(t, s, second)
	if _, err := s.Consume(ctx, kindA, "overwrite", time.Now()); err != nil {
		t.Fatalf("Consume after overwrite with an unconsumed record: %v", err)
	}

	third := full(kindA, "overwrite")
	third.Payload = []byte("third")
	put(t, s, third)
	checkGet(t, s, third)
}

func testGetByUID(t *testing.T, s provider.Store) {
	ctx := context.Background()
	rec := full(kindA, "by-uid")
	put(t, s, rec)
	other := full(kindA, "other")
	put(t, s, other)

	got, err := s.GetByUID(ctx, kindA, rec.UID)
	if err != nil {
		t.Fatalf("GetByUID: %v", err)
	}
	checkRecord(t, "GetByUID", got, rec)

	_, err = s.GetByUID(ctx, kindA, "no-such-uid")
	checkNotFound(t, "GetByUID of an unknown uid", err)
	_, err = s.GetByUID(ctx, kindB, rec.UID)
	checkNotFound(t, "GetByUID in another kind", err)
	_, err = s.GetByUID(ctx, kindA, rec.ID)
	checkNotFound(t, "GetByUID with the ID instead of the UID", err)
	_, err = s.GetByUID(ctx, kindA, "")
	checkNotFound(t, "GetByUID of the empty uid", err)
}

func testUIDMoves(t *testing.T, s provider.Store) {
	ctx := context.Background()
	rec := plain(kindA, "moving", "v1")
	rec.UID = "old-uid"
	put(t, s, rec)

	rec.UID = "new-uid"
	rec.Payload = []byte("v2")
	put(t, s, rec)
	_, err := s.GetByUID(ctx, kindA, "old-uid")
	checkNotFound(t, "GetByUID of the replaced uid", err)
	got, err := s.GetByUID(ctx, kindA, "new-uid")
	if err != nil {
		t.Fatalf("GetByUID of the new uid: %v", err)
	}
	checkRecord(t, "GetByUID of the new uid", got, rec)

	// Dropping the UID drops its index entry.
	rec.UID = ""
	put(t, s, rec)
	_, err = s.GetByUID(ctx, kindA, "new-uid")
	checkNotFound(t, "GetByUID after the uid was removed", err)

	// The old UID is free for another record.
	other := plain(kindA, "other", "x")
	other.UID = "old-uid"
	put(t, s, other)
	got, err = s.GetByUID(ctx, kindA, "old-uid")
	if err != nil || got.ID != "other" {
		t.Fatalf("GetByUID of a reused uid = %q, %v; want record \"other\"", got.ID, err)
	}
}

func testGrantMoves(t *testing.T, s provider.Store) {
	ctx := context.Background()
	rec := plain(kindA, "moving", "v1")
	rec.GrantID = "grant-1"
	put(t, s, rec)
	rec.GrantID = "grant-2"
	put(t, s, rec)

	removed, err := s.DeleteByGrant(ctx, "grant-1")
	if err != nil {
		t.Fatalf("DeleteByGrant(old grant): %v", err)
	}
	checkRemoved(t, "grant-1", removed)
	checkGet(t, s, rec)

	removed, err = s.DeleteByGrant(ctx, "grant-2")
	if err != nil {
		t.Fatalf("DeleteByGrant(new grant): %v", err)
	}
	checkRemoved(t, "grant-2", removed, rec)
	checkAbsent(t, s, kindA, "moving", "")
}

// testExpiry crosses real deadlines. They sit just before and just after
// whole seconds, so a backend whose own expiry works in whole seconds fails
// both ways: rounding down hides the first record early, rounding up shows the
// second one late.
func testExpiry(t *testing.T, s provider.Store) {
	ctx := context.Background()
	base := time.Now().Truncate(time.Second)
	early := full(kindA, "early")
	early.ConsumedAt = time.Time{}
	early.ExpiresAt = base.Add(1950 * time.Millisecond) // ~1.5 s away on average
	late := full(kindB, "late")
	late.ConsumedAt = time.Time{}
	late.ExpiresAt = base.Add(2001 * time.Millisecond)
	late.GrantID = early.GrantID
	keep := plain(kindC, "keep", "no expiry")
	keep.GrantID = early.GrantID
	for _, r := range []provider.Record{early, late, keep} {
		put(t, s, r)
	}

	// Both must still be there well before the deadline. A miss counts only
	// if the read finished before the deadline: on an overloaded machine the
	// sleep may overshoot it, and then a miss is correct.
	sleepUntil(base.Add(1300 * time.Millisecond))
	present := func(what string, r provider.Record, get func() (provider.Record, error)) {
		t.Helper()
		got, err := get()
		if err == nil {
			checkRecord(t, what, got, r)
			return
		}
		if time.Now().Before(r.ExpiresAt) {
			t.Errorf("%s of %q %v before its ExpiresAt: %v", what, r.ID, time.Until(r.ExpiresAt), err)
			return
		}
		t.Fatalf("%s of %q ran after its ExpiresAt: the machine is too loaded for this test to conclude", what, r.ID)
	}
	for _, r := range []provider.Record{early, late} {
		present("Get", r, func() (provider.Record, error) { return s.Get(ctx, r.Kind, r.ID) })
		present("GetByUID", r, func() (provider.Record, error) { return s.GetByUID(ctx, r.Kind, r.UID) })
	}
	if t.Failed() {
		t.FailNow()
	}

	sleepUntil(late.ExpiresAt.Add(30 * time.Millisecond))
	for _, r := range []provider.Record{early, late} {
		checkAbsent(t, s, r.Kind, r.ID, r.UID)
		_, err := s.Update(ctx, r.Kind, r.ID, func(*provider.Record) error {
			t.Errorf("Update(%s) ran fn on an expired record", r.ID)
			return nil
		})
		checkNotFound(t, "Update of an expired record", err)
		_, err = s.Consume(ctx, r.Kind, r.ID, time.Now())
		checkNotFound(t, "Consume of an expired record", err)
		err = s.Delete(ctx, r.Kind, r.ID)
		checkNotFound(t, "Delete of an expired record", err)
	}
	// Neither the calls above nor DeleteByGrant may bring them back.
	removed, err := s.DeleteByGrant(ctx, early.GrantID)
	if err != nil {
		t.Fatalf("DeleteByGrant: %v", err)
	}
	checkRemoved(t, early.GrantID, removed, keep)

	// A key freed by expiry takes a new record.
	fresh := plain(kindA, "early", "fresh")
	put(t, s, fresh)
	checkGet(t, s, fresh)
}

func testExpiresInPast(t *testing.T, s provider.Store) {
	ctx := context.Background()
	rec := full(kindA, "past")
	rec.ExpiresAt = time.Now().Add(-time.Second)
	put(t, s, rec)
	checkAbsent(t, s, kindA, "past", rec.UID)
	removed, err := s.DeleteByGrant(ctx, rec.GrantID)
	if err != nil {
		t.Fatalf("DeleteByGrant: %v", err)
	}
	checkRemoved(t, rec.GrantID, removed)

	// Replacing a live record with an expired one leaves nothing behind.
	liveRec := full(kindA, "replaced")
	put(t, s, liveRec)
	dead := liveRec
	dead.ExpiresAt = time.Now().Add(-time.Millisecond)
	put(t, s, dead)
	checkAbsent(t, s, kindA, "replaced", liveRec.UID)
	removed, err = s.DeleteByGrant(ctx, liveRec.GrantID)
	if err != nil {
		t.Fatalf("DeleteByGrant: %v", err)
	}
	checkRemoved(t, liveRec.GrantID, removed)
}

func testUpdate(t *testing.T, s provider.Store) {
	ctx := context.Background()
	rec := full(kindA, "update")
	rec.ConsumedAt = time.Time{}
	put(t, s, rec)

	want := rec
	want.Payload = []byte("updated")
	want.UID = "updated-uid"
	want.GrantID = "updated-grant"
	want.ExpiresAt = rec.ExpiresAt.Add(time.Hour)
	got, err := s.Update(ctx, kindA, "update", func(r *provider.Record) error {
		if d := diff(*r, rec); d != "" {
			t.Errorf("fn received %s", d)
		}
		r.Payload = append(r.Payload[:0], "updated"...)
		r.UID = want.UID
		r.GrantID = want.GrantID
		r.ExpiresAt = want.ExpiresAt
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	checkRecord(t, "Update result", got, want)
	checkGet(t, s, want)

	// The indexes followed the change.
	_, err = s.GetByUID(ctx, kindA, rec.UID)
	checkNotFound(t, "GetByUID of the uid before Update", err)
	if got, err := s.GetByUID(ctx, kindA, want.UID); err != nil || diff(got, want) != "" {
		t.Errorf("GetByUID of the uid set by Update = %q, %v", got.ID, err)
	}
	removed, err := s.DeleteByGrant(ctx, rec.GrantID)
	if err != nil {
		t.Fatal(err)
	}
	checkRemoved(t, rec.GrantID, removed)
	removed, err = s.DeleteByGrant(ctx, want.GrantID)
	if err != nil {
		t.Fatal(err)
	}
	checkRemoved(t, want.GrantID, removed, want)
}

func testUpdateErrorAborts(t *testing.T, s provider.Store) {
	ctx := context.Background()
	rec := full(kindA, "abort")
	put(t, s, rec)
	errAbort := errors.New("storetest: abort")
	_, err := s.Update(ctx, kindA, "abort", func(r *provider.Record) error {
		r.Payload = []byte("must not be written")
		r.UID = "must-not-be-indexed"
		r.ExpiresAt = time.Time{}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	checkGet(t, s, rec)
	_, err = s.GetByUID(ctx, kindA, "must-not-be-indexed")
	checkNotFound(t, "GetByUID of a uid from an aborted Update", err)
}

func testUpdateMissing(t *testing.T, s provider.Store) {
	called := false
	_, err := s.Update(context.Background(), kindA, "missing", func(*provider.Record) error {
		called = true
		return nil
	})
	checkNotFound(t, "Update of a missing record", err)
	if called {
		t.Error("Update ran fn for a missing record")
	}
	_, err = s.Get(context.Background(), kindA, "missing")
	checkNotFound(t, "Get after Update of a missing record", err)
}

func testConsume(t *testing.T, s provider.Store) {
	ctx := context.Background()
	rec := full(kindA, "code")
	rec.ConsumedAt = time.Time{}
	put(t, s, rec)
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	got, err := s.Consume(ctx, kindA, "code", at)
	if err != nil {
		t.Fatalf("Consume: %v", err)
	}
	want := rec
	want.ConsumedAt = at
	checkRecord(t, "Consume result", got, want)
	checkGet(t, s, want)
	if byUID, err := s.GetByUID(ctx, kindA, rec.UID); err != nil || diff(byUID, want) != "" {
		t.Errorf("GetByUID after Consume = %q, %v; want the consumed record", byUID.ID, err)
	}
	removed, err := s.DeleteByGrant(ctx, rec.GrantID)
	if err != nil {
		t.Fatal(err)
	}
	checkRemoved(t, rec.GrantID, removed, want)
}

func testConsumeTwice(t *testing.T, s provider.Store) {
	ctx := context.Background()
	rec := full(kindA, "code")
	rec.ConsumedAt = time.Time{}
	put(t, s, rec)
	first := time.Now()
	if _, err := s.Consume(ctx, kindA, "code", first); err != nil {
		t.Fatalf("first Consume: %v", err)
	}
	got, err := s.Consume(ctx, kindA, "code", first.Add(time.Second))
	if !errors.Is(err, provider.ErrAlreadyConsumed) {
		t.Fatalf("second Consume: %v, want ErrAlreadyConsumed", err)
	}
	want := rec
	want.ConsumedAt = first
	checkRecord(t, "second Consume's record", got, want)
	checkGet(t, s, want)
}

func testConsumeMissing(t *testing.T, s provider.Store) {
	_, err := s.Consume(context.Background(), kindA, "missing", time.Now())
	checkNotFound(t, "Consume of a missing record", err)
	_, err = s.Get(context.Background(), kindA, "missing")
	checkNotFound(t, "Get after Consume of a missing record", err)
}

func testDelete(t *testing.T, s provider.Store) {
	ctx := context.Background()
	rec := full(kindA, "doomed")
	put(t, s, rec)
	bystander := full(kindA, "bystander")
	bystander.GrantID = rec.GrantID
	put(t, s, bystander)

	if err := s.Delete(ctx, kindA, "doomed"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkAbsent(t, s, kindA, "doomed", rec.UID)
	checkGet(t, s, bystander)
	checkNotFound(t, "second Delete", s.Delete(ctx, kindA, "doomed"))
	removed, err := s.DeleteByGrant(ctx, rec.GrantID)
	if err != nil {
		t.Fatal(err)
	}
	checkRemoved(t, rec.GrantID, removed, bystander)

	// The key and UID are free again.
	put(t, s, rec)
	checkGet(t, s, rec)
	if got, err := s.GetByUID(ctx, kindA, rec.UID); err != nil || diff(got, rec) != "" {
		t.Errorf("GetByUID after re-Put = %q, %v", got.ID, err)
	}
}

func testDeleteMissing(t *testing.T, s provider.Store) {
	ctx := context.Background()
	checkNotFound(t, "Delete of a missing record", s.Delete(ctx, kindA, "missing"))
	put(t, s, plain(kindB, "elsewhere", "x"))
	checkNotFound(t, "Delete in the wrong kind", s.Delete(ctx, kindA, "elsewhere"))
	checkGet(t, s, plain(kindB, "elsewhere", "x"))
}

func testDeleteByGrant(t *testing.T, s provider.Store) {
	ctx := context.Background()
	var inGrant []provider.Record
	for i, kind := range []provider.Kind{kindA, kindB, kindC, kindA} {
		r := full(kind, "member-"+strconv.Itoa(i))
		r.GrantID = "grant"
		if i == 3 {
			r.ConsumedAt = time.Time{}
			r.UID = ""
			r.ExpiresAt = time.Time{}
		}
		inGrant = append(inGrant, r)
		put(t, s, r)
	}
	var others []provider.Record
	for i, g := range []string{"grant2", "gran", "other", ""} {
		r := full(kindA, "outsider-"+strconv.Itoa(i))
		r.GrantID = g
		others = append(others, r)
		put(t, s, r)
	}

	removed, err := s.DeleteByGrant(ctx, "grant")
	if err != nil {
		t.Fatalf("DeleteByGrant: %v", err)
	}
	checkRemoved(t, "grant", removed, inGrant...)
	for _, r := range inGrant {
		checkAbsent(t, s, r.Kind, r.ID, r.UID)
	}
	for _, r := range others {
		checkGet(t, s, r)
	}

	removed, err = s.DeleteByGrant(ctx, "grant")
	if err != nil {
		t.Fatalf("second DeleteByGrant: %v", err)
	}
	checkRemoved(t, "grant", removed)
	removed, err = s.DeleteByGrant(ctx, "no-such-grant")
	if err != nil {
		t.Fatalf("DeleteByGrant of an unknown grant: %v", err)
	}
	checkRemoved(t, "no-such-grant", removed)
	for _, r := range others {
		checkGet(t, s, r)
	}
}

// testDeleteByGrantLarge revokes a grant with more records than a backend
// would sensibly delete in one transaction.
func testDeleteByGrantLarge(t *testing.T, s provider.Store) {
	const n = 1200
	ctx := context.Background()
	want := make([]provider.Record, 0, n)
	for i := range n {
		kind := []provider.Kind{kindA, kindB, kindC}[i%3]
		r := provider.Record{
			Kind:    kind,
			ID:      fmt.Sprintf("large-%04d-%0100d", i, 0),
			UID:     fmt.Sprintf("large-uid-%04d", i),
			GrantID: "large",
			Payload: bytes.Repeat([]byte{byte(i)}, 512),
		}
		want = append(want, r)
		put(t, s, r)
	}
	outsider := plain(kindA, "outsider", "x")
	outsider.GrantID = "large2"
	put(t, s, outsider)

	removed, err := s.DeleteByGrant(ctx, "large")
	if err != nil {
		t.Fatalf("DeleteByGrant: %v", err)
	}
	checkRemoved(t, "large", removed, want...)
	for _, r := range want[:5] {
		checkAbsent(t, s, r.Kind, r.ID, r.UID)
	}
	checkAbsent(t, s, want[n-1].Kind, want[n-1].ID, want[n-1].UID)
	checkGet(t, s, outsider)
	removed, err = s.DeleteByGrant(ctx, "large")
	if err != nil {
		t.Fatal(err)
	}
	checkRemoved(t, "large", removed)
}

func testCanceledContext(t *testing.T, s provider.Store) {
	live := full(kindA, "live")
	live.ConsumedAt = time.Time{}
	put(t, s, live)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: %v, want context.Canceled", op, err)
		}
	}
	check("Put", s.Put(ctx, plain(kindA, "new", "x"), true))
	_, err := s.Get(ctx, kindA, "live")
	check("Get", err)
	_, err = s.GetByUID(ctx, kindA, live.UID)
	check("GetByUID", err)
	_, err = s.Update(ctx, kindA, "live", func(r *provider.Record) error {
		r.Payload = []byte("changed")
		return nil
	})
	check("Update", err)
	_, err = s.Consume(ctx, kindA, "live", time.Now())
	check("Consume", err)
	check("Delete", s.Delete(ctx, kindA, "live"))
	_, err = s.DeleteByGrant(ctx, live.GrantID)
	check("DeleteByGrant", err)

	// None of them did anything.
	_, err = s.Get(context.Background(), kindA, "new")
	checkNotFound(t, "Get of a record Put with a canceled context", err)
	checkGet(t, s, live)
}

// PersistentOpenFunc opens the store kept in dir, creating it if needed. The
// store must implement io.Closer; the suite closes it itself and reopens the
// same dir, so Close must also tolerate a second call from a cleanup that
// open registered.
type PersistentOpenFunc func(t *testing.T, dir string) provider.Store

// RunPersistence checks that what a store acknowledged survives a clean Close
// and reopening its directory: records with every field, consumption,
// deletions, and the UID and grant indexes. Durable writes are what the
// contract promises; non-durable ones are checked too, because a clean
// shutdown that loses writes is a bug even where a crash may lose them.
func RunPersistence(t *testing.T, open PersistentOpenFunc) {
	ctx := context.Background()
	dir := t.TempDir()
	closeStore := func(s provider.Store) {
		t.Helper()
		c, ok := s.(io.Closer)
		if !ok {
			t.Fatalf("%T does not implement io.Closer; the persistence suite cannot restart it", s)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}

	s := open(t, dir)
	durable := full(kindA, "durable")
	lazy := full(kindB, "lazy")
	lazy.GrantID = durable.GrantID
	code := full(kindC, "code")
	code.ConsumedAt = time.Time{}
	gone := full(kindA, "gone")
	for _, w := range []struct {
		rec     provider.Record
		durable bool
	}{{durable, true}, {lazy, false}, {code, true}, {gone, true}} {
		if err := s.Put(ctx, w.rec, w.durable); err != nil {
			t.Fatalf("Put(%s): %v", w.rec.ID, err)
		}
	}
	at := time.Now()
	if _, err := s.Consume(ctx, kindC, "code", at); err != nil {
		t.Fatalf("Consume: %v", err)
	}
	code.ConsumedAt = at
	if err := s.Delete(ctx, kindA, "gone"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	closeStore(s)

	s = open(t, dir)
	checkGet(t, s, durable)
	checkGet(t, s, lazy)
	checkGet(t, s, code)
	checkAbsent(t, s, kindA, "gone", gone.UID)
	if _, err := s.Consume(ctx, kindC, "code", time.Now()); !errors.Is(err, provider.ErrAlreadyConsumed) {
		t.Errorf("Consume after restart: %v, want ErrAlreadyConsumed", err)
	}
	if got, err := s.GetByUID(ctx, kindA, durable.UID); err != nil || diff(got, durable) != "" {
		t.Errorf("GetByUID after restart = %q, %v", got.ID, err)
	}
	removed, err := s.DeleteByGrant(ctx, durable.GrantID)
	if err != nil {
		t.Fatalf("DeleteByGrant after restart: %v", err)
	}
	checkRemoved(t, durable.GrantID, removed, durable, lazy)
	closeStore(s)

	s = open(t, dir)
	checkAbsent(t, s, kindA, "durable", durable.UID)
	checkAbsent(t, s, kindB, "lazy", lazy.UID)
	checkGet(t, s, code)
	closeStore(s)
}

// Create inserts only where no live record is; an expired one does not count.
func testCreate(t *testing.T, s provider.Store) {
	ctx := context.Background()
	rec := plain(kindA, "jti-1", "first")
	rec.UID, rec.GrantID = "uid-1", "grant-1"
	if err := s.Create(ctx, rec, true); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if got := get(t, s, kindA, "jti-1"); string(got.Payload) != "first" {
		t.Fatalf("payload = %q", got.Payload)
	}
	if got, err := s.GetByUID(ctx, kindA, "uid-1"); err != nil || got.ID != "jti-1" {
		t.Fatalf("Create did not index the UID: %v %v", got, err)
	}
	again := plain(kindA, "jti-1", "second")
	if err := s.Create(ctx, again, false); !errors.Is(err, provider.ErrAlreadyExists) {
		t.Fatalf("second Create: %v, want ErrAlreadyExists", err)
	}
	if got := get(t, s, kindA, "jti-1"); string(got.Payload) != "first" {
		t.Fatalf("a refused Create changed the record: %q", got.Payload)
	}
	if err := s.Create(ctx, plain(kindB, "jti-1", "other kind"), false); err != nil {
		t.Fatalf("Create of the same id in another kind: %v", err)
	}
	removed, err := s.DeleteByGrant(ctx, "grant-1")
	if err != nil || len(removed) != 1 {
		t.Fatalf("Create did not index the grant: %v %v", removed, err)
	}
	expired := plain(kindA, "jti-2", "old")
	expired.ExpiresAt = time.Now().Add(-time.Second)
	put(t, s, expired)
	if err := s.Create(ctx, plain(kindA, "jti-2", "new"), false); err != nil {
		t.Fatalf("Create over an expired record: %v", err)
	}
}
