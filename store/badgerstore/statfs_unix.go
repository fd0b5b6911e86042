//go:build linux || darwin || freebsd

package badgerstore

import "syscall"

// statfsFree is the space available to an unprivileged writer on dir's
// filesystem.
func statfsFree(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}

const haveStatfs = true
