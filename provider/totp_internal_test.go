package provider

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// RFC 4226 Appendix D: HOTP values of the test secret for counters 0-9.
func TestHOTPMatchesRFC4226Vectors(t *testing.T) {
	t.Parallel()
	key := []byte("12345678901234567890")
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for c, w := range want {
		if got := hotp(key, uint64(c), 6); got != w {
			t.Errorf("counter %d: %s, want %s", c, got, w)
		}
	}
}

// RFC 6238 Appendix B, the SHA-1 rows (8 digits, 30-second steps).
func TestTOTPMatchesRFC6238Vectors(t *testing.T) {
	t.Parallel()
	key := []byte("12345678901234567890")
	for _, v := range []struct {
		unix int64
		want string
	}{{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"}, {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"}} {
		if got := hotp(key, uint64(totpStep(time.Unix(v.unix, 0))), 8); got != v.want {
			t.Errorf("T=%d: %s, want %s", v.unix, got, v.want)
		}
	}
}

// A code is accepted one step early or late (clock drift, typing time),
// not two; the step it matched is reported for single use.
func TestTOTPWindowIsOneStepEachWay(t *testing.T) {
	t.Parallel()
	k, err := ParseTOTPKey(NewTOTPSecret())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	for off, ok := range map[int]bool{-2: false, -1: true, 0: true, 1: true, 2: false} {
		at := now.Add(time.Duration(off*totpPeriod) * time.Second)
		step, got := matchTOTP(k, TOTPCode(k, at), now)
		if got != ok || (ok && step != totpStep(at)) {
			t.Errorf("code of step %+d: accepted %v (step %d), want %v", off, got, step, ok)
		}
	}
	code := TOTPCode(k, now)
	if _, ok := matchTOTP(k, code[:3]+" "+code[3:], now); !ok {
		t.Error("a code typed with a space in the middle was refused")
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if _, ok := matchTOTP(k, bad, now); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, ok := matchTOTP(TOTPKey{}, code, now); ok {
		t.Error("a user without a key accepted a code")
	}
}

// Secrets are read as apps show them, short ones are refused, and neither
// an error nor any printing of a key or an account shows the secret.
func TestTOTPKeysParseLeniently(t *testing.T) {
	t.Parallel()
	secret := NewTOTPSecret()
	if len(secret) != 32 {
		t.Fatalf("new secret %d characters, want 32 (160 bits)", len(secret))
	}
	a, err := ParseTOTPKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	spaced := strings.ToLower(secret[:4] + " " + secret[4:8] + "-" + secret[8:])
	b, err := ParseTOTPKey(spaced)
	if err != nil || string(a.key) != string(b.key) {
		t.Fatalf("lower case with spaces: %v", err)
	}
	// Too short, not base32, and one character missing from a good secret
	// (which the decoder alone would take as a 19-byte key).
	for _, bad := range []string{"JBSWY3DPEHPK3PXP", "not base32 at all!1", secret[:20], "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PX"} {
		_, err := ParseTOTPKey(bad)
		if err == nil {
			t.Errorf("%q accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), bad) {
			t.Errorf("the error quotes the secret: %v", err)
		}
	}
	acc := &Account{Subject: "bob", SecondFactor: a}
	j, _ := json.Marshal(acc)
	for _, out := range []string{fmt.Sprint(acc), fmt.Sprintf("%+v", acc), fmt.Sprintf("%#v", acc), fmt.Sprintf("%x", a), string(j)} {
		if strings.Contains(out, string(a.key)) || strings.Contains(strings.ToLower(out), fmt.Sprintf("%x", a.key)) || strings.Contains(out, secret) {
			t.Errorf("the key shows in %q", out)
		}
	}
}

// The key URI writes spaces as %20 (some apps show a + as is) and escapes
// a colon inside the issuer or account, which would split the label.
func TestTOTPKeyURIEscapes(t *testing.T) {
	t.Parallel()
	got := TOTPKeyURI("Example Login", "ali:ce", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
	if !strings.HasPrefix(got, "otpauth://totp/Example%20Login:ali%3Ace?") || !strings.HasSuffix(got, "&issuer=Example%20Login") || strings.Contains(got, "+") {
		t.Errorf("key URI %s", got)
	}
	if !strings.Contains(got, "secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP") || !strings.Contains(got, "digits=6") || !strings.Contains(got, "period=30") {
		t.Errorf("key URI parameters %s", got)
	}
}

// Whatever is written as a secret, parsing neither panics nor quotes it in
// its error, and a key it accepts is the canonical text's (no silently
// dropped bits) of at least 128 bits.
func FuzzParseTOTPKey(f *testing.F) {
	for _, s := range []string{"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "jbsw y3dp-ehpk 3pxp jbsw y3dp ehpk 3pxp", "JBSWY3DPEHPK3PX", "====", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseTOTPKey(s)
		if err != nil {
			if len(s) >= 4 && strings.Contains(err.Error(), s) {
				t.Fatalf("the error quotes the input: %v", err)
			}
			return
		}
		if len(k.key) < totpMinKeyLen {
			t.Fatalf("a %d-byte key accepted", len(k.key))
		}
		again, err := ParseTOTPKey(base32NoPad.EncodeToString(k.key))
		if err != nil || string(again.key) != string(k.key) {
			t.Fatalf("the canonical text of an accepted key does not parse back: %v", err)
		}
	})
}
