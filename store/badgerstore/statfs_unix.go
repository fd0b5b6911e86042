//go:build linux || darwin || freebsd

package badgerstore

import "syscall"

// readOnlyFlag is ST_RDONLY (Linux) and MNT_RDONLY (BSD, macOS) alike.
const readOnlyFlag = 1

// statfsFree is the space available to an unprivileged writer on dir's
// filesystem, and whether that filesystem is mounted read-only (as ext4
// remounts itself on an error with errors=remount-ro).
func statfsFree(dir string) (free uint64, readOnly bool, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), uint64(st.Flags)&readOnlyFlag != 0, nil
}

const haveStatfs = true
