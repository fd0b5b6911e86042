package caddymodule

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

func TestInitialAccessTokenCommandRegistered(t *testing.T) {
	cmd, ok := caddycmd.Commands()["oidc-initial-access-token"]
	if !ok {
		t.Fatal("caddy oidc-initial-access-token is not registered")
	}
	if cmd.CobraFunc == nil || cmd.Short == "" || !strings.Contains(cmd.Usage, "--issuer") {
		t.Fatalf("incomplete command: %+v", cmd)
	}
}

// runCobra runs a subcommand's cobra command, made by setUp, as `caddy`
// would, with stdin as standard input, and returns what it printed on
// stdout.
func runCobra(t *testing.T, setUp func(*cobra.Command), stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := &cobra.Command{SilenceUsage: true, SilenceErrors: true}
	setUp(cmd)
	var out bytes.Buffer
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// runCommand runs `caddy oidc-initial-access-token`.
func runCommand(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runCobra(t, setUpInitialAccessTokenCommand, "", args...)
}

// fakeAdmin serves the module's admin route the way Caddy's admin server
// does and records the requests it gets.
func fakeAdmin(t *testing.T) (addr string, requests *[]initialAccessTokenRequest) {
	t.Helper()
	handler := adminHandler(t)
	var seen []initialAccessTokenRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req initialAccessTokenRequest
		_ = json.Unmarshal(body, &req)
		seen = append(seen, req)
		if r.URL.Path != adminPathInitialAccessTokens {
			http.NotFound(w, r)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := handler.ServeHTTP(w, r); err != nil {
			apiErr := err.(caddy.APIError)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(apiErr.HTTPStatus)
			_ = json.NewEncoder(w).Encode(apiErr)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), &seen
}

func TestInitialAccessTokenCommand(t *testing.T) {
	const issuer = "http://command.localhost:8080"
	h := iatHandler(t, issuer, t.TempDir())
	addr, requests := fakeAdmin(t)

	out, err := runCommand(t, "--issuer", issuer, "--ttl", "2h", "--single-use", "--address", addr)
	if err != nil {
		t.Fatal(err)
	}
	tok, ok := strings.CutSuffix(out, "\n")
	if !ok || tok == "" || strings.ContainsAny(tok, " \n{\"") {
		t.Fatalf("stdout must be the token and a newline, got %q", out)
	}
	if got := (*requests)[0]; got != (initialAccessTokenRequest{Issuer: issuer, TTL: "2h", SingleUse: true}) {
		t.Errorf("request = %+v", got)
	}
	if code := register(t, h, tok); code != http.StatusCreated {
		t.Fatalf("registration with the printed token: %d", code)
	}
	if code := register(t, h, tok); code != http.StatusUnauthorized {
		t.Fatalf("--single-use token used twice: %d", code)
	}

	// Defaults: one hour, reusable.
	if _, err := runCommand(t, "--issuer", issuer, "--address", addr); err != nil {
		t.Fatal(err)
	}
	if got := (*requests)[1]; got != (initialAccessTokenRequest{Issuer: issuer, TTL: "1h"}) {
		t.Errorf("request with defaults = %+v", got)
	}

	// The admin API's refusal reaches the user; nothing goes to stdout.
	out, err = runCommand(t, "--issuer", "https://unknown.example", "--address", addr)
	if err == nil || !strings.Contains(err.Error(), "HTTP 404") || !strings.Contains(err.Error(), "no OIDC provider") || out != "" {
		t.Fatalf("unknown issuer: out %q, err %v", out, err)
	}
}

func TestInitialAccessTokenCommandArguments(t *testing.T) {
	addr, requests := fakeAdmin(t)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no issuer", []string{"--address", addr}, "--issuer is required"},
		{"issuer not a URL", []string{"--issuer", "auth.example.com", "--address", addr}, "--issuer must be the provider's issuer URL"},
		{"bad ttl", []string{"--issuer", "https://a.example", "--ttl", "forever", "--address", addr}, `--ttl: invalid duration "forever"`},
		{"zero ttl", []string{"--issuer", "https://a.example", "--ttl", "0s", "--address", addr}, "--ttl must be at least 1s"},
		{"sub-second ttl", []string{"--issuer", "https://a.example", "--ttl", "500ms", "--address", addr}, "at least 1s"},
		{"empty ttl", []string{"--issuer", "https://a.example", "--ttl", "", "--address", addr}, "--ttl must not be empty"},
		{"positional argument", []string{"https://a.example", "--address", addr}, "unknown command"},
		{"unknown flag", []string{"--issuer", "https://a.example", "--single_use"}, "unknown flag"},
		{"single-use with a value", []string{"--issuer", "https://a.example", "--single-use=maybe"}, "invalid argument"},
		{"bad address", []string{"--issuer", "https://a.example", "--address", "localhost:1-9"}, "invalid admin address"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCommand(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
		})
	}
	if len(*requests) != 0 {
		t.Fatalf("argument errors must be caught before any request; the admin API got %+v", *requests)
	}
}

func TestInitialAccessTokenCommandDefaultAddress(t *testing.T) {
	cmd := &cobra.Command{}
	setUpInitialAccessTokenCommand(cmd)
	if err := cmd.ParseFlags([]string{"--issuer", "https://a.example"}); err != nil {
		t.Fatal(err)
	}
	req, addr, err := initialAccessTokenArgs(caddycmd.Flags{FlagSet: cmd.Flags()})
	if err != nil {
		t.Fatal(err)
	}
	if addr != caddy.DefaultAdminListen || req.TTL != "1h" || req.SingleUse {
		t.Fatalf("defaults: addr %q, request %+v", addr, req)
	}
}
