package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/oidcaddy/oidcaddy/internal/caddyproc"
	"github.com/oidcaddy/oidcaddy/test/load/cpustat"
)

// demoPasswordHash is bcrypt("demo"), cost 10: the development hash of
// Caddyfile.example, so the login measured is the one operators start with.
const demoPasswordHash = "$2a$10$zBnjmRoRaC8rF8MJ4fzsQeQKmCuzQ65aZ0lID/yTVALhf.FZBCNVq"

// The clients the load runs use. Their secrets are random per run and reach
// Caddy only through its environment.
const (
	clientMachine    = "load-machine"     // client_credentials, opaque tokens
	clientMachineJWT = "load-machine-jwt" // client_credentials, RFC 9068 JWTs
	clientWeb        = "load-web"         // authorization code, for userinfo and the code flows
)

// siteConfig is one Caddy configuration under test.
type siteConfig struct {
	SitePort, AdminPort int
	StorageDir          string
	// SigningKey is the signing_key algorithm; empty keeps the default
	// (a generated RS256 key).
	SigningKey string
	// FastUserHash is a bcrypt cost-4 hash (~1 ms to check) of the
	// "fast" user's random password: logins that cost almost nothing.
	FastUserHash string
	// Telemetry is the telemetry mode (see telemetryModes).
	Telemetry telemetryMode
	// Postgres: storage postgres (DSN from $LOAD_DATABASE_URL) with the
	// signing keys and secret key in the database
	// (key_encryption_secret from $LOAD_KEY_ENCRYPTION_SECRET), so that
	// several instances serve one issuer; StorageDir is then unused.
	Postgres bool
	// FrontURL, when set, is the issuer: the address of the front proxy
	// that spreads requests over the instances (scale-out mode).
	FrontURL string
}

func (c siteConfig) Issuer() string {
	if c.FrontURL != "" {
		return c.FrontURL
	}
	return fmt.Sprintf("http://127.0.0.1:%d", c.SitePort)
}
func (c siteConfig) Admin() string { return fmt.Sprintf("http://127.0.0.1:%d", c.AdminPort) }

// RedirectURI is never fetched: the drivers stop at the redirect to it.
func (c siteConfig) RedirectURI() string { return c.Issuer() + "/load-callback" }

var caddyfileTemplate = template.Must(template.New("Caddyfile").Parse(`{
	admin 127.0.0.1:{{.AdminPort}}
{{- if not .Telemetry.NoHTTPMetrics}}
	metrics
{{- end}}
	persist_config off
}

http://127.0.0.1:{{.SitePort}} {
	# The site address names the host to match, not the interface: without
	# bind, Caddy would listen on every interface of the machine.
	bind 127.0.0.1
{{- if .Telemetry.Tracing}}
	tracing
{{- end}}
	oidc_provider {
		issuer {{.Issuer}}
{{- if .Postgres}}
		storage postgres {
			dsn {env.LOAD_DATABASE_URL}
			max_conns 20
		}
		key_encryption_secret {env.LOAD_KEY_ENCRYPTION_SECRET}
{{- else}}
		storage {{.StorageDir}}
{{- end}}
{{- if .Telemetry.LogExporter}}
		log_exporter {{.Telemetry.LogExporter}}
{{- end}}
{{- if .Telemetry.SpanEvents}}
		span_events
{{- end}}
{{- if .SigningKey}}
		signing_key {{.SigningKey}}
{{- end}}
		client ` + clientMachine + ` {
			secret {env.LOAD_MACHINE_SECRET}
			grant_types client_credentials
			allowed_scopes read write
		}
		client ` + clientMachineJWT + ` {
			secret {env.LOAD_MACHINE_SECRET}
			grant_types client_credentials
			allowed_scopes read write
			access_token_format jwt
		}
		client ` + clientWeb + ` {
			name "Load test web app"
			secret {env.LOAD_WEB_SECRET}
			redirect_uri {{.RedirectURI}}
			grant_types authorization_code
		}
		user demo {
			password_hash ` + demoPasswordHash + `
			subject demo
			claim name "Demo User"
			claim email demo@example.com
			claim email_verified true
		}
		user fast {
			password_hash {{.FastUserHash}}
			subject fast
			claim name "Fast User"
			claim email fast@example.com
		}
	}
	respond "protected app would be here" 200
}
`))

// frontCaddyfile is the scale-out mode's front proxy: Caddy's own
// reverse_proxy, round robin over the instances, as README's "several
// instances" section suggests. No HTTP metrics: its CPU is measured apart
// from the instances'.
var frontCaddyfile = template.Must(template.New("front").Parse(`{
	admin 127.0.0.1:{{.AdminPort}}
	persist_config off
}

http://127.0.0.1:{{.SitePort}} {
	bind 127.0.0.1
	reverse_proxy{{range .Upstreams}} {{.}}{{end}} {
		lb_policy round_robin
	}
}
`))

