//go:build !(linux || darwin || freebsd)

package badgerstore

import "errors"

// statfsFree is not implemented here; the guard is off and the probe still
// notices a disk that refuses writes.
func statfsFree(string) (uint64, bool, error) { return 0, false, errors.New("statfs not supported") }

const haveStatfs = false
