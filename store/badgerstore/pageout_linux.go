package badgerstore

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// pageOutMappedFiles asks the kernel to reclaim the pages of every mapping
// of a file under dir (Badger's tables and value log, which Badger reads
// through mmap). After a burst, compaction has touched most of them and
// they stay counted in the process's resident memory although nothing
// reads them; MADV_PAGEOUT (Linux 5.4) drops clean pages and writes dirty
// ones back, and a later read faults them in again from the page cache or
// the disk. The advice never changes memory contents, so a mapping that
// Badger unmaps meanwhile (and whose addresses the runtime reuses) is at
// worst paged out once, not corrupted: this is why MADV_PAGEOUT and never
// MADV_DONTNEED. It returns how many mappings it advised and the first
// error (EINVAL on kernels without MADV_PAGEOUT).
func pageOutMappedFiles(dir string) (int, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return 0, err
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	ranges := mappingsUnder(f, abs)
	n := 0
	var first error
	for _, r := range ranges {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r.start, r.end-r.start, unix.MADV_PAGEOUT); errno != 0 {
			if first == nil {
				first = errno
			}
			continue
		}
		n++
	}
	return n, first
}

type addrRange struct{ start, end uintptr }

// mappingsUnder parses /proc/self/maps and returns the address ranges of the
// mappings of files inside dir (an absolute, cleaned path).
func mappingsUnder(maps io.Reader, dir string) []addrRange {
	prefix := dir + string(filepath.Separator)
	var out []addrRange
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		// address perms offset dev inode pathname; the pathname may hold
		// spaces, and ends with " (deleted)" once the file is removed.
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		path := strings.Join(fields[5:], " ")
		if !strings.HasPrefix(path, prefix) {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		out = append(out, addrRange{uintptr(start), uintptr(end)})
	}
	return out
}
