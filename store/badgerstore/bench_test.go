package badgerstore

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

// benchRecord looks like an access token record: a hashed ID, a grant, an
// expiry, and a payload the size of a serialised token.
func benchRecord(i int) provider.Record {
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
		recs[i] = benchRecord(i)
	}
	return recs
}

func benchStore(b *testing.B, recs []provider.Record) *Store {
	b.Helper()
	s := openT(b, Options{Dir: b.TempDir()})
	for _, r := range recs {
		if err := s.Put(context.Background(), r, false); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func benchPut(b *testing.B, durable bool) {
	recs := benchRecords(b.N)
	s := benchStore(b, nil)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := s.Put(ctx, recs[i], durable); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPut(b *testing.B)        { benchPut(b, false) }
func BenchmarkPutDurable(b *testing.B) { benchPut(b, true) }

func BenchmarkGet(b *testing.B) {
	recs := benchRecords(4096)
	s := benchStore(b, recs)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := &recs[i%len(recs)]
		if _, err := s.Get(ctx, r.Kind, r.ID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetByUID(b *testing.B) {
	recs := benchRecords(4096)
	s := benchStore(b, recs)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := &recs[i%len(recs)]
		if _, err := s.GetByUID(ctx, r.Kind, r.UID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConsume includes the fsync every Consume pays.
func BenchmarkConsume(b *testing.B) {
	recs := benchRecords(b.N)
	s := benchStore(b, recs)
	ctx := context.Background()
	at := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := &recs[i]
		if _, err := s.Consume(ctx, r.Kind, r.ID, at); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCodec isolates the record encoding from Badger.
func BenchmarkCodec(b *testing.B) {
	r := benchRecord(1)
	r.ConsumedAt = time.Now()
	b.ReportAllocs()
	for b.Loop() {
		var got provider.Record
		if err := decodeRecord(encodeRecord(&r), &got); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutDurableParallel shows group commit: concurrent durable writers
// share fsyncs (syncs/op below 1).
func BenchmarkPutDurableParallel(b *testing.B) {
	recs := benchRecords(b.N + 64)
	s := benchStore(b, nil)
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
	b.ReportMetric(float64(s.dbSyncs.Load())/float64(b.N), "syncs/op")
}

// BenchmarkUpdate is a durable read-modify-write, as a refresh token
// rotation or a grant extension does.
func BenchmarkUpdate(b *testing.B) {
	recs := benchRecords(4096)
	s := benchStore(b, recs)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := &recs[i%len(recs)]
		if _, err := s.Update(ctx, r.Kind, r.ID, func(rec *provider.Record) error {
			rec.Payload[0]++
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}
