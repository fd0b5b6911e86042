package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The protected sites' upstream is a process of its own, as an app behind
// Caddy is: this test binary started again with echoUpstreamEnv set, which
// TestMain checks before anything else. It echoes the identity headers it
// receives (echoed).
const echoUpstreamEnv = "OIDCADDY_E2E_ECHO_UPSTREAM"

type echoUpstream struct {
	URL string
}

// runEchoUpstream is the upstream process: it serves on a free loopback
// port, prints the address as its first line, and exits when its stdin
// closes, so it never outlives the test that started it.
func runEchoUpstream() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo upstream:", err)
		os.Exit(1)
	}
	fmt.Println(l.Addr().String())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(echoed{Path: r.URL.Path, User: r.Header.Get("X-Forwarded-User"), Email: r.Header.Get("X-Forwarded-Email"),
			Groups: r.Header.Get("X-Forwarded-Groups"), Assertion: r.Header.Get("X-Oidc-Assertion"),
			CaddyUser: r.Header.Get("X-Caddy-User"), Reached: true})
	}))
	os.Exit(1)
}

func startEchoUpstream(t *testing.T) *echoUpstream {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), echoUpstreamEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		addr <- strings.TrimSpace(line)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case a := <-addr:
		if a == "" {
			t.Fatal("the echo upstream did not start")
		}
		return &echoUpstream{URL: "http://" + a}
	case <-time.After(time.Minute):
		t.Fatal("the echo upstream did not say its address within a minute")
	}
	return nil
}
