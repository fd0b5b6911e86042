package memstore

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// Expired records that nobody reads again must not stay in memory: a test
// process creating many short-lived records would otherwise only grow.
func TestExpiredRecordsAreSwept(t *testing.T) {
	ctx := context.Background()
	s := New()
	soon := time.Now().Add(20 * time.Millisecond)
	for i := range 100 {
		id := "short-" + strconv.Itoa(i)
		rec := provider.Record{Kind: provider.KindAccessToken, ID: id, UID: "uid-" + id, GrantID: "grant", ExpiresAt: soon}
		if err := s.Put(ctx, rec, false); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Until(soon) + 5*time.Millisecond)
	for i := range minSweepInterval {
		if err := s.Put(ctx, provider.Record{Kind: provider.KindSession, ID: "keep-" + strconv.Itoa(i)}, false); err != nil {
			t.Fatal(err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.records) != minSweepInterval {
		t.Errorf("%d records held, want the %d live ones", len(s.records), minSweepInterval)
	}
	if len(s.uids) != 0 || len(s.grants) != 0 {
		t.Errorf("index entries of expired records remain: %d uids, %d grants", len(s.uids), len(s.grants))
	}
}
