package caddymodule

import (
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"golang.org/x/crypto/bcrypt"

	"github.com/oidcaddy/oidcaddy/provider"
)

// runHashPassword runs `caddy oidc-hash-password` with stdin as standard
// input and returns what it printed on stdout.
func runHashPassword(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	return runCobra(t, setUpHashPasswordCommand, stdin, args...)
}

// hashVerifies loads hash as a user's password_hash and signs in with pw.
func hashVerifies(t *testing.T, hash, pw string) bool {
	t.Helper()
	s, err := provider.NewStaticAccounts(provider.User{Login: "u", PasswordHash: hash})
	if err != nil {
		t.Fatalf("the printed hash is refused as a password_hash: %v", err)
	}
	acc, _ := s.Authenticate(t.Context(), "u", pw)
	return acc != nil
}

func TestHashPasswordCommand(t *testing.T) {
	if cmd, ok := caddycmd.Commands()["oidc-hash-password"]; !ok || cmd.CobraFunc == nil || !strings.Contains(cmd.Usage, "--algorithm") {
		t.Fatal("caddy oidc-hash-password is not registered")
	}
	out, err := runHashPassword(t, "correct horse\n")
	if err != nil {
		t.Fatal(err)
	}
	hash := strings.TrimSuffix(out, "\n")
	if strings.Count(out, "\n") != 1 || !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("default output %q: want one line, an argon2id hash with m=19 MiB, t=2, p=1", out)
	}
	if !hashVerifies(t, hash, "correct horse") || hashVerifies(t, hash, "correct horse\n") {
		t.Error("the hash does not verify exactly the line given (without its newline)")
	}

	out, err = runHashPassword(t, "pw with spaces\r\n", "--algorithm", "bcrypt")
	if err != nil {
		t.Fatal(err)
	}
	hash = strings.TrimSuffix(out, "\n")
	if c, err := bcrypt.Cost([]byte(hash)); err != nil || c != 10 {
		t.Fatalf("--algorithm bcrypt: %q (cost %d, %v), want cost 10", hash, c, err)
	}
	if !hashVerifies(t, hash, "pw with spaces") {
		t.Error("bcrypt hash does not verify")
	}
	out, err = runHashPassword(t, "pw", "--algorithm", "bcrypt", "--bcrypt-cost", "4")
	if c, _ := bcrypt.Cost([]byte(strings.TrimSpace(out))); err != nil || c != 4 {
		t.Fatalf("--bcrypt-cost 4: %q %v", out, err)
	}
	out, err = runHashPassword(t, "pw", "--argon2id-memory", "64", "--argon2id-time", "1", "--argon2id-threads", "2")
	if err != nil || !strings.HasPrefix(out, "$argon2id$v=19$m=64,t=1,p=2$") {
		t.Fatalf("argon2id parameters: %q %v", out, err)
	}
}

func TestHashPasswordCommandRefusals(t *testing.T) {
	cases := []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"password as argument", "", []string{"hunter2-secret"}, "never from the command line"},
		{"empty input", "", nil, "empty"},
		{"empty line", "\nsecond", nil, "empty"},
		{"too long", strings.Repeat("p", 1025) + "\n", nil, "longer than 1024"},
		{"unknown algorithm", "hunter2-secret", []string{"--algorithm", "scrypt"}, "argon2id or bcrypt"},
		{"bcrypt cost too high", "hunter2-secret", []string{"--algorithm", "bcrypt", "--bcrypt-cost", "20"}, "4 to 16"},
		{"argon2id memory too high", "hunter2-secret", []string{"--argon2id-memory", "4194304"}, "above the limit"},
		{"bcrypt past 72 bytes", strings.Repeat("hunter2-secret", 6), []string{"--algorithm", "bcrypt"}, "72"},
	}
	for _, c := range cases {
		out, err := runHashPassword(t, c.stdin, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
		if out != "" {
			t.Errorf("%s: printed %q", c.name, out)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the password: %v", c.name, err)
		}
	}
	// 1024 bytes is the most the login page takes, and it is accepted.
	if _, err := runHashPassword(t, strings.Repeat("p", 1024)+"\r\n", "--argon2id-memory", "64", "--argon2id-time", "1"); err != nil {
		t.Errorf("a 1024-byte password: %v", err)
	}
}
