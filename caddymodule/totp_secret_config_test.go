package caddymodule

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/oidcaddy/oidcaddy/provider"
)

// testTOTPSecret is RFC 6238's SHA-1 test key ("12345678901234567890") in
// base32; shortTOTPSecret is 80 bits, below RFC 4226's minimum.
const (
	testTOTPSecret  = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	shortTOTPSecret = "JBSWY3DPEHPK3PXP"
)

// secondFactorOf loads users as the provider does and returns the code the
// account of login expects at t ("" when it has no second factor).
func secondFactorOf(t *testing.T, users []provider.User, login string) string {
	t.Helper()
	accounts, err := provider.NewStaticAccounts(users...)
	if err != nil {
		t.Fatalf("users refused: %v", err)
	}
	for _, u := range users {
		if u.Login != login {
			continue
		}
		sub := u.Subject
		if sub == "" {
			sub = u.Login
		}
		acc, err := accounts.Account(t.Context(), sub)
		if err != nil || acc == nil {
			t.Fatalf("account %q: %v", sub, err)
		}
		if !acc.SecondFactor.Set() {
			return ""
		}
		return provider.TOTPCode(acc.SecondFactor, time.Unix(59, 0))
	}
	t.Fatalf("no user %q", login)
	return ""
}

func TestCaddyfileUserTOTPSecret(t *testing.T) {
	for name, tc := range map[string]struct{ line, want string }{
		"as generated":             {"totp_secret " + testTOTPSecret, testTOTPSecret},
		"in groups, as apps show":  {"totp_secret GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ", "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"},
		"placeholder, kept as is":  {"totp_secret {env.ALICE_TOTP}", "{env.ALICE_TOTP}"},
		"file placeholder as well": {"totp_secret {file./run/secrets/alice_totp}", "{file./run/secrets/alice_totp}"},
	} {
		t.Run(name, func(t *testing.T) {
			var h Handler
			in := "oidc_provider {\n issuer https://a.example\n user alice {\n  password_hash $2a$10$abcdefghijklmnopqrstuu\n  " + tc.line + "\n }\n}"
			if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err != nil {
				t.Fatal(err)
			}
			if len(h.Users) != 1 || h.Users[0].TOTPSecret != tc.want {
				t.Fatalf("users = %+v, want totp_secret %q", h.Users, tc.want)
			}
		})
	}
	// The grouped form is the same key as the plain one.
	users := []provider.User{
		{Login: "plain", PasswordHash: testHash(t), TOTPSecret: testTOTPSecret},
		{Login: "grouped", PasswordHash: testHash(t), TOTPSecret: "gezd gnbv gy3t qojq gezd gnbv gy3t qojq"},
	}
	// RFC 6238 Appendix B: at T = 59 s the SHA-1 code is 94287082 (8 digits).
	if p, g := secondFactorOf(t, users, "plain"), secondFactorOf(t, users, "grouped"); p != "287082" || g != p {
		t.Fatalf("codes at 59 s: %q and %q, want 287082 (RFC 6238 Appendix B, 6 digits)", p, g)
	}
}

func TestCaddyfileUserTOTPSecretErrors(t *testing.T) {
	runCaddyfileErrorCases(t, []caddyfileErrorCase{
		{
			name:  "no value",
			input: "oidc_provider {\n issuer https://a.example\n user alice {\n  totp_secret\n }\n}",
			want:  []string{"Testfile:4", "usage: totp_secret"},
		},
		{
			name:  "twice",
			input: "oidc_provider {\n issuer https://a.example\n user alice {\n  totp_secret {env.A}\n  totp_secret {env.B}\n }\n}",
			want:  []string{"Testfile:5", "totp_secret already specified"},
		},
		{
			name:  "unknown subdirective lists totp_secret",
			input: "oidc_provider {\n issuer https://a.example\n user alice {\n  otp {env.A}\n }\n}",
			want:  []string{"Testfile:4", "expected password_hash, subject, claim, groups or totp_secret"},
		},
	})
}

