// Package caddyproc runs a real Caddy binary for the end-to-end tests and the
// load driver: one `caddy run` of a Caddyfile, kept to a private directory,
// waited for until it answers, and stopped gracefully.
package caddyproc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FreePort asks the kernel for an unused loopback port. Another process could
// take it before Caddy binds it; Caddy then fails to start and says so.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Log collects Caddy's output from its two pipes, bounded so a chatty server
// cannot exhaust memory (the head says what went wrong).
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

const maxLog = 4 << 20

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > maxLog {
		return len(p), nil
	}
	return l.buf.Write(p)
}

// Len is the number of bytes collected.
func (l *Log) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Len()
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Process is one running Caddy.
type Process struct {
	Cmd       *exec.Cmd
	Log       *Log
	Env       []string // its environment, for other caddy commands on the same config
	Caddyfile string   // path of the config it was started with
	exited    chan struct{}
}

// Start writes caddyfile into dir and runs `caddy run` on it. Caddy's own
// data and config (certificates, autosave) go to dir, never to the user's
// home; OTEL_* variables are dropped so no exporter sends anything off the
// machine; extraEnv is added. Caddy gets SIGTERM should the caller die.
func Start(bin, dir string, caddyfile []byte, extraEnv ...string) (*Process, error) {
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, caddyfile, 0o600); err != nil {
		return nil, err
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") {
			env = append(env, kv)
		}
	}
	env = append(env, "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	env = append(env, extraEnv...)
	p := &Process{Log: &Log{}, Env: env, Caddyfile: path, exited: make(chan struct{})}
	p.Cmd = exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	p.Cmd.Env = env
	p.Cmd.Stdout, p.Cmd.Stderr = p.Log, p.Log
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := p.Cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = p.Cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Exited is closed when the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// WaitReady polls each URL until it answers 200, in order, within timeout.
func (p *Process) WaitReady(ctx context.Context, timeout time.Duration, urls ...string) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for _, u := range urls {
		for {
			select {
			case <-p.exited:
				return fmt.Errorf("caddy exited before it was ready:\n%s", p.Log.String())
			case <-ctx.Done():
				return ctx.Err()
			default:
			}
			resp, err := client.Get(u)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("caddy not ready: %s: %v\n%s", u, err, p.Log.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// Stop ends the process with SIGTERM, Caddy's graceful shutdown, and kills
// it if it has not exited within grace. It reports whether it had to kill.
func (p *Process) Stop(grace time.Duration) (killed bool) {
	select {
	case <-p.exited:
		return false
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return false
	case <-time.After(grace):
		_ = p.Cmd.Process.Kill()
		<-p.exited
		return true
	}
}
