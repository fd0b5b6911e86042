package badgerstore

import (
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/store/storetest"
)

// BenchmarkStore runs the backends' shared benchmarks (storetest.Benchmark)
// on a directory on disk, reporting the fsyncs the parallel durable writers
// shared (syncs/op below 1 is group commit).
func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) provider.Store {
		return openT(b, Options{Dir: b.TempDir()})
	}, func(b *testing.B, s provider.Store) {
		b.ReportMetric(float64(s.(*Store).dbSyncs.Load())/float64(b.N), "syncs/op")
	})
}

// BenchmarkCodec isolates the record encoding from Badger.
func BenchmarkCodec(b *testing.B) {
	r := storetest.BenchRecord(1)
	r.ConsumedAt = time.Now()
	b.ReportAllocs()
	for b.Loop() {
		var got provider.Record
		if err := decodeRecord(encodeRecord(&r), &got); err != nil {
			b.Fatal(err)
		}
	}
}