// A literal secret that is not a TOTP key fails `caddy adapt` at its line;
// the error says why and never shows the value.
func TestCaddyfileBadTOTPSecretIsReportedAtItsLineWithoutTheValue(t *testing.T) {
	for name, secret := range map[string]string{
		"not base32":   "NOT-BASE32-1890-SECRETVALUE",
		"too short":    shortTOTPSecret,
		"base32 typo":  "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1",
		"many groups":  "GEZD GNBV GY3T QOJ! GEZD GNBV GY3T QOJQ",
		"braced value": "abc{notaplaceholder}GEZDGNBV",
	} {
		t.Run(name, func(t *testing.T) {
			in := "oidc_provider {\n issuer https://a.example\n user alice {\n  password_hash $2a$10$abcdefghijklmnopqrstuu\n  totp_secret " + secret + "\n }\n}"
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in))
			if name == "braced value" {
				// Taken for a placeholder: checked once resolved (below).
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if want := `user "alice": totp_secret: `; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "(users[0].totp_secret), at Testfile:5") {
				t.Errorf("error %q: want %q at (users[0].totp_secret), at Testfile:5", err, want)
			}
			assertNoSecret(t, err, secret)
		})
	}
}

// assertNoSecret fails when err shows secret or any group of it.
func assertNoSecret(t *testing.T, err error, secret string) {
	t.Helper()
	for _, part := range append(strings.Fields(secret), strings.ReplaceAll(secret, " ", "")) {
		if len(part) >= 4 && strings.Contains(err.Error(), part) {
			t.Errorf("error shows the secret (%q): %v", part, err)
		}
	}
}

// At provision, a placeholder is resolved like a client secret's and the
// user gets the key as their second factor.
func TestProvisionResolvesTOTPSecretPlaceholders(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OIDCADDY_TEST_TOTP", testTOTPSecret)
	secretFile := filepath.Join(dir, "bob_totp")
	writeFile(t, secretFile, []byte(strings.ToLower(testTOTPSecret)))
	h := testHandler(t, dir)
	h.Users = append(h.Users,
		UserConfig{Login: "alice", PasswordHash: testHash(t), TOTPSecret: "{env.OIDCADDY_TEST_TOTP}"},
		UserConfig{Login: "bob", PasswordHash: testHash(t), TOTPSecret: "{file." + secretFile + "}"},
	)
	users, err := h.collectUsers(caddy.NewReplacer())
	if err != nil {
		t.Fatal(err)
	}
	for _, login := range []string{"alice", "bob"} {
		if got := secondFactorOf(t, users, login); got != "287082" {
			t.Errorf("%s: code %q at 59 s, want 287082: the placeholder's key is not the user's second factor", login, got)
		}
	}
	if got := secondFactorOf(t, users, "demo"); got != "" {
		t.Errorf("demo has no totp_secret but a second factor (%q)", got)
	}
	if err := h.Provision(newTestContext(t)); err != nil {
		t.Fatalf("provision: %v", err)
	}
	h.Cleanup()
}

// Every way provisioning can fail on a user's totp_secret: a clear error
// that names the user and the setting, never the secret, and before the
// database is opened.
func TestProvisionRefusesBadTOTPSecretWithoutShowingIt(t *testing.T) {
	const badValue = "NOT-A-KEY-8901-SECRETVALUE"
	for name, tc := range map[string]struct {
		secret, env string
		want        []string
	}{
		"literal, not base32": {badValue, "", []string{`users[1].totp_secret: user "alice": totp_secret: not a base32 TOTP secret`, "(Caddyfile: user alice { totp_secret })"}},
		"literal, too short":  {shortTOTPSecret, "", []string{`user "alice": totp_secret: a TOTP secret of 80 bits is too short`}},
		"placeholder, not base32": {"{env.OIDCADDY_TEST_TOTP}", badValue,
			[]string{`user "alice": totp_secret: not a base32 TOTP secret`}},
		"placeholder, too short": {"{env.OIDCADDY_TEST_TOTP}", shortTOTPSecret,
			[]string{`user "alice": totp_secret: a TOTP secret of 80 bits is too short`}},
		"placeholder unset": {"{env.OIDCADDY_TEST_UNSET}", "", []string{`user "alice": totp_secret: `, "{env.OIDCADDY_TEST_UNSET} is empty"}},
		"literal with braces": {"abc{notaplaceholder}" + badValue, "",
			[]string{`user "alice": totp_secret: a placeholder in it is unknown or empty`}},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("OIDCADDY_TEST_TOTP", tc.env)
			h := testHandler(t, dir)
			h.Users = append(h.Users, UserConfig{Login: "alice", PasswordHash: testHash(t), TOTPSecret: tc.secret})
			err := h.Provision(newTestContext(t))
			defer h.Cleanup()
			if err == nil {
				t.Fatal("provisioned")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, v := range []string{badValue, shortTOTPSecret, "notaplaceholder", "SECRETVALUE"} {
				if strings.Contains(err.Error(), v) {
					t.Errorf("error shows the secret (%q): %v", v, err)
				}
			}
			if n := references(dir); n != 0 {
				t.Fatalf("store opened for an invalid configuration (references = %d)", n)
			}
		})
	}
}

