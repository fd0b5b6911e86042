package provider

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // RFC 6238's default, and the only algorithm authenticator apps agree on
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// Time-based one-time passwords (RFC 6238), the second factor. The
// parameters are the ones every authenticator app implements, so they are
// fixed rather than configurable: HMAC-SHA-1, 6 digits, 30-second steps
// from the Unix epoch (RFC 6238 §4.1–4.2, the otpauth key URI defaults).
const (
	totpDigits = 6
	totpPeriod = 30 // seconds (RFC 6238 §5.2 recommends 30)
	// totpSkew is how many steps before and after the current one are
	// accepted, for clock drift and for the time the user takes to type
	// (RFC 6238 §5.2 recommends at most one step of network delay).
	totpSkew = 1
	// totpMinKeyLen: RFC 4226 §4 R6: the shared secret MUST be at least
	// 128 bits (160 recommended, what NewTOTPSecret makes).
	totpMinKeyLen = 16
	totpKeyLen    = 20
)

// TOTPKey is a user's shared TOTP secret. It prints as a placeholder in
// any format and as JSON, so an Account logged by mistake shows no key.
type TOTPKey struct{ key []byte }

// Set reports whether there is a key (the user has a second factor).
func (k TOTPKey) Set() bool { return len(k.key) > 0 }

// Format hides the key from fmt (%v, %+v, %#v, %s, %x ...).
func (k TOTPKey) Format(f fmt.State, _ rune) {
	if k.Set() {
		_, _ = io.WriteString(f, "TOTPKey(redacted)")
		return
	}
	_, _ = io.WriteString(f, "TOTPKey(none)")
}

// MarshalJSON hides the key from encoding/json.
func (k TOTPKey) MarshalJSON() ([]byte, error) { return []byte(`"redacted"`), nil }

// base32NoPad is the key encoding of authenticator apps (RFC 4648 §6, as
// in otpauth URIs), written without padding.
var base32NoPad = base32.StdEncoding.WithPadding(base32.NoPadding)

// ParseTOTPKey reads a base32 secret as authenticator apps show it: case,
// spaces, hyphens and padding do not matter. The error never quotes the
// secret.
func ParseTOTPKey(s string) (TOTPKey, error) {
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '=', '\t':
			return -1
		}
		return r
	}, strings.ToUpper(s))
	key, err := base32NoPad.DecodeString(clean)
	// The decoder drops the bits past the last whole byte silently, so a
	// secret with a character missing or extra could load as another key.
	// Only the canonical text of the key (those bits zero, as every
	// generator writes) is taken.
	if err != nil || base32NoPad.EncodeToString(key) != clean {
		return TOTPKey{}, errors.New("not a base32 TOTP secret (letters A-Z and digits 2-7)")
	}
	if len(key) < totpMinKeyLen {
		return TOTPKey{}, fmt.Errorf("a TOTP secret of %d bits is too short: at least 128 bits (RFC 4226 §4); make one with caddy oidc-totp-secret", len(key)*8)
	}
	return TOTPKey{key: key}, nil
}

// NewTOTPSecret returns a fresh 160-bit secret in base32, for a user's
// totp_secret and their authenticator app.
func NewTOTPSecret() string {
	key := make([]byte, totpKeyLen)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	return base32NoPad.EncodeToString(key)
}

// TOTPKeyURI is the otpauth:// URI that authenticator apps import (the
// Key Uri Format of Google Authenticator, which the others follow): the
// label "issuer:account", the secret and the fixed parameters.
func TOTPKeyURI(issuerName, account, secret string) string {
	// Spaces as %20, not +: the key URI format's examples do so, and some
	// apps show a + literally. A colon inside either part would split the
	// label wrongly, so it is escaped too.
	esc := func(s string) string { return strings.ReplaceAll(url.PathEscape(s), ":", "%3A") }
	q := url.Values{
		"secret":    {strings.ToUpper(strings.ReplaceAll(secret, " ", ""))},
		"algorithm": {"SHA1"}, "digits": {fmt.Sprint(totpDigits)}, "period": {fmt.Sprint(totpPeriod)},
	}
	return "otpauth://totp/" + esc(issuerName) + ":" + esc(account) + "?" + q.Encode() + "&issuer=" + esc(issuerName)
}

// TOTPCode is the code of key at time t (what the user's app shows).
func TOTPCode(key TOTPKey, t time.Time) string {
	return hotp(key.key, uint64(totpStep(t)), totpDigits)
}

func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// hotp is RFC 4226 §5.3: HMAC-SHA-1 of the counter, dynamic truncation,
// the low digits in decimal.
func hotp(key []byte, counter uint64, digits int) string {
	mac := hmac.New(sha1.New, key)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// matchTOTP finds the step, within the skew around now, whose code is
// code. Every step in the window is computed and compared in constant
// time, so the time taken does not tell which step (or digit) matched.
func matchTOTP(key TOTPKey, code string, now time.Time) (step int64, ok bool) {
	code = strings.ReplaceAll(code, " ", "")
	if !key.Set() || len(code) != totpDigits {
		return 0, false
	}
	cur := totpStep(now)
	for s := cur - totpSkew; s <= cur+totpSkew; s++ {
		if subtle.ConstantTimeCompare([]byte(hotp(key.key, uint64(s), totpDigits)), []byte(code)) == 1 && !ok {
			step, ok = s, true
		}
	}
	return step, ok
}
