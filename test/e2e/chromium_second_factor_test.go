package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The one-time code page in Chromium: reached after the password when the
// application asks for acr_values=mfa; the field is labelled, described by
// the help text, numeric with one-time-code autofill, and focused; a wrong
// code leaves the user on the page (POST-redirect-GET) with the message
// announced; axe finds no violation in light or dark mode, with or without
// the message; the right code typed goes on to the consent page.
func TestChromiumSecondFactorPage(t *testing.T) {
	rp := startRP(t)
	cfg := newSiteConfig(t)
	cfg.ExtraClients = `
		client browser-app {
			name "Browser App"
			public
			redirect_uri ` + rp.url + `/callback
		}` + mfaUserBlock
	tab := newTab(t) // first: it skips when Chromium is missing
	startCaddyWith(t, cfg, cfg.caddyfile(t), "MFA_TOTP_SECRET="+e2eTOTPSecret)
	issuer := cfg.Issuer()
	sum := sha256.Sum256([]byte(strings.Repeat("chromium-otp-verifier-", 2)))
	tab.open(issuer + "/authorize?" + url.Values{
		"client_id": {"browser-app"}, "redirect_uri": {rp.url + "/callback"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"otp-state"}, "acr_values": {"mfa"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}.Encode())
	tab.do(chromedp.SendKeys(chromedp.CSS("#login"), "mfa-user"), chromedp.SendKeys(chromedp.CSS("#password"), "demo"))
	tab.clickTo("button.primary")
	if h1 := tab.text("h1"); h1 != "Two-step verification" {
		t.Fatalf("after the password: %q, want the code page", h1)
	}
	pageURL := evalJS[string](tab, `location.href`)
	field := evalJS[map[string]any](tab, `(() => { const f = document.querySelector("#otp");
		return {focused: document.activeElement === f, label: document.querySelector("label[for=otp]").textContent,
			mode: f.inputMode, auto: f.autocomplete, described: f.getAttribute("aria-describedby")}; })()`)
	if field["focused"] != true || field["label"] != "One-time code" || field["mode"] != "numeric" || field["auto"] != "one-time-code" || field["described"] != "otp-help" {
		t.Errorf("the code field: %v", field)
	}
	tab.inspect("one-time code")

	wrong := "000000"
	if totpCode(t, -1) == wrong || totpCode(t, 0) == wrong || totpCode(t, 1) == wrong {
		wrong = "999999"
	}
	tab.do(chromedp.SendKeys(chromedp.CSS("#otp"), wrong))
	tab.clickTo("button.primary")
	if got := evalJS[string](tab, `location.href`); got != pageURL {
		t.Errorf("after a wrong code the page is %s, want %s", got, pageURL)
	}
	if msg := tab.text(".error"); !strings.Contains(msg, "not correct") {
		t.Errorf("message after a wrong code: %q", msg)
	}
	if d := evalJS[string](tab, `document.querySelector("#otp").getAttribute("aria-describedby")`); d != "otp-help form-error" {
		t.Errorf("the field is described by %q, want the help and the message", d)
	}
	tab.inspect("one-time code with error")

	tab.do(chromedp.SendKeys(chromedp.CSS("#otp"), totpCode(t, 0)))
	tab.clickTo("button.primary")
	if h1 := tab.text("h1"); h1 != "Allow access?" {
		t.Fatalf("after the right code: %q, want the consent page", h1)
	}
}
