package e2e

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// hashWithCaddy runs `caddy oidc-hash-password args...` with password on
// standard input (not a terminal) and returns its stdout.
func hashWithCaddy(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(caddyBin, append([]string{"oidc-hash-password"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil && strings.Contains(errOut.String(), "hunter2") {
		t.Errorf("the command's error output shows the password: %s", errOut.String())
	}
	return out.String(), err
}

// A hash made by `caddy oidc-hash-password` (argon2id by default) signs a
// user in through the real binary, next to the demo user's bcrypt hash; the
// mixed costs are warned about at start.
func TestHashPasswordCommandSignsInAUser(t *testing.T) {
	if out, err := hashWithCaddy(t, "", "hunter2"); err == nil || out != "" {
		t.Fatalf("a password on the command line: exit %v, stdout %q; want it refused", err, out)
	}
	out, err := hashWithCaddy(t, "correct horse battery\n")
	if err != nil {
		t.Fatalf("caddy oidc-hash-password: %v", err)
	}
	hash := strings.TrimSpace(out)
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("default hash %q: want argon2id m=19456,t=2,p=1", hash)
	}
	cfg := newSiteConfig(t)
	cfg.ExtraClients = `
		user carol {
			password_hash ` + hash + `
			subject carol-subject
		}`
	srv := startCaddy(t, cfg)
	if !srv.logContains("password hashes differ in algorithm or cost") {
		t.Error("no warning at start about users with different hash settings (demo: bcrypt 10, carol: argon2id)")
	}
	if strings.Contains(srv.Log.String(), hash[len(hash)-20:]) {
		t.Error("Caddy's log shows carol's hash")
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spec := clientSpec{ID: "demo-spa", RedirectURI: "http://localhost:5557/callback"}
	rp := newRelyingParty(ctx, t, cfg.Issuer(), spec)
	req := rp.newAuthRequest()
	res := newBrowser(t).authorize(ctx, req.URL, spec.RedirectURI, user{Login: "carol", Password: "correct horse battery", Decision: "allow"})
	if res.Error != "" || res.Code == "" {
		t.Fatalf("carol's sign-in: %+v", res)
	}
	tok, err := rp.conf.Exchange(ctx, res.Code, oauth2.VerifierOption(req.Verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(ctx, raw)
	if err != nil || idt.Subject != "carol-subject" {
		t.Fatalf("ID token: %v (sub %v)", err, idt)
	}
}
