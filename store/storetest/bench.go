package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// BenchOpen returns an empty store for one benchmark; the backend closes it
// in b.Cleanup.
type BenchOpen func(b *testing.B) provider.Store

// Benchmark runs the benchmarks every backend shares, with the same records
// and names, so backends compare as ratios in one run
// (docs/performance.md): `go test -bench Store/ ./store/...`. afterParallel,
// when set, may report backend metrics of the parallel durable writers (as
// badgerstore reports its fsyncs per write).
func Benchmark(b *testing.B, open BenchOpen, afterParallel func(*testing.B, provider.Store)) {
	b.Run("Put", func(b *testing.B) { benchPut(b, open, false) })
	b.Run("PutDurable", func(b *testing.B) { benchPut(b, open, true) })
	b.Run("Get", func(b *testing.B) {
		benchEach(b, open, func(ctx context.Context, s provider.Store, r *provider.Record) error {
			_, err := s.Get(ctx, r.Kind, r.ID)
			return err
		})
	})
	b.Run("GetByUID", func(b *testing.B) {
		benchEach(b, open, func(ctx context.Context, s provider.Store, r *provider.Record) error {
			_, err := s.GetByUID(ctx, r.Kind, r.UID)
			return err
		})
	})
	// Consume and Update are durable by contract: they include the sync.
	b.Run("Consume", func(b *testing.B) {
		at := time.Now()
		recs := benchRecords(b.N)
		s := filled(b, open, recs)
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if _, err := s.Consume(ctx, recs[i].Kind, recs[i].ID, at); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Update", func(b *testing.B) {
		benchEach(b, open, func(ctx context.Context, s provider.Store, r *provider.Record) error {
			_, err := s.Update(ctx, r.Kind, r.ID, func(rec *provider.Record) error {
				rec.Payload[0]++
				return nil
			})
			return err
		})
	})
	// Concurrent durable writers show group commit: they share syncs.
	b.Run("PutDurableParallel", func(b *testing.B) {
		recs := benchRecords(b.N + 64)
		s := filled(b, open, nil)
		ctx := context.Background()
		var next atomic.Int64
		b.SetParallelism(16)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.Put(ctx, recs[next.Add(1)-1], true); err != nil {
					b.Error(err)
					return
				}
			}
		})
		if afterParallel != nil {
			afterParallel(b, s)
		}
	})
}

// BenchRecord looks like an access token record: a hashed ID, a UID, a
// grant, an expiry, and a payload the size of a serialised token.
func BenchRecord(i int) provider.Record {
	sum := sha256.Sum256([]byte(strconv.Itoa(i)))
	id := base64.RawURLEncoding.EncodeToString(sum[:])
	payload := make([]byte, 320)
	for j := range payload {
		payload[j] = byte('a' + j%26)
	}
	return provider.Record{
		Kind:      provider.KindAccessToken,
		ID:        id,
		UID:       "uid-" + id[:16],
		GrantID:   "grant-" + strconv.Itoa(i/4),
		Payload:   payload,
		ExpiresAt: time.Now().Add(time.Hour),
	}
}

func benchRecords(n int) []provider.Record {
	recs := make([]provider.Record, n)
	for i := range recs {
		recs[i] = BenchRecord(i)
	}
	return recs
}

func filled(b *testing.B, open BenchOpen, recs []provider.Record) provider.Store {
	b.Helper()
	s := open(b)
	for _, r := range recs {
		if err := s.Put(context.Background(), r, false); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func benchPut(b *testing.B, open BenchOpen, durable bool) {
	recs := benchRecords(b.N)
	s := filled(b, open, nil)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := s.Put(ctx, recs[i], durable); err != nil {
			b.Fatal(err)
		}
	}
}

// benchEach runs op on the records of a store holding 4096 of them, in turn.
func benchEach(b *testing.B, open BenchOpen, op func(context.Context, provider.Store, *provider.Record) error) {
	recs := benchRecords(4096)
	s := filled(b, open, recs)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := op(ctx, s, &recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
}
