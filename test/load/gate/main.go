// Command gate measures what oidc_protect costs per request in the real
// Caddy binary: the same proxied GET (reverse_proxy to a small upstream)
//
//	plain        unprotected
//	gate-cookie  behind oidc_protect, with a valid gate session cookie
//	gate-opaque  behind oidc_protect, Authorization: Bearer <opaque token>
//	gate-jwt     behind oidc_protect, Authorization: Bearer <RFC 9068 JWT>
//	oauth2-proxy behind forward_auth to a local oauth2-proxy (OIDC client of
//	             this provider), with oauth2-proxy's session cookie
//	oauth2-proxy-jwt  the same, Authorization: Bearer <the same JWT>
//	             (oauth2-proxy's --skip-jwt-bearer-tokens)
//
// One Caddy (and one oauth2-proxy) serves every variant; wrk drives them in
// turn, round after round, so that a noisy shared machine hits them all
// alike. For each run it reads the CPU time of Caddy and oauth2-proxy from
// /proc/<pid>/stat and reports server CPU per request and latency, then
// medians and ratios to plain.
//
//	go run ./test/load/gate -caddy bin/caddy -oauth2-proxy /tmp/oauth2-proxy-bin/oauth2-proxy
//
// test/load/gate.sh builds Caddy (and oauth2-proxy when asked) and runs it.
// Everything listens on 127.0.0.1; the storage lives in a temporary
// directory removed at the end. docs/performance.md records the figures.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"text/template"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/oidcaddy/oidcaddy/internal/caddyproc"
)

var caddyfile = template.Must(template.New("Caddyfile").Parse(`{
	admin 127.0.0.1:{{.Admin}}
	metrics
	persist_config off
}

{{.Issuer}} {
	bind 127.0.0.1
	oidc_provider {
		issuer {{.Issuer}}
		storage {{.Storage}}
		client bench-api {
			secret {env.GATE_BENCH_API_SECRET}
			grant_types client_credentials
			allowed_scopes read
		}
		client bench-api-jwt {
			secret {env.GATE_BENCH_API_SECRET}
			grant_types client_credentials
			allowed_scopes read
			access_token_format jwt
		}
{{- if .ForwardAuth}}
		client oauth2-proxy {
			secret {env.GATE_BENCH_PROXY_SECRET}
			redirect_uri {{.ForwardAuth}}/oauth2/callback
			grant_types authorization_code
			skip_consent
			claims_in_id_token
		}
{{- end}}
		user demo {
			password_hash {{.Hash}}
			subject demo-subject
			claim email demo@example.com
			claim email_verified true
			groups staff
		}
	}
}

# (a) unprotected
{{.Plain}} {
	bind 127.0.0.1
	reverse_proxy {{.Upstream}}
}

# (b, c) oidc_protect: gate session cookie or bearer token
{{.Gate}} {
	bind 127.0.0.1
	oidc_protect {
		issuer {{.Issuer}}
		header_up X-Forwarded-User {oidc.sub} X-Forwarded-Email {oidc.email}
	}
	reverse_proxy {{.Upstream}}
}
{{- if .ForwardAuth}}

# (d) forward_auth to oauth2-proxy, as Caddy's documentation sets it up
{{.ForwardAuth}} {
	bind 127.0.0.1
	handle /oauth2/* {
		reverse_proxy {{.OAuth2Proxy}} {
			header_up X-Real-IP {remote_host}
			header_up X-Forwarded-Uri {uri}
		}
	}
	handle {
		forward_auth {{.OAuth2Proxy}} {
			uri /oauth2/auth
			copy_headers X-Auth-Request-User>X-Forwarded-User X-Auth-Request-Email>X-Forwarded-Email
		}
		reverse_proxy {{.Upstream}}
	}
}
{{- end}}
`))

// variant is one way of asking for the same page.
type variant struct {
	name   string
	url    string // the page
	auth   string // Authorization header value
	cookie string // Cookie header value
	// withProxy: oauth2-proxy serves it too, and its CPU counts.
	withProxy bool
	// identity: the upstream must see X-Forwarded-User on every request.
	identity bool
}

func main() {
	bin := flag.String("caddy", "bin/caddy", "the Caddy binary to run")
	proxyBin := flag.String("oauth2-proxy", "", "oauth2-proxy binary for the forward_auth variant (empty: skip it)")
	script := flag.String("wrk-script", "test/load/wrk.lua", "wrk script")
	duration := flag.Duration("duration", 10*time.Second, "length of one run of one variant")
	rounds := flag.Int("rounds", 3, "rounds: every variant once per round, in rotating order")
	conns := flag.Int("conns", 16, "wrk connections (the fixed concurrency)")
	threads := flag.Int("threads", 2, "wrk threads")
	only := flag.String("variants", "", "comma-separated variants (default all)")
	out := flag.String("out", "", "directory to keep results.md and the servers' logs in")
	profile := flag.Bool("profile", false, "with -out: a CPU profile of Caddy for each variant's first run, <out>/<variant>.pprof (profiling costs CPU: not for the figures)")
	flag.Parse()
	if *profile && *out == "" {
		fmt.Fprintln(os.Stderr, "gate: -profile needs -out")
		os.Exit(2)
	}
	if err := run(*bin, *proxyBin, *script, *duration, *rounds, *conns, *threads, *only, *out, *profile); err != nil {
		fmt.Fprintln(os.Stderr, "gate:", err)
		os.Exit(1)
	}
}

