package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mountTmpfs mounts a tmpfs of size bytes on a new directory and unmounts
// it when the test ends (after the servers using it have stopped, since
// cleanups run last-registered first). Mounting needs root: without it the
// test is skipped locally and fails in CI.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	cannot := func(why string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot mount a tmpfs (%s); CI must run this test as root", why)
		}
		t.Skipf("skipped: needs to mount a tmpfs, which %s (CI runs it as root)", why)
	}
	if os.Geteuid() != 0 {
		cannot("needs root")
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10)+",mode=0700", "tmpfs", dir).CombinedOutput()
	if err != nil {
		cannot("is not permitted here: " + strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes zeros to path until the filesystem is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			t.Fatal(err)
		}
	}
	// The last partial chunk: byte by byte down to the last block.
	for _, err := f.Write(chunk[:4096]); err == nil; _, err = f.Write(chunk[:4096]) {
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
		t.Fatal(err)
	}
	t.Logf("filled: %d bytes free", st.Bavail*uint64(st.Bsize))
}

// storeHealthy reads oidc_provider_store_healthy from the admin metrics.
func (s *caddyServer) storeHealthy() (float64, bool) {
	resp, err := http.Get(s.cfg.Admin() + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "oidc_provider_store_healthy "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// awaitStoreHealthy waits until the gauge reads want (the probe runs every
// second), failing after a generous bound.
func (s *caddyServer) awaitStoreHealthy(want float64) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if v, ok := s.storeHealthy(); ok && v == want {
			return
		}
		if time.Now().After(deadline) {
			v, _ := s.storeHealthy()
			s.t.Fatalf("oidc_provider_store_healthy = %v, want %v", v, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// machineToken gets one client_credentials token.
func machineToken(t *testing.T, issuer string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, issuer+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("machine", demoClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		t.Fatalf("token: %s %v", resp.Status, err)
	}
	return body.AccessToken
}

// introspectActive reports whether the provider knows token (a read).
func introspectActive(t *testing.T, issuer, token string) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, issuer+"/token/introspection", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("machine", demoClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("introspection: %s %v", resp.Status, err)
	}
	return body.Active
}

func runLoad(issuer string, d time.Duration) *outcomes {
	var o outcomes
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	tokenLoad(ctx, issuer, 32, &o)()
	return &o
}

// The storage filesystem fills up under the real binary: Badger writes
// through sparse memory-mapped files, and the process used to die of SIGBUS.
// Now writes get 503 temporarily_unavailable while reads go on, writes
// resume by themselves once space returns, and nothing acknowledged is lost.
func TestDiskFull(t *testing.T) {
	disk := mountTmpfs(t, 256<<20)
	cfg := newSiteConfig(t)
	cfg.ExtraClients = machineClient
	cfg.StorageDir = filepath.Join(disk, "oidc")
	srv := startCaddy(t, cfg)

	before := machineToken(t, cfg.Issuer())
	if o := runLoad(cfg.Issuer(), time.Second); o.ok.Load() == 0 {
		o.report(t)
		t.Fatal("no token issued before the disk filled")
	}

	fill := filepath.Join(disk, "fill")
	fillDisk(t, fill)
	srv.awaitStoreHealthy(0)
	full := runLoad(cfg.Issuer(), 2*time.Second)
	full.report(t)
	if full.ok.Load() != 0 || full.unavailable.Load() == 0 {
		t.Errorf("with the disk full: %d tokens issued, %d refused; want none issued, some refused", full.ok.Load(), full.unavailable.Load())
	}
	select {
	case <-srv.Exited():
		t.Fatal("caddy died with the disk full")
	default:
	}
	if !introspectActive(t, cfg.Issuer(), before) {
		t.Error("a token issued before the disk filled is not readable while it is full")
	}

	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	srv.awaitStoreHealthy(1)
	after := runLoad(cfg.Issuer(), time.Second)
	after.report(t)
	if after.ok.Load() == 0 {
		t.Error("writes did not resume after space returned")
	}
	last := machineToken(t, cfg.Issuer())
	for _, line := range []string{"refuses writes", "takes writes again"} {
		if !srv.logContains(line) {
			t.Errorf("no log line %q", line)
		}
	}

	// Nothing acknowledged is lost: after a restart both tokens are known.
	srv.stop()
	srv = startCaddy(t, cfg)
	for name, tok := range map[string]string{"before the disk filled": before, "after it recovered": last} {
		if !introspectActive(t, cfg.Issuer(), tok) {
			t.Errorf("token issued %s lost across a restart", name)
		}
	}
}
