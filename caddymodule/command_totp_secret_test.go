package caddymodule

import (
	"net/url"
	"strings"
	"testing"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	"github.com/oidcaddy/oidcaddy/provider"
)

// runTOTPSecret runs `caddy oidc-totp-secret` and returns what it printed
// on stdout.
func runTOTPSecret(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runCobra(t, setUpTOTPSecretCommand, "", args...)
}

func TestTOTPSecretCommand(t *testing.T) {
	if cmd, ok := caddycmd.Commands()["oidc-totp-secret"]; !ok || cmd.CobraFunc == nil || !strings.Contains(cmd.Usage, "--issuer-name") {
		t.Fatal("caddy oidc-totp-secret is not registered")
	}
	secrets := map[string]bool{}
	for range 2 {
		out, err := runTOTPSecret(t, "--issuer-name", "Example Login", "--account", "alice@example.com")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 2 || !strings.HasSuffix(out, "\n") {
			t.Fatalf("output %q: want two lines, the secret and the key URI", out)
		}
		secret, uri := lines[0], lines[1]
		key, err := provider.ParseTOTPKey(secret)
		if err != nil {
			t.Fatalf("the printed secret is not a totp_secret: %v", err)
		}
		// What a user's configuration does with it: the provider loads it.
		if _, err := provider.NewStaticAccounts(provider.User{Login: "alice", PasswordHash: testHash(t), TOTPSecret: secret}); err != nil {
			t.Fatalf("the printed secret is refused as a user's totp_secret: %v", err)
		}
		secrets[secret] = true

		// What an authenticator app reads from the URI.
		u, err := url.Parse(uri)
		if err != nil {
			t.Fatalf("key URI %q: %v", uri, err)
		}
		q := u.Query()
		if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Example Login:alice@example.com" {
			t.Errorf("key URI %q: want otpauth://totp/<issuer>:<account>", uri)
		}
		if q.Get("secret") != secret || q.Get("issuer") != "Example Login" {
			t.Errorf("key URI %q: secret or issuer is not the printed one", uri)
		}
		if q.Get("algorithm") != "SHA1" || q.Get("digits") != "6" || q.Get("period") != "30" {
			t.Errorf("key URI %q: parameters differ from the provider's (SHA1, 6 digits, 30 s)", uri)
		}
		// The app's codes are the provider's.
		appKey, err := provider.ParseTOTPKey(q.Get("secret"))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if provider.TOTPCode(appKey, now) != provider.TOTPCode(key, now) {
			t.Error("the URI's key makes other codes than the printed secret")
		}
	}
	if len(secrets) != 2 {
		t.Error("two runs printed the same secret")
	}
}

func TestTOTPSecretCommandRefusals(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no issuer name", []string{"--account", "alice"}, "--issuer-name is required"},
		{"no account", []string{"--issuer-name", "Example"}, "--account is required"},
		{"blank account", []string{"--issuer-name", "Example", "--account", " "}, "--account is required"},
		{"colon in issuer name", []string{"--issuer-name", "Example:Login", "--account", "alice"}, "--issuer-name must not contain a colon"},
		{"colon in account", []string{"--issuer-name", "Example", "--account", "a:lice"}, "--account must not contain a colon"},
		{"control character", []string{"--issuer-name", "Example\n", "--account", "alice"}, "control characters"},
		{"positional argument", []string{"--issuer-name", "Example", "--account", "alice", "extra"}, "unknown command"},
	} {
		out, err := runTOTPSecret(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
		if out != "" {
			t.Errorf("%s: printed %q", c.name, out)
		}
	}
}
