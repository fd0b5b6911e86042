package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// totpSecretWithCaddy runs `caddy oidc-totp-secret` and returns the two
// lines it prints: the secret and the otpauth:// key URI.
func totpSecretWithCaddy(t *testing.T, account string) (secret, uri string) {
	t.Helper()
	out, err := exec.Command(caddyBin, "oidc-totp-secret", "--issuer-name", "E2E Login", "--account", account).Output()
	if err != nil {
		t.Fatalf("caddy oidc-totp-secret: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "otpauth://totp/") || !strings.Contains(lines[1], "secret="+lines[0]) {
		t.Fatalf("caddy oidc-totp-secret printed %q: want the secret, then its otpauth://totp/ URI", out)
	}
	return lines[0], lines[1]
}

// Secrets made by `caddy oidc-totp-secret` configure users' second factor in
// the real binary: one through an {env.*} placeholder, one written literally,
// which draws the literal-secret warning. Neither value reaches Caddy's log.
// A bad secret stops `caddy validate` with an error that names the user and
// not the value, and `caddy adapt` reports a bad literal at its line.
func TestTOTPSecretCommandConfiguresUsers(t *testing.T) {
	envSecret, _ := totpSecretWithCaddy(t, "erin")
	literalSecret, _ := totpSecretWithCaddy(t, "frank")
	if envSecret == literalSecret {
		t.Fatal("two runs printed the same secret")
	}
	users := func(frankSecret string) string {
		return `
		user erin {
			password_hash ` + demoPasswordHash + `
			totp_secret {env.E2E_TOTP_SECRET}
		}
		user frank {
			password_hash ` + demoPasswordHash + `
			totp_secret ` + frankSecret + `
		}`
	}
	cfg := newSiteConfig(t)
	cfg.ExtraClients = users(literalSecret)
	srv := startCaddyWith(t, cfg, cfg.caddyfile(t), "E2E_TOTP_SECRET="+envSecret)
	var warned bool
	for _, l := range jsonLogLines(srv.Log.String()) {
		switch l["secret"] {
		case "user frank totp_secret":
			warned = l["level"] == "warn"
		case "user erin totp_secret":
			t.Errorf("warned about erin's {env.*} totp_secret: %v", l)
		}
	}
	if !warned {
		t.Error("no warning at load about frank's literal totp_secret")
	}
	for name, v := range map[string]string{"erin's": envSecret, "frank's": literalSecret} {
		if srv.logContains(v) {
			t.Errorf("Caddy's log shows %s TOTP secret", name)
		}
	}

	// A value that is no TOTP key, behind the placeholder: caddy validate
	// (which provisions) fails, naming the user and the setting only.
	const badValue = "NOT-A-TOTP-KEY-8901-SECRETVALUE"
	bad := newSiteConfig(t)
	bad.ExtraClients = users(literalSecret)
	file := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(file, bad.caddyfile(t), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(caddyBin, "validate", "--config", file, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "DEMO_CLIENT_SECRET="+demoClientSecret, "E2E_TOTP_SECRET="+badValue)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), jsonEscaped(`user "erin": totp_secret: not a base32 TOTP secret`)) {
		t.Errorf("caddy validate with a bad totp_secret: %v, want an error naming erin's totp_secret:\n%s", err, out)
	}
	if strings.Contains(string(out), "SECRETVALUE") || strings.Contains(string(out), literalSecret) {
		t.Errorf("caddy validate's output shows a TOTP secret:\n%s", out)
	}

	// A bad literal is found by the Caddyfile adapter, at its line.
	bad.ExtraClients = users(badValue)
	if err := os.WriteFile(file, bad.caddyfile(t), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(caddyBin, "adapt", "--config", file, "--adapter", "caddyfile").CombinedOutput()
	if err == nil || !strings.Contains(string(out), jsonEscaped(`user "frank": totp_secret: not a base32 TOTP secret`)) ||
		!strings.Contains(string(out), "(users[1].totp_secret), at "+file+":") {
		t.Errorf("caddy adapt with a bad literal totp_secret: %v, want an error at its line:\n%s", err, out)
	}
	if strings.Contains(string(out), "SECRETVALUE") {
		t.Errorf("caddy adapt's output shows the TOTP secret:\n%s", out)
	}
}
