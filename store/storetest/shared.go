package storetest

import (
	"context"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

// SharedOpenFunc returns two independent store handles (each with its own
// connections, as two processes would have) on one fresh, empty database.
// It should register its own cleanup.
type SharedOpenFunc func(t *testing.T) (a, b provider.Store)

// RunShared checks what several instances of the provider sharing one
// database rely on: what one handle writes the other reads, and the atomic
// operations stay atomic across handles: exactly one Consume and one Create
// win, no Update is lost.
//
// It applies to backends that can open one database twice (Postgres). Badger
// cannot: it locks its directory to one process, so it does not run these.
func RunShared(t *testing.T, open SharedOpenFunc) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b provider.Store)
	}{
		{"WritesVisibleAcross", testSharedVisible},
		{"ConsumeAcross", testSharedConsume},
		{"CreateAcross", testSharedCreate},
		{"UpdateAcross", testSharedUpdate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := open(t)
			tc.fn(t, a, b)
		})
	}
}

func testSharedVisible(t *testing.T, a, b provider.Store) {
	ctx := context.Background()
	rec := full(kindA, "shared")
	put(t, a, rec)
	checkGet(t, b, rec)
	if got, err := b.GetByUID(ctx, kindA, rec.UID); err != nil || diff(got, rec) != "" {
		t.Errorf("GetByUID on the other handle = %q, %v; want the record", got.ID, err)
	}

	// A UID taken over on one handle moves for both.
	thief := plain(kindA, "thief", "x")
	thief.UID = rec.UID
	put(t, b, thief)
	if got, err := a.GetByUID(ctx, kindA, rec.UID); err != nil || got.ID != "thief" {
		t.Errorf("after the other handle took the UID, GetByUID = %q, %v; want \"thief\"", got.ID, err)
	}

	if err := b.Delete(ctx, kindA, "shared"); err != nil {
		t.Fatalf("Delete on the other handle: %v", err)
	}
	checkAbsent(t, a, kindA, "shared", "")

	member := plain(kindB, "member", "m")
	member.GrantID = "shared-grant"
	put(t, a, member)
	removed, err := b.DeleteByGrant(ctx, "shared-grant")
	if err != nil {
		t.Fatalf("DeleteByGrant on the other handle: %v", err)
	}
	checkRemoved(t, "shared-grant", removed, member)
	checkAbsent(t, a, kindB, "member", "")
}

func testSharedConsume(t *testing.T, a, b provider.Store) {
	raceConsume(t, "shared-code", a, b)
}

func testSharedCreate(t *testing.T, a, b provider.Store) {
	raceCreate(t, "shared-jti", a, b)
}

func testSharedUpdate(t *testing.T, a, b provider.Store) {
	raceUpdate(t, "shared-counter", 10, a, b)
}
