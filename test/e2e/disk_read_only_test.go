package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mountExt4 makes an ext4 image of size bytes, loop-mounts it with
// errors=remount-ro on a new directory and unmounts it when the test ends.
// It returns the directory and a function that makes the filesystem hit an
// error, which turns it read-only as a failing disk would. Root only: skipped
// locally without it, failing in CI.
func mountExt4(t *testing.T, size int64) (dir string, fail func()) {
	t.Helper()
	cannot := func(why string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot loop-mount an ext4 image (%s); CI must run this test as root", why)
		}
		t.Skipf("skipped: needs to loop-mount an ext4 image, which %s (CI runs it as root)", why)
	}
	if os.Geteuid() != 0 {
		cannot("needs root")
	}
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
		cannot("mkfs.ext4 failed: " + strings.TrimSpace(string(out)))
	}
	dir = t.TempDir()
	if out, err := exec.Command("mount", "-o", "loop,errors=remount-ro", img, dir).CombinedOutput(); err != nil {
		cannot("is not permitted here: " + strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	src, err := exec.Command("findmnt", "-n", "-o", "SOURCE", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	trigger := filepath.Join("/sys/fs/ext4", filepath.Base(strings.TrimSpace(string(src))), "trigger_fs_error")
	if _, err := os.Stat(trigger); err != nil {
		cannot("this kernel has no " + trigger)
	}
	return dir, func() {
		if err := os.WriteFile(trigger, []byte("oidcaddy e2e: simulated disk failure\n"), 0o200); err != nil {
			t.Fatal(err)
		}
	}
}

// The storage filesystem turns read-only under load (an ext4 error with
// errors=remount-ro). Before, /token went on answering 200 for tokens never
// persisted, registrations and revocations got 500, a panic inside Badger
// leaked a stripe lock and SIGTERM never completed. Now the process stays up,
// writes get 503 temporarily_unavailable, reads go on, and it stops.
func TestDiskTurnsReadOnly(t *testing.T) {
	disk, fail := mountExt4(t, 400<<20)
	cfg := newSiteConfig(t)
	cfg.ExtraClients = machineClient
	cfg.StorageDir = filepath.Join(disk, "oidc")
	srv := startCaddy(t, cfg)

	before := machineToken(t, cfg.Issuer())
	// The disk fails under load.
	var during outcomes
	ctx, cancel := context.WithCancel(context.Background())
	wait := tokenLoad(ctx, cfg.Issuer(), 32, &during)
	time.Sleep(time.Second)
	fail()
	srv.awaitStoreHealthy(0)
	cancel()
	wait()
	during.report(t)
	if during.ok.Load() == 0 {
		t.Fatal("no token issued before the disk failed")
	}
	broken := runLoad(cfg.Issuer(), 2*time.Second)
	broken.report(t)
	if broken.ok.Load() != 0 || broken.unavailable.Load() == 0 {
		t.Errorf("with the disk read-only: %d tokens issued, %d refused; want none issued, some refused", broken.ok.Load(), broken.unavailable.Load())
	}
	select {
	case <-srv.Exited():
		t.Fatal("caddy died when the disk turned read-only")
	default:
	}
	if !introspectActive(t, cfg.Issuer(), before) {
		t.Error("a token issued before the disk failed is not readable")
	}
	if !srv.logContains("refuses writes") {
		t.Error("no log line about the refused writes")
	}
	// SIGTERM completes: Badger cannot flush to a read-only disk, and the
	// module gives up waiting for it after 30 s.
	if srv.Stop(45 * time.Second) {
		t.Error("caddy did not stop within 45 s of SIGTERM with the disk read-only")
	}
}
