package badgerstore

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestMappingsUnderPicksOnlyFilesInTheDirectory(t *testing.T) {
	maps := strings.Join([]string{
		"7f0000000000-7f0000100000 r--s 00000000 fd:01 1234 /var/lib/oidc/000001.sst",
		"7f0000200000-7f0000300000 rw-s 00000000 fd:01 1235 /var/lib/oidc/000001.vlog",
		"7f0000400000-7f0000500000 r--s 00000000 fd:01 1236 /var/lib/oidc/000002.sst (deleted)",
		"7f0000600000-7f0000700000 r--s 00000000 fd:01 1237 /var/lib/oidc/sub dir/x.sst",
		"7f0000800000-7f0000900000 r--s 00000000 fd:01 1238 /var/lib/oidc-other/000001.sst",
		"7f0000a00000-7f0000b00000 rw-p 00000000 00:00 0 ",
		"7f0000c00000-7f0000d00000 rw-p 00000000 00:00 0 [heap]",
		"55d000000000-55d000100000 r-xp 00000000 fd:01 99 /usr/bin/caddy",
		"garbage line",
	}, "\n")
	got := mappingsUnder(strings.NewReader(maps), "/var/lib/oidc")
	want := []addrRange{
		{0x7f0000000000, 0x7f0000100000}, {0x7f0000200000, 0x7f0000300000},
		{0x7f0000400000, 0x7f0000500000}, {0x7f0000600000, 0x7f0000700000},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d ranges %x, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("range %d: %x, want %x", i, got[i], want[i])
		}
	}
}

// mappingRSS returns the resident kilobytes of the mapping that starts at
// addr, from /proc/self/smaps.
func mappingRSS(t *testing.T, addr uintptr) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	head := strconv.FormatUint(uint64(addr), 16) + "-"
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "-") && len(strings.Fields(line)) >= 5 && !strings.HasSuffix(strings.Fields(line)[0], ":") {
			in = strings.HasPrefix(line, head)
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			kb, _ := strconv.Atoi(strings.Fields(line)[1])
			return kb
		}
	}
	t.Fatalf("mapping at %x not in smaps", addr)
	return 0
}

// A file mapped from the store's directory and read through is resident;
// after pageOutMappedFiles it is not, and its contents read back unchanged.
func TestPageOutMappedFilesReleasesResidentPages(t *testing.T) {
	dir := t.TempDir()
	const size = 8 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 31)
	}
	path := filepath.Join(dir, "000001.sst")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(m)
	for i := 0; i < size; i += 4096 {
		readSink += m[i] // a package variable, so the reads are not optimised away
	}
	addr := uintptr(unsafe.Pointer(&m[0]))
	before := mappingRSS(t, addr)
	if before < size/1024/2 {
		t.Fatalf("the mapping is only %d KiB resident after reading it through", before)
	}
	n, err := pageOutMappedFiles(dir)
	if errors.Is(err, unix.EINVAL) {
		t.Skip("this kernel has no MADV_PAGEOUT (Linux < 5.4): the release is a no-op here")
	}
	if err != nil || n != 1 {
		t.Fatalf("pageOutMappedFiles: advised %d mappings, err %v; want 1, nil", n, err)
	}
	after := mappingRSS(t, addr)
	if after > before/4 {
		t.Errorf("resident %d KiB before, %d KiB after paging out: not released", before, after)
	}
	for i := range data {
		if m[i] != data[i] {
			t.Fatalf("byte %d changed after paging out: %d, want %d", i, m[i], data[i])
		}
	}
}

var readSink byte
