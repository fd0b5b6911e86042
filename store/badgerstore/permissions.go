package badgerstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The database holds hashed tokens and codes, sessions, users' claims and
// sealed client secrets: only the server's own user may read it. Badger
// creates its directory 0700 but its files 0666 minus the umask (0644 as a
// rule) and never touches the mode of a directory that already exists, and
// changing the process umask would change it for all of Caddy. So the store
// sets the modes itself: the directory 0700 before Badger opens it (which
// alone keeps other users out of every file in it), and the files 0600 after
// Open, after every GC pass and after Close, so that copies and backups of
// the files keep a private mode too.
const (
	privateDirMode  fs.FileMode = 0o700
	privateFileMode fs.FileMode = 0o600
)

// prepareDir creates dir, or tightens an existing one, to privateDirMode.
func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, privateDirMode); err != nil {
		return fmt.Errorf("badgerstore: creating %s: %w", dir, err)
	}
	if err := os.Chmod(dir, privateDirMode); err != nil {
		return fmt.Errorf("badgerstore: making %s private (mode 0700): %w", dir, err)
	}
	return nil
}

// makePrivate sets privateFileMode on every file below dir and
// privateDirMode on every directory, including dir itself. Files Badger
// removes meanwhile (compaction, GC) are skipped.
func makePrivate(dir string) error {
	var errs []error
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		want := privateFileMode
		switch {
		case d.IsDir():
			want = privateDirMode
		case !d.Type().IsRegular():
			return nil // no symlinks followed
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		if info.Mode().Perm() == want {
			return nil
		}
		if err := os.Chmod(path, want); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("badgerstore: making files private: %w", errors.Join(errs...))
	}
	return nil
}