func randomSecret(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// upstream is the app behind every variant: a static answer, counting what
// it served and how many requests carried an identity.
type upstream struct {
	served, identified atomic.Int64
	srv                *http.Server
	addr               string
}

func startUpstream() (*upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &upstream{addr: ln.Addr().String()}
	body := []byte("hello from the app\n")
	u.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.served.Add(1)
		if r.Header.Get("X-Forwarded-User") != "" {
			u.identified.Add(1)
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})}
	go u.srv.Serve(ln)
	return u, nil
}

func freePorts(n int) ([]int, error) {
	var ports []int
	for len(ports) < n {
		p, err := caddyproc.FreePort()
		if err != nil {
			return nil, err
		}
		if !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	return ports, nil
}

func run(bin, proxyBin, script string, d time.Duration, rounds, conns, threads int, only, out string, profile bool) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed (apt-get install -y wrk)")
	}
	if out != "" {
		// Early: the servers' logs are written there also when a run fails.
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "oidcaddy-gate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	up, err := startUpstream()
	if err != nil {
		return err
	}
	defer up.srv.Close()
	ports, err := freePorts(6)
	if err != nil {
		return err
	}
	origin := func(p int) string { return fmt.Sprintf("http://127.0.0.1:%d", p) }
	password := randomSecret(12)
	hash, err := bcrypt.GenerateFromPassword([]byte(password), 4) // the login is not measured
	if err != nil {
		return err
	}
	apiSecret, proxySecret := randomSecret(24), randomSecret(24)
	params := map[string]any{
		"Admin": ports[0], "Issuer": origin(ports[1]), "Plain": origin(ports[2]), "Gate": origin(ports[3]),
		"Storage": filepath.Join(dir, "oidc"), "Hash": string(hash), "Upstream": up.addr,
		"ForwardAuth": "", "OAuth2Proxy": "",
	}
	if proxyBin != "" {
		params["ForwardAuth"], params["OAuth2Proxy"] = origin(ports[4]), fmt.Sprintf("127.0.0.1:%d", ports[5])
	}
	var cf bytes.Buffer
	if err := caddyfile.Execute(&cf, params); err != nil {
		return err
	}
	caddyDir := filepath.Join(dir, "caddy")
	if err := os.Mkdir(caddyDir, 0o700); err != nil {
		return err
	}
	caddy, err := caddyproc.Start(bin, caddyDir, cf.Bytes(), "GATE_BENCH_API_SECRET="+apiSecret, "GATE_BENCH_PROXY_SECRET="+proxySecret)
	if err != nil {
		return err
	}
	defer func() {
		caddy.Stop(30 * time.Second)
		if out != "" {
			os.WriteFile(filepath.Join(out, "caddy.log"), []byte(caddy.Log.String()), 0o644)
		}
	}()
	issuer := origin(ports[1])
	ctx := context.Background()
	if err := caddy.WaitReady(ctx, time.Minute, origin(ports[0])+"/config/", issuer+"/.well-known/openid-configuration"); err != nil {
		return err
	}

	gateURL := origin(ports[3]) + "/app/page"
	cookie, err := gateSignIn(origin(ports[3]), issuer, password)
	if err != nil {
		return fmt.Errorf("signing in through the gate: %w", err)
	}
	opaque, err := clientCredentials(issuer, "bench-api", apiSecret)
	if err != nil {
		return err
	}
	jwt, err := clientCredentials(issuer, "bench-api-jwt", apiSecret)
	if err != nil {
		return err
	}
	if strings.Count(jwt, ".") != 2 || strings.Count(opaque, ".") == 2 {
		return fmt.Errorf("token formats: want an opaque and a JWT access token")
	}
	var header struct {
		Alg string `json:"alg"`
	}
	rawHeader, _ := base64.RawURLEncoding.DecodeString(jwt[:strings.IndexByte(jwt, '.')])
	if err := json.Unmarshal(rawHeader, &header); err != nil {
		return fmt.Errorf("JWT access token header: %w", err)
	}
	fmt.Printf("gate: JWT access token signed with %s (the provider's default key)\n", header.Alg)
	variants := []variant{
		{name: "plain", url: origin(ports[2]) + "/app/page"},
		{name: "gate-cookie", url: gateURL, cookie: cookie, identity: true},
		{name: "gate-opaque", url: gateURL, auth: "Bearer " + opaque, identity: true},
		{name: "gate-jwt", url: gateURL, auth: "Bearer " + jwt, identity: true},
	}
	var proxy *oauth2Proxy
	if proxyBin != "" {
		proxy, err = startOAuth2Proxy(proxyBin, dir, issuer, origin(ports[4]), params["OAuth2Proxy"].(string), proxySecret)
		if err != nil {
			return err
		}
		defer func() {
			proxy.stop()
			if out != "" {
				os.WriteFile(filepath.Join(out, "oauth2-proxy.log"), []byte(proxy.log.String()), 0o644)
			}
		}()
		pc, err := proxySignIn(origin(ports[4]), issuer, password)
		if err != nil {
			return fmt.Errorf("signing in through oauth2-proxy: %w\n%s", err, proxy.log.String())
		}
		fmt.Printf("gate: cookie sizes: oidc_protect %d bytes, oauth2-proxy %d bytes\n", len(cookie), len(pc))
		variants = append(variants,
			variant{name: "oauth2-proxy", url: origin(ports[4]) + "/app/page", cookie: pc, identity: true, withProxy: true},
			variant{name: "oauth2-proxy-jwt", url: origin(ports[4]) + "/app/page", auth: "Bearer " + jwt, identity: true, withProxy: true})
	}
	if only != "" {
		names := strings.Split(only, ",")
		variants = slices.DeleteFunc(variants, func(v variant) bool { return !slices.Contains(names, v.name) })
	}
	// Every variant must reach the upstream with the identity before it is
	// measured: a 302 or 401 would be cheap and wrong.
	for _, v := range variants {
		if err := check(up, v); err != nil {
			return err
		}
	}
	pids := servers{caddy: caddy.Cmd.Process.Pid}
	if proxy != nil {
		pids.proxy = proxy.cmd.Process.Pid
	}
	fmt.Printf("gate: load average before: %s; %d rounds × %d variants × %s, wrk -t%d -c%d\n", loadavg(), rounds, len(variants), d, threads, conns)
	// Warm-up: connections, caches, the Go runtime's heap size.
	for _, v := range variants {
		if _, err := measure(ctx, script, threads, conns, 2*time.Second, v, up, pids); err != nil {
			return fmt.Errorf("warm-up %s: %w", v.name, err)
		}
	}
	results := map[string][]runResult{}
	for r := range rounds {
		for i := range variants {
			v := variants[(i+r)%len(variants)] // rotate the order: no variant always first after a pause
			var profiled chan error
			if profile && r == 0 {
				profiled = make(chan error, 1)
				go func() { profiled <- cpuProfile(origin(ports[0]), d-2*time.Second, filepath.Join(out, v.name+".pprof")) }()
			}
			res, err := measure(ctx, script, threads, conns, d, v, up, pids)
			if profiled != nil {
				if perr := <-profiled; perr != nil {
					return fmt.Errorf("profile of %s: %w", v.name, perr)
				}
			}
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", r+1, v.name, err)
			}
			res.round = r
			fmt.Printf("gate: round %d %-13s %8.0f req/s  server CPU %6.1f µs/req (caddy %6.1f, oauth2-proxy %6.1f)  p50 %6.2f ms  p99 %6.2f ms  other cores %.2f\n",
				r+1, v.name, res.rate(), res.serverUS(), res.caddyUS(), res.proxyUS(), ms(res.p50), ms(res.p99), res.otherCores())
			results[v.name] = append(results[v.name], res)
		}
	}
	fmt.Printf("gate: load average after: %s\n", loadavg())
	report := summarize(variants, results)
	fmt.Print(report)
	if out != "" {
		return os.WriteFile(filepath.Join(out, "results.md"), []byte(report), 0o644)
	}
	return nil
}

// check sends one request of v and demands the upstream's answer, with the
// identity when v has one.
func check(up *upstream, v variant) error {
	before := up.identified.Load()
	req, _ := http.NewRequest(http.MethodGet, v.url, nil)
	setCredentials(req, v)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", v.name, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "hello from the app") {
		return fmt.Errorf("%s: want the upstream's page, got %d %q", v.name, resp.StatusCode, body)
	}
	if v.identity && up.identified.Load() != before+1 {
		return fmt.Errorf("%s: the upstream got no X-Forwarded-User", v.name)
	}
	return nil
}

func setCredentials(req *http.Request, v variant) {
	if v.auth != "" {
		req.Header.Set("Authorization", v.auth)
	}
	if v.cookie != "" {
		req.Header.Set("Cookie", v.cookie)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cpuProfile takes a CPU profile of Caddy over d through its admin
// endpoint's /debug/pprof and writes it to path.
func cpuProfile(admin string, d time.Duration, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	time.Sleep(time.Second) // past wrk's start
	resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", admin, max(1, int(d.Seconds()))))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
