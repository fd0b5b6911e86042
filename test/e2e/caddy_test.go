// Package e2e runs the real Caddy binary with the oidc_provider module and
// drives it the way a browser and a relying party would.
package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/oidcaddy/oidcaddy/internal/caddyproc"
	"github.com/oidcaddy/oidcaddy/internal/pgtest"
)

// caddyBin is the binary TestMain builds from this checkout.
var caddyBin string

// demoPasswordHash is bcrypt("demo"), cost 10, as in Caddyfile.example.
const demoPasswordHash = "$2a$10$zBnjmRoRaC8rF8MJ4fzsQeQKmCuzQ65aZ0lID/yTVALhf.FZBCNVq"

// demoClientSecret reaches Caddy only through its environment, as the
// placeholder {env.DEMO_CLIENT_SECRET} in the config; it is a test value.
const demoClientSecret = "e2e-test-secret"

func TestMain(m *testing.M) {
	if os.Getenv(echoUpstreamEnv) != "" {
		runEchoUpstream()
	}
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "oidcaddy-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	caddyBin = filepath.Join(dir, "caddy")
	// The same build as `make build`; the tags keep out what xcaddy's
	// release builds keep out.
	build := exec.Command("go", "build", "-tags", "nobadger,nomysql,nopgx", "-o", caddyBin, "github.com/oidcaddy/oidcaddy/cmd/caddy")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	start := time.Now()
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building caddy:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "e2e: built %s in %s\n", caddyBin, time.Since(start).Round(time.Millisecond))
	// pgtest.Main runs the tests and removes the PostgreSQL cluster the
	// Postgres storage tests start.
	code := pgtest.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// siteConfig is what a test varies in the Caddyfile.
type siteConfig struct {
	SitePort, AdminPort int
	StorageDir          string
	// ExtraClients is inserted verbatim into the oidc_provider block.
	ExtraClients string
}

func (c siteConfig) Issuer() string { return fmt.Sprintf("http://127.0.0.1:%d", c.SitePort) }
func (c siteConfig) Admin() string  { return fmt.Sprintf("http://127.0.0.1:%d", c.AdminPort) }

var caddyfileTemplate = template.Must(template.New("Caddyfile").Parse(`{
	admin 127.0.0.1:{{.AdminPort}}
	metrics
	persist_config off
}

http://127.0.0.1:{{.SitePort}} {
	# A site address names the host to match, not the interface: without
	# bind, Caddy would listen on every interface of the test machine.
	bind 127.0.0.1
	oidc_provider {
		issuer {{.Issuer}}
		storage {{.StorageDir}}
		client demo-app {
			name "Demo App"
			secret {env.DEMO_CLIENT_SECRET}
			redirect_uri http://localhost:5556/callback
			# The tests also use it as the resource server (RFC 7662 §4)
			# that introspects other clients' tokens.
			introspect_any_token
		}
		client demo-spa {
			name "Demo SPA"
			public
			redirect_uri http://localhost:5557/callback
		}
{{.ExtraClients}}
		user demo {
			password_hash ` + demoPasswordHash + `
			subject demo-subject
			claim name "Demo User"
			claim email demo@example.com
			claim email_verified true
		}
	}
	respond "protected app would be here" 200
}
`))

