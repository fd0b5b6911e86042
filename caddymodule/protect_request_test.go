package caddymodule

import (
	"net/http/httptest"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

// Only a page navigation may be redirected to the login; scripts and API
// clients get 401.
func TestProtectNavigationDetection(t *testing.T) {
	for _, c := range []struct {
		method string
		hdr    map[string]string
		want   bool
	}{
		{"GET", map[string]string{"Sec-Fetch-Mode": "navigate"}, true},
		{"GET", map[string]string{"Sec-Fetch-Mode": "cors", "Accept": "text/html"}, false},
		{"GET", map[string]string{"Accept": "text/html,application/xhtml+xml"}, true},
		{"GET", map[string]string{"Accept": "application/json"}, false},
		{"GET", nil, false},
		{"POST", map[string]string{"Sec-Fetch-Mode": "navigate"}, false},
	} {
		r := httptest.NewRequest(c.method, "/x", nil)
		for k, v := range c.hdr {
			r.Header.Set(k, v)
		}
		if got := isNavigation(r); got != c.want {
			t.Errorf("%s %v: %v, want %v", c.method, c.hdr, got, c.want)
		}
	}
}

// After login the browser goes back only to a path of the protected site,
// never to a host named in a forged login cookie.
func TestProtectReturnsOnlyToLocalPaths(t *testing.T) {
	gl := &provider.GateLogin{State: "st", Verifier: "v"}
	for _, rt := range []string{"//evil.example/", "/\\evil.example", "https://evil.example/", "evil"} {
		if _, _, _, ok := parseLoginCookie(loginCookieValue(gl, rt)); ok {
			t.Errorf("return to %q accepted", rt)
		}
	}
	if _, _, got, ok := parseLoginCookie(loginCookieValue(gl, "/a?b=c")); !ok || got != "/a?b=c" {
		t.Errorf("local path: %q %v", got, ok)
	}
	if got := returnPath(httptest.NewRequest("GET", "http://app.example//evil.example/x", nil)); got != "/" {
		t.Errorf("returnPath of a //host path: %q", got)
	}
}
