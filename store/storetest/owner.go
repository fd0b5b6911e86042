package storetest

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// listAll pages through ListByOwner with the given page size and returns
// every record, failing on a page that is out of order or repeats an ID.
func listAll(t *testing.T, s provider.Store, kind provider.Kind, owner string, pageSize int) []provider.Record {
	t.Helper()
	var all []provider.Record
	after := ""
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatalf("ListByOwner(%s, %q): paging does not end", kind, owner)
		}
		page, err := s.ListByOwner(context.Background(), kind, owner, after, pageSize)
		if err != nil {
			t.Fatalf("ListByOwner(%s, %q, after %q): %v", kind, owner, after, err)
		}
		if len(page) > pageSize {
			t.Fatalf("ListByOwner(%s, %q): page of %d records, limit %d", kind, owner, len(page), pageSize)
		}
		for _, r := range page {
			if r.ID <= after {
				t.Fatalf("ListByOwner(%s, %q, after %q) returned %q: not in ascending order after the cursor", kind, owner, after, r.ID)
			}
			after = r.ID
		}
		all = append(all, page...)
		if len(page) < pageSize {
			return all
		}
	}
}

func checkListed(t *testing.T, what string, got []provider.Record, want ...provider.Record) {
	t.Helper()
	if len(got) != len(want) {
		ids := make([]string, len(got))
		for i, r := range got {
			ids[i] = r.ID
		}
		t.Fatalf("%s: listed %d records %q, want %d", what, len(got), ids, len(want))
	}
	for i := range want {
		checkRecord(t, fmt.Sprintf("%s[%d]", what, i), got[i], want[i])
	}
}

// testListByOwner: only live records of the kind and owner asked for, whole,
// in ID order; expired, deleted and revoked-by-grant ones are gone at once.
func testListByOwner(t *testing.T, s provider.Store) {
	ctx := context.Background()
	var mine []provider.Record
	for _, id := range []string{"m-3", "m-1", "m-2"} {
		r := full(kindA, id)
		r.Owner = "client-1"
		r.GrantID = "grant-" + id
		r.ConsumedAt = time.Time{}
		put(t, s, r)
		mine = append(mine, r)
	}
	mine = []provider.Record{mine[1], mine[2], mine[0]} // ascending IDs
	// Other owners (including ones that share a prefix), another kind with
	// the same owner, and records without an owner are never listed.
	for i, o := range []string{"client-10", "client-", "client", ""} {
		r := full(kindA, "other-"+strconv.Itoa(i))
		r.Owner = o
		put(t, s, r)
	}
	sameOwnerOtherKind := full(kindB, "m-1")
	sameOwnerOtherKind.Owner = "client-1"
	put(t, s, sameOwnerOtherKind)

	checkListed(t, "ListByOwner(client-1)", listAll(t, s, kindA, "client-1", 100), mine...)
	checkListed(t, "ListByOwner(kindB, client-1)", listAll(t, s, kindB, "client-1", 100), sameOwnerOtherKind)
	checkListed(t, "ListByOwner(nobody)", listAll(t, s, kindA, "nobody", 100))

	// Delete, DeleteByGrant and Consume keep the index in step.
	if err := s.Delete(ctx, kindA, "m-1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.DeleteByGrant(ctx, "grant-m-3"); err != nil {
		t.Fatalf("DeleteByGrant: %v", err)
	}
	consumed, err := s.Consume(ctx, kindA, "m-2", time.Now())
	if err != nil {
		t.Fatalf("Consume: %v", err)
	}
	checkListed(t, "ListByOwner after Delete and DeleteByGrant", listAll(t, s, kindA, "client-1", 100), consumed)

	// An expired record is not listed, whether or not it is still on disk.
	short := plain(kindA, "m-0-short", "expires")
	short.Owner = "client-1"
	short.ExpiresAt = time.Now().Add(300 * time.Millisecond)
	put(t, s, short)
	time.Sleep(time.Until(short.ExpiresAt) + 50*time.Millisecond)
	checkListed(t, "ListByOwner after expiry", listAll(t, s, kindA, "client-1", 100), consumed)
}

// testListByOwnerPages: paging returns every record exactly once whatever the
// page size, and a cursor that is not itself a listed ID still works.
func testListByOwnerPages(t *testing.T, s provider.Store) {
	const n = 250
	want := make([]provider.Record, 0, n)
	for i := range n {
		r := plain(kindA, fmt.Sprintf("g-%04d", i), "grant "+strconv.Itoa(i))
		r.Owner = "big-client"
		put(t, s, r)
		want = append(want, r)
	}
	for _, size := range []int{1, 7, 100, n, n + 1} {
		checkListed(t, fmt.Sprintf("ListByOwner pages of %d", size), listAll(t, s, kindA, "big-client", size), want...)
	}
	page, err := s.ListByOwner(context.Background(), kindA, "big-client", "g-0099x", 3)
	if err != nil {
		t.Fatalf("ListByOwner after a cursor between IDs: %v", err)
	}
	checkListed(t, "ListByOwner after g-0099x", page, want[100:103]...)
}

// testOwnerMoves: a record rewritten with another owner is listed under the
// new one only.
func testOwnerMoves(t *testing.T, s provider.Store) {
	rec := plain(kindA, "moving-owner", "v1")
	rec.Owner = "owner-1"
	put(t, s, rec)
	rec.Owner = "owner-2"
	rec.Payload = []byte("v2")
	put(t, s, rec)
	checkListed(t, "ListByOwner(old owner)", listAll(t, s, kindA, "owner-1", 10))
	checkListed(t, "ListByOwner(new owner)", listAll(t, s, kindA, "owner-2", 10), rec)

	rec.Owner = ""
	put(t, s, rec)
	checkListed(t, "ListByOwner after the owner is cleared", listAll(t, s, kindA, "owner-2", 10))

	updated, err := s.Update(context.Background(), kindA, rec.ID, func(r *provider.Record) error {
		r.Owner = "owner-3"
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	checkListed(t, "ListByOwner after Update set the owner", listAll(t, s, kindA, "owner-3", 10), updated)
}