// users_file takes the same field, placeholders included, and a bad one
// fails the load without showing it.
func TestUsersFileTOTPSecret(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OIDCADDY_TEST_TOTP", testTOTPSecret)
	file := filepath.Join(dir, "users.json")
	write := func(users []UserConfig) {
		t.Helper()
		data, err := json.Marshal(users)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, file, data)
	}
	write([]UserConfig{
		{Login: "carol", PasswordHash: testHash(t), TOTPSecret: testTOTPSecret},
		{Login: "dave", PasswordHash: testHash(t), TOTPSecret: "{env.OIDCADDY_TEST_TOTP}"},
	})
	h := testHandler(t, dir)
	h.UsersFile = file
	users, err := h.collectUsers(caddy.NewReplacer())
	if err != nil {
		t.Fatal(err)
	}
	for _, login := range []string{"carol", "dave"} {
		if got := secondFactorOf(t, users, login); got != "287082" {
			t.Errorf("%s: code %q at 59 s, want 287082", login, got)
		}
	}

	const badValue = "NOT-A-KEY-8901-SECRETVALUE"
	write([]UserConfig{{Login: "carol", PasswordHash: testHash(t), TOTPSecret: badValue}})
	err = h.Provision(newTestContext(t))
	defer h.Cleanup()
	if err == nil || !strings.Contains(err.Error(), `user "carol": totp_secret: not a base32 TOTP secret`) {
		t.Fatalf("error = %v, want one naming carol's totp_secret", err)
	}
	assertNoSecret(t, err, badValue)
}

// A literal totp_secret in the config draws the literal-secret warning,
// naming the user and never the value; a placeholder does not, nor does
// users_file, which Caddy neither serves nor logs.
func TestLiteralTOTPSecretIsWarnedAboutByPlaceNotValue(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "users.json")
	data, _ := json.Marshal([]UserConfig{{Login: "carol", PasswordHash: testHash(t), TOTPSecret: testTOTPSecret}})
	writeFile(t, file, data)
	t.Setenv("OIDCADDY_TEST_TOTP", testTOTPSecret)
	h := testHandler(t, dir)
	h.UsersFile = file
	h.Users = append(h.Users,
		UserConfig{Login: "alice", PasswordHash: testHash(t), TOTPSecret: testTOTPSecret},
		UserConfig{Login: "bob", PasswordHash: testHash(t), TOTPSecret: "{env.OIDCADDY_TEST_TOTP}"},
	)
	core, logs := observer.New(zapcore.InfoLevel)
	warnLiteralSecrets(zap.New(core), h)
	var places []string
	for _, e := range logs.All() {
		places = append(places, e.ContextMap()["secret"].(string))
		if strings.Contains(e.Message, testTOTPSecret) || strings.Contains(fmt.Sprint(e.ContextMap()), testTOTPSecret) {
			t.Errorf("warning contains the secret: %+v", e)
		}
	}
	if got, want := strings.Join(places, ","), "user alice totp_secret"; got != want {
		t.Errorf("warned about %q, want %q", got, want)
	}
}
