package provider

import (
	"bytes"
	"testing"
)

// The user code kept in an interaction opens only with the browser-binding
// cookie of that interaction, and the stored bytes do not contain it.
func TestDeviceUserCodeIsSealedToTheBrowser(t *testing.T) {
	t.Parallel()
	sealed := sealUserCode("BCDFGHJK", "binding-cookie-value", "uid-1")
	if bytes.Contains(sealed, []byte("BCDFGHJK")) {
		t.Fatal("the sealed user code contains the code")
	}
	if got := openUserCode(sealed, "binding-cookie-value", "uid-1"); got != "BCDFGHJK" {
		t.Fatalf("open = %q", got)
	}
	for _, c := range []struct{ binding, uid string }{{"another-cookie", "uid-1"}, {"binding-cookie-value", "uid-2"}} {
		if got := openUserCode(sealed, c.binding, c.uid); got != "" {
			t.Errorf("opened with binding %q uid %q: %q", c.binding, c.uid, got)
		}
	}
	if sealUserCode("", "b", "u") != nil || openUserCode(nil, "b", "u") != "" {
		t.Error("no code must seal to nothing and open to nothing")
	}
}

// The consent page shows a registered client's client_uri host as it can be
// read without doubt: lower case, punycode for non-ASCII names, the port
// kept, nothing for an address that is not a web URL.
func TestClientURIHostIsShownUnambiguously(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"https://App.Example/x?y=1":    "app.example",
		"https://app.example:8443/":    "app.example:8443",
		"https://pаypal.example/":      "xn--pypal-4ve.example", // Cyrillic а
		"https://bücher.example/":      "xn--bcher-kva.example",
		"https://[2001:DB8::1]:8443/":  "[2001:db8::1]:8443",
		"http://127.0.0.1:9000/":       "127.0.0.1:9000",
		"":                             "",
		"javascript:alert(1)":          "",
		"https://user:pw@app.example/": "app.example",
		"https://exa mple.example/":    "",
	} {
		if got := clientURIHost(raw); got != want {
			t.Errorf("clientURIHost(%q) = %q, want %q", raw, got, want)
		}
	}
}