type frontConfig struct {
	SitePort, AdminPort int
	Upstreams           []string
}

func (c siteConfig) caddyfile() ([]byte, error) {
	var buf bytes.Buffer
	err := caddyfileTemplate.Execute(&buf, c)
	return buf.Bytes(), err
}

func randomSecret() string {
	var b [24]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// server is one running Caddy, or in the scale-out mode the front proxy
// with the instances behind it: then CPU time, metrics and logs are the
// instances' (summed, concatenated), and the proxy's CPU is apart
// (proxyCPUTime).
type server struct {
	cfg           siteConfig
	bin           string
	machineSecret string
	webSecret     string
	proc          *caddyproc.Process
	instances     []*server
}

// startCaddy writes cfg's Caddyfile into dir and runs `caddy run` on it
// until the admin API and discovery answer. Caddy stays in the driver's
// process group, so run.sh's timeout reaches it, and gets SIGTERM should the
// driver die without stopping it.
func startCaddy(ctx context.Context, bin, dir string, cfg siteConfig, extraEnv ...string) (*server, error) {
	return startCaddyWith(ctx, bin, dir, cfg, randomSecret(), randomSecret(), extraEnv...)
}

// startCaddyWith is startCaddy with the clients' secrets given, so that
// several instances share them.
func startCaddyWith(ctx context.Context, bin, dir string, cfg siteConfig, machineSecret, webSecret string, extraEnv ...string) (*server, error) {
	caddyfile, err := cfg.caddyfile()
	if err != nil {
		return nil, err
	}
	s := &server{cfg: cfg, bin: bin, machineSecret: machineSecret, webSecret: webSecret}
	env := append([]string{"LOAD_MACHINE_SECRET=" + s.machineSecret, "LOAD_WEB_SECRET=" + s.webSecret}, extraEnv...)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s.proc, err = caddyproc.Start(bin, dir, caddyfile, env...)
	if err != nil {
		return nil, err
	}
	// run.sh stops whatever pid is listed here before it removes the
	// directory, should this driver die without stopping Caddy.
	if f, err := os.OpenFile(filepath.Join(filepath.Dir(dir), "caddy.pids"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		fmt.Fprintln(f, s.proc.Cmd.Process.Pid)
		f.Close()
	}
	if err := s.proc.WaitReady(ctx, 30*time.Second, cfg.Admin()+"/config/", fmt.Sprintf("http://127.0.0.1:%d/.well-known/openid-configuration", cfg.SitePort)); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// startScaleOut starts n instances on one PostgreSQL database (cfg.Postgres)
// behind a front Caddy that spreads requests over them round robin. The
// issuer is the front's address; the instances share the clients' secrets
// (from the environment) and, through the database, the signing keys.
func startScaleOut(ctx context.Context, bin, dir string, cfg siteConfig, n int, extraEnv ...string) (*server, error) {
	frontSite, frontAdmin, err := twoPorts()
	if err != nil {
		return nil, err
	}
	cfg.FrontURL = fmt.Sprintf("http://127.0.0.1:%d", frontSite)
	front := &server{cfg: cfg, bin: bin, machineSecret: randomSecret(), webSecret: randomSecret()}
	fc := frontConfig{SitePort: frontSite, AdminPort: frontAdmin}
	for i := range n {
		ic := cfg
		if i > 0 {
			if ic.SitePort, ic.AdminPort, err = twoPorts(); err != nil {
				front.stop()
				return nil, err
			}
		}
		inst, err := startCaddyWith(ctx, bin, filepath.Join(dir, fmt.Sprintf("instance%d", i+1)), ic, front.machineSecret, front.webSecret, extraEnv...)
		if err != nil {
			front.stop()
			return nil, err
		}
		front.instances = append(front.instances, inst)
		fc.Upstreams = append(fc.Upstreams, fmt.Sprintf("127.0.0.1:%d", ic.SitePort))
	}
	var buf bytes.Buffer
	if err := frontCaddyfile.Execute(&buf, fc); err != nil {
		front.stop()
		return nil, err
	}
	fdir := filepath.Join(dir, "front")
	if err := os.MkdirAll(fdir, 0o700); err != nil {
		front.stop()
		return nil, err
	}
	if front.proc, err = caddyproc.Start(bin, fdir, buf.Bytes()); err != nil {
		front.stop()
		return nil, err
	}
	if f, err := os.OpenFile(filepath.Join(dir, "caddy.pids"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		fmt.Fprintln(f, front.proc.Cmd.Process.Pid)
		f.Close()
	}
	if err := front.proc.WaitReady(ctx, 30*time.Second, fmt.Sprintf("http://127.0.0.1:%d/config/", frontAdmin), cfg.Issuer()+"/.well-known/openid-configuration"); err != nil {
		front.stop()
		return nil, err
	}
	return front, nil
}

// stop ends Caddy with SIGTERM, its graceful shutdown, and kills it if it
// hangs; the front proxy first, then the instances.
func (s *server) stop() {
	if s.proc != nil && s.proc.Stop(15*time.Second) {
		fmt.Fprintln(os.Stderr, "load: caddy did not stop within 15s of SIGTERM; killed it")
	}
	for _, inst := range s.instances {
		inst.stop()
	}
}

// members are the Caddys that run the provider: the instances, or s.
func (s *server) members() []*server {
	if len(s.instances) > 0 {
		return s.instances
	}
	return []*server{s}
}

// exited reports whether any Caddy of s has ended.
func (s *server) exited() bool {
	for _, m := range append([]*server{s}, s.instances...) {
		select {
		case <-m.proc.Exited():
			return true
		default:
		}
	}
	return false
}

// logText is the provider Caddys' logs, one after the other.
func (s *server) logText() string {
	var b strings.Builder
	for _, m := range s.members() {
		b.WriteString(m.proc.Log.String())
	}
	return b.String()
}

// logMark and logSince: what the provider Caddys logged since the mark.
func (s *server) logMark() []int {
	var mark []int
	for _, m := range s.members() {
		mark = append(mark, m.proc.Log.Len())
	}
	return mark
}

func (s *server) logSince(mark []int) string {
	var b strings.Builder
	for i, m := range s.members() {
		b.WriteString(m.proc.Log.String()[mark[i]:])
	}
	return b.String()
}

// cpuTime is the CPU time (user + system, all threads) the provider Caddys
// have used so far, from /proc: how much of the machine a scenario really
// took.
func (s *server) cpuTime() (time.Duration, error) {
	var total time.Duration
	for _, m := range s.members() {
		d, err := m.processCPUTime()
		if err != nil {
			return 0, err
		}
		total += d
	}
	return total, nil
}

// proxyCPUTime is the front proxy's CPU time in the scale-out mode, else 0.
func (s *server) proxyCPUTime() (time.Duration, error) {
	if len(s.instances) == 0 {
		return 0, nil
	}
	return s.processCPUTime()
}

func (s *server) processCPUTime() (time.Duration, error) {
	return cpustat.Process(s.proc.Cmd.Process.Pid)
}

// metrics is one scrape of Caddy's admin /metrics: every sample by its full
// series name, labels included.
type metrics map[string]float64

// scrape reads the provider Caddys' metrics, summed over the instances in
// the scale-out mode (every series the checks read is a counter or a
// histogram's count and sum, which add up).
func (s *server) scrape(ctx context.Context) (metrics, error) {
	if len(s.instances) == 0 {
		return s.scrapeOne(ctx)
	}
	sum := metrics{}
	for _, m := range s.instances {
		one, err := m.scrapeOne(ctx)
		if err != nil {
			return nil, err
		}
		for k, v := range one {
			sum[k] += v
		}
	}
	return sum, nil
}

func (s *server) scrapeOne(ctx context.Context) (metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.Admin()+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	m := metrics{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 64<<20))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// event is the value of oidc_provider_events_total for one event.
func (m metrics) event(name string) float64 {
	return m[`oidc_provider_events_total{event="`+name+`"}`]
}

// sum adds every series of a metric whose labels contain all of the given
// label="value" pairs.
func (m metrics) sum(metric string, labels ...string) float64 {
	var total float64
	for k, v := range m {
		name, rest, _ := strings.Cut(k, "{")
		if name != metric {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(rest, l) {
				ok = false
				break
			}
		}
		if ok {
			total += v
		}
	}
	return total
}

// httpByClass counts the site's responses by status class ("2xx", "3xx",
// "4xx", "5xx") from Caddy's request-duration histogram.
func (m metrics) httpByClass() map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		name, rest, _ := strings.Cut(k, "{")
		if name != "caddy_http_request_duration_seconds_count" {
			continue
		}
		_, after, ok := strings.Cut(rest, `code="`)
		if !ok || len(after) < 1 {
			continue
		}
		out[after[:1]+"xx"] += v
	}
	return out
}

// goroutines fetches Caddy's goroutine dump (stacks grouped, with counts);
// in the scale-out mode the first instance's.
func (s *server) goroutines(ctx context.Context) (string, error) {
	if len(s.instances) > 0 {
		return s.instances[0].goroutines(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.Admin()+"/debug/pprof/goroutine?debug=1", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("pprof goroutine: %s", resp.Status)
	}
	return string(raw), nil
}

// cpuProfile (in the scale-out mode, of the first instance) fetches a CPU
// profile of seconds from Caddy's admin pprof
// endpoint into path.
func (s *server) cpuProfile(ctx context.Context, seconds int, path string) error {
	if len(s.instances) > 0 {
		return s.instances[0].cpuProfile(ctx, seconds, path)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(seconds+20)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", s.cfg.Admin(), seconds), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("pprof: %s: %s", resp.Status, body)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, io.LimitReader(resp.Body, 256<<20)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
