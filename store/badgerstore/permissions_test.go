package badgerstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// The database holds hashed tokens, sessions and sealed secrets: nobody but
// the server's user has any business reading it. A directory that already
// exists with a looser mode (made by hand, or by an older version) is
// tightened to 0700, and every file Badger wrote is 0600 once Open, a GC pass
// or Close has run; Badger itself creates files 0666 minus the umask.
func TestStorageFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "oidc")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	for round := range 2 {
		s, err := Open(Options{Dir: dir, GCInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		checkPrivate(t, dir, fmt.Sprintf("round %d, after Open", round))
		// Enough records to flush a memtable into a new table file.
		for i := range 2000 {
			rec := provider.Record{Kind: provider.KindSession, ID: fmt.Sprintf("r%d-%d", round, i), Payload: make([]byte, 4096), ExpiresAt: time.Now().Add(time.Hour)}
			if err := s.Put(context.Background(), rec, false); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		checkPrivate(t, dir, fmt.Sprintf("round %d, after Close", round))
		// Loosen everything again: the next Open must tighten it.
		filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err == nil {
				mode := os.FileMode(0o644)
				if d.IsDir() {
					mode = 0o755
				}
				os.Chmod(path, mode)
			}
			return nil
		})
	}
}

func checkPrivate(t *testing.T, dir, when string) {
	t.Helper()
	files := 0
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		want := os.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		} else {
			files++
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s: %s has mode %o, want %o", when, path, got, want)
		}
		return nil
	})
	if files == 0 {
		t.Fatalf("%s: no files in %s", when, dir)
	}
}
