// Command memory measures the resident memory of the real Caddy binary with
// the oidc_provider module as opaque access tokens accumulate, and after a
// quiet period. Issue 8's target: at most 200 MiB RSS with 1M live tokens,
// and back near the idle figure after a quiet minute.
//
//	go run ./test/load/memory -caddy bin/caddy -tokens 1000000
//
// test/load/memory.sh builds Caddy and runs it. Everything listens on
// loopback; the storage lives in a temporary directory removed at the end.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/template"
	"time"

	"github.com/oidcaddy/oidcaddy/internal/caddyproc"
)

var caddyfile = template.Must(template.New("Caddyfile").Parse(`{
	admin 127.0.0.1:{{.Admin}}
	metrics
	persist_config off
}

http://127.0.0.1:{{.Site}} {
	bind 127.0.0.1
	oidc_provider {
		issuer http://127.0.0.1:{{.Site}}
		storage {{.Storage}}
		lifetimes {
			access_token 24h
		}
		client memory-machine {
			secret {env.MEMORY_MACHINE_SECRET}
			grant_types client_credentials
			allowed_scopes read
		}
	}
}
`))

const mib = 1 << 20

func main() {
	bin := flag.String("caddy", "bin/caddy", "the Caddy binary to run")
	tokens := flag.Int("tokens", 1_000_000, "opaque access tokens to issue")
	workers := flag.Int("workers", 32, "concurrent token requests")
	quiet := flag.Duration("quiet", time.Minute, "quiet period after the load")
	flag.Parse()
	if err := run(*bin, *tokens, *workers, *quiet); err != nil {
		fmt.Fprintln(os.Stderr, "memory:", err)
		os.Exit(1)
	}
}

func run(bin string, tokens, workers int, quiet time.Duration) error {
	dir, err := os.MkdirTemp("", "oidcaddy-memory-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	site, err := caddyproc.FreePort()
	if err != nil {
		return err
	}
	admin, err := caddyproc.FreePort()
	if err != nil {
		return err
	}
	var cf bytes.Buffer
	if err := caddyfile.Execute(&cf, map[string]any{"Site": site, "Admin": admin, "Storage": filepath.Join(dir, "oidc")}); err != nil {
		return err
	}
	var b [24]byte
	rand.Read(b[:])
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	proc, err := caddyproc.Start(bin, dir, cf.Bytes(), "MEMORY_MACHINE_SECRET="+secret)
	if err != nil {
		return err
	}
	defer proc.Stop(30 * time.Second)
	issuer := fmt.Sprintf("http://127.0.0.1:%d", site)
	adminURL := fmt.Sprintf("http://127.0.0.1:%d", admin)
	if err := proc.WaitReady(context.Background(), time.Minute, adminURL+"/config/", issuer+"/.well-known/openid-configuration"); err != nil {
		return err
	}
	pid := proc.Cmd.Process.Pid

	time.Sleep(5 * time.Second)
	idle := sample(pid, adminURL, "idle")

	var issued, failed atomic.Int64
	marks := []int64{200_000, 500_000, int64(tokens)}
	body := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}.Encode()
	var wg sync.WaitGroup
	next := atomic.Int64{}
	start := time.Now()
	var markMu sync.Mutex
	reached := map[int64]bool{}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			for next.Add(1) <= int64(tokens) {
				req, _ := http.NewRequest(http.MethodPost, issuer+"/token", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth("memory-machine", secret)
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					continue
				}
				n := issued.Add(1)
				for _, m := range marks[:len(marks)-1] {
					if n == m {
						func() {
							markMu.Lock()
							defer markMu.Unlock()
							if !reached[m] {
								reached[m] = true
								sample(pid, adminURL, fmt.Sprintf("%dk tokens", m/1000))
							}
						}()
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Printf("issued %d tokens in %s (%.0f/s), %d failed\n", issued.Load(), elapsed.Round(time.Second), float64(issued.Load())/elapsed.Seconds(), failed.Load())
	loaded := sample(pid, adminURL, fmt.Sprintf("%dk tokens", issued.Load()/1000))

	var after rss
	for waited := time.Duration(0); waited < quiet; {
		step := min(15*time.Second, quiet-waited)
		time.Sleep(step)
		waited += step
		after = sample(pid, adminURL, fmt.Sprintf("quiet %s", waited))
	}
	fmt.Printf("\nRSS with %d live tokens: %.0f MiB = %.2f of the 200 MiB target (peak %.0f MiB = %.2f)\n",
		issued.Load(), float64(loaded.rss)/mib, float64(loaded.rss)/(200*mib), float64(after.hwm)/mib, float64(after.hwm)/(200*mib))
	fmt.Printf("RSS after %s quiet: %.0f MiB = %.2f× idle (%.0f MiB)\n", quiet, float64(after.rss)/mib, float64(after.rss)/float64(idle.rss), float64(idle.rss)/mib)
	return nil
}

type rss struct{ rss, hwm, anon, file int64 }

// sample prints the process's resident memory (VmRSS), its peak (VmHWM) and
// the Go heap figures Caddy exports.
func sample(pid int, adminURL, label string) rss {
	var r rss
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), ":")
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			switch k {
			case "VmRSS":
				r.rss = kb << 10
			case "VmHWM":
				r.hwm = kb << 10
			case "RssAnon":
				r.anon = kb << 10
			case "RssFile":
				r.file = kb << 10
			}
		}
		f.Close()
	}
	heap := goMetrics(adminURL, "go_memstats_heap_alloc_bytes", "go_memstats_heap_sys_bytes", "go_memstats_heap_released_bytes")
	fmt.Printf("%-16s RSS %4.0f MiB (anon %4.0f, file %4.0f)  peak %4.0f MiB  heap alloc %4.0f MiB  heap sys %4.0f MiB  released %4.0f MiB\n",
		label, float64(r.rss)/mib, float64(r.anon)/mib, float64(r.file)/mib, float64(r.hwm)/mib, heap[0]/mib, heap[1]/mib, heap[2]/mib)
	return r
}

func goMetrics(adminURL string, names ...string) []float64 {
	out := make([]float64, len(names))
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		for i, n := range names {
			if v, ok := strings.CutPrefix(sc.Text(), n+" "); ok {
				out[i], _ = strconv.ParseFloat(v, 64)
			}
		}
	}
	return out
}