func (c siteConfig) caddyfile(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := caddyfileTemplate.Execute(&buf, c); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// freePort asks the kernel for an unused loopback port.
func freePort(t *testing.T) int {
	t.Helper()
	port, err := caddyproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

type caddyServer struct {
	*caddyproc.Process
	t   *testing.T
	cfg siteConfig
}

func newSiteConfig(t *testing.T) siteConfig {
	site, admin := freePort(t), freePort(t)
	// Each probe's listener is closed before the next, so the kernel may
	// hand out the same port twice; Caddy would then fail to bind the site.
	for admin == site {
		admin = freePort(t)
	}
	return siteConfig{
		SitePort:   site,
		AdminPort:  admin,
		StorageDir: filepath.Join(t.TempDir(), "oidc"),
	}
}

// startCaddy runs `caddy run` on cfg and waits until the admin API and the
// provider's discovery document answer. The server is stopped when the test
// ends, and its log is shown if the test failed.
func startCaddy(t *testing.T, cfg siteConfig) *caddyServer {
	t.Helper()
	return startCaddyWith(t, cfg, cfg.caddyfile(t))
}

// startCaddyWith is startCaddy for a Caddyfile the test has edited, with
// extra environment variables for the Caddy process.
func startCaddyWith(t *testing.T, cfg siteConfig, caddyfile []byte, env ...string) *caddyServer {
	t.Helper()
	proc, err := caddyproc.Start(caddyBin, t.TempDir(), caddyfile, append([]string{"DEMO_CLIENT_SECRET=" + demoClientSecret}, env...)...)
	if err != nil {
		t.Fatal(err)
	}
	s := &caddyServer{Process: proc, t: t, cfg: cfg}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("caddy log:\n%s", s.Log.String())
		}
	})
	if err := s.WaitReady(context.Background(), 30*time.Second, cfg.Admin()+"/config/", cfg.Issuer()+"/.well-known/openid-configuration"); err != nil {
		t.Fatal(err)
	}
	return s
}

// stop ends the server with SIGTERM, Caddy's graceful shutdown, and kills
// it if it hangs.
func (s *caddyServer) stop() {
	if s.Stop(15 * time.Second) {
		s.t.Errorf("caddy did not stop within 15s of SIGTERM; killed it")
	}
}

// load replaces the running configuration through the admin API, which
// adapts the Caddyfile itself: the path `caddy reload` takes.
func (s *caddyServer) load(cfg siteConfig) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.Admin()+"/load", bytes.NewReader(cfg.caddyfile(s.t)))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("admin /load: %s: %s", resp.Status, body)
	}
	// The reload shuts the old server down, closing its idle keep-alive
	// connections; a POST (a code exchange) sent on one of them gets a reset
	// that net/http does not retry, since POST is not idempotent. Clients
	// here, like any client across a server restart, start fresh.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	s.cfg = cfg
	s.awaitSettledReload()
}

// awaitSettledReload waits until the site answers on a fresh connection.
// While the old server shuts down after /load returns, a connection that its
// accept loop took just before closing is closed unanswered (an EOF on a
// first use, which net/http never retries); a browser would retry. The
// tests after a reload assert what the new configuration serves, so they
// start once five fresh connections in a row get an answer, on the issuer's
// site and on each other site given (each listener has its own server).
func (s *caddyServer) awaitSettledReload(otherSites ...string) {
	s.t.Helper()
	probe := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	urls := append([]string{s.cfg.Issuer() + "/.well-known/openid-configuration"}, otherSites...)
	deadline := time.Now().Add(10 * time.Second)
	for answered := 0; answered < 5*len(urls); {
		resp, err := probe.Get(urls[answered%len(urls)])
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				answered++
				continue
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		answered = 0
		if time.Now().After(deadline) {
			s.t.Fatalf("the site does not answer after the reload: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metrics scrapes the admin endpoint and returns the provider's event
// counters by event name.
func (s *caddyServer) metrics() map[string]float64 {
	s.t.Helper()
	resp, err := http.Get(s.cfg.Admin() + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("GET /metrics: %s", resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	counts := map[string]float64{}
	const prefix = `oidc_provider_events_total{event="`
	for _, line := range strings.Split(string(body), "\n") {
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		name, value, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		var v float64
		if _, err := fmt.Sscanf(value, "%g", &v); err != nil {
			s.t.Fatalf("metrics line %q: %v", line, err)
		}
		counts[name] = v
	}
	if len(counts) == 0 {
		s.t.Fatalf("no oidc_provider_events_total series on /metrics:\n%s", body)
	}
	return counts
}

// logContains reports whether the server's output so far contains s. Used
// to prove a secret never reached the log.
func (s *caddyServer) logContains(sub string) bool { return strings.Contains(s.Log.String(), sub) }

// logEventuallyContains waits up to 10 s for the server's output to contain
// sub: Caddy writes an access log line after the response has been sent.
func (s *caddyServer) logEventuallyContains(sub string) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if s.logContains(sub) {
			return true
		}
	}
	return false
}
