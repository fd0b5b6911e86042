package provider_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

// deviceConsentPage starts a device authorization for clientID, enters its
// user code in b, signs alice in and returns the consent page (not answered)
// with its address, and the user code as the device shows it.
func (h *harness) deviceConsentPage(t *testing.T, b *browser, clientID string) (consent response, pageURL, userCode string) {
	t.Helper()
	da := h.deviceAuth(t, clientID, "openid email")
	userCode = da["user_code"].(string)
	pg := b.get(da["verification_uri_complete"].(string))
	action, csrf := page(t, pg)
	r := b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "user_code": {userCode}})
	for range 3 {
		loc := r.header.Get("Location")
		if r.status != http.StatusSeeOther || !strings.Contains(loc, "/interaction/") {
			t.Fatalf("no consent page: %d %s", r.status, r.body)
		}
		p := b.get(h.abs(loc))
		act, tok := page(t, p)
		if strings.HasSuffix(act, "/consent") {
			return p, h.abs(loc), userCode
		}
		r = b.postForm(h.abs(act), url.Values{"csrf_token": {tok}, "login": {"alice"}, "password": {alicePassword}})
	}
	t.Fatal("no consent page after login")
	return response{}, "", ""
}

// variablePart is what differs between two renderings of one page: the
// interaction's address and the form token.
var variablePart = regexp.MustCompile(`/interaction/[^/"]+|value="[A-Za-z0-9_-]{20,}"`)

// The reproduction of issue 8 item 3: a client that registered itself with
// the name of a configured device client got a consent page identical to
// the configured client's, so a victim sent the attacker's
// verification_uri_complete could not tell them apart. The name rule
// cannot cover a client the operator configures after the registration
// (as here), so the page itself must tell them apart.
func TestDeviceConsentOfRegisteredLookalikeDiffersFromConfigured(t *testing.T) {
	t.Parallel()
	reg := newHarness(t, openRegistration)
	r := reg.register(`{"client_name":"Living Room TV","grant_types":["urn:ietf:params:oauth:grant-type:device_code"],"response_types":[],"token_endpoint_auth_method":"none"}`, "")
	if r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	impostor := jsonBody(t, r)["client_id"].(string)
	// The operator then configures the real "Living Room TV" on the same
	// store (a configuration reload).
	h := newHarness(t, withDeviceClient(t), openRegistration, func(c *provider.Config) { c.Store = reg.store })
	real, _, _ := h.deviceConsentPage(t, h.browser(), "tv")
	fake, _, _ := h.deviceConsentPage(t, h.browser(), impostor)
	if variablePart.ReplaceAllString(real.body, "") == variablePart.ReplaceAllString(fake.body, "") {
		t.Fatalf("the registered client's consent page is the configured client's:\n%s", fake.body)
	}
	if !strings.Contains(fake.body, "Registered by a third party; not verified by 127.0.0.1.") {
		t.Errorf("the registered client is not marked as such:\n%s", fake.body)
	}
	if strings.Contains(real.body, "third party") {
		t.Errorf("the configured client is marked as registered by a third party:\n%s", real.body)
	}
}

// A self-registered client is marked on the ordinary consent page too, with
// the host of its client_uri as plain text (no link: the address is the
// client's own claim), named by the operator's service name; names are
// escaped.
func TestConsentMarksSelfRegisteredClients(t *testing.T) {
	t.Parallel()
	h := newHarness(t, openRegistration, func(c *provider.Config) { c.Branding = provider.Branding{Name: "Example Login"} })
	r := h.register(`{"client_name":"<b>Kitchen</b> & Co","client_uri":"https://kitchen.example:8443/about?x=1","redirect_uris":["https://kitchen.example/cb"],"token_endpoint_auth_method":"none"}`, "")
	if r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	id := jsonBody(t, r)["client_id"].(string)
	b := h.browser()
	_, challenge := pkce("k")
	pageURL, action, csrf := b.openLoginPage(t, h.authorizeURL(map[string]string{"client_id": id, "redirect_uri": "https://kitchen.example/cb", "code_challenge": challenge, "code_challenge_method": "S256"}))
	b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "login": {"alice"}, "password": {alicePassword}})
	consent := b.get(pageURL)
	for _, want := range []string{
		"Registered by a third party; not verified by Example Login.",
		"Website given at registration: <strong>kitchen.example:8443</strong>",
		"&lt;b&gt;Kitchen&lt;/b&gt; &amp; Co",
	} {
		if !strings.Contains(consent.body, want) {
			t.Errorf("consent page lacks %q:\n%s", want, consent.body)
		}
	}
	if strings.Contains(consent.body, "<b>Kitchen") || strings.Contains(consent.body, `href="https://kitchen.example`) {
		t.Errorf("the client's name or address is not plain text:\n%s", consent.body)
	}
	// A configured client is not marked.
	b = h.browser()
	pageURL, action, csrf = b.openLoginPage(t, h.authorizeURL(nil))
	b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "login": {"alice"}, "password": {alicePassword}})
	if consent := b.get(pageURL); strings.Contains(consent.body, "third party") || !strings.Contains(consent.body, "Web App") {
		t.Errorf("configured client's consent page:\n%s", consent.body)
	}
}

// RFC 8628 §5.4 (remote phishing): the device consent says that a device
// asks, shows the user code to compare with the device's screen, and warns
// to approve only a code the user started; in every built-in language.
func TestDeviceConsentShowsCodeAndWarns(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withDeviceClient(t))
	b := h.browser()
	_, pageURL, userCode := h.deviceConsentPage(t, b, "tv")
	for lang, want := range map[string][]string{
		"en": {"A device using <strong>Living Room TV</strong> asks to:", "Code shown on the device:", "Allow only if you started this yourself"},
		"de": {"Ein Gerät, das <strong>Living Room TV</strong> verwendet, möchte:", "Auf dem Gerät angezeigter Code:", "Erlauben Sie den Zugriff nur,"},
		"fr": {"Un appareil utilisant <strong>Living Room TV</strong> souhaite :", "Code affiché sur l’appareil :", "N’autorisez l’accès que si"},
	} {
		consent := b.getIn(pageURL, lang)
		for _, w := range append(want, `<p class="user-code" id="user-code">`+userCode+`</p>`) {
			if !strings.Contains(consent.body, w) {
				t.Errorf("%s: device consent lacks %q:\n%s", lang, w, consent.body)
			}
		}
	}
	// The ordinary consent page has none of it.
	b = h.browser()
	pageURL, action, csrf := b.openLoginPage(t, h.authorizeURL(nil))
	b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "login": {"alice"}, "password": {alicePassword}})
	if consent := b.get(pageURL); strings.Contains(consent.body, "A device") || strings.Contains(consent.body, "user-code") {
		t.Errorf("a browser client's consent page talks about a device:\n%s", consent.body)
	}
}
