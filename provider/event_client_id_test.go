package provider_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcaddy/oidcaddy/provider"
)

// A client id nobody has authenticated yet is whatever the caller sent, up
// to the 2 KB parameter limit: it reaches events (and so logs and spans)
// bounded in length and with only the characters a client id may have
// (RFC 6749 Appendix A.1, VSCHAR), so nobody fills the logs or forges log
// lines through it.
func TestUnauthenticatedClientIDsAreBoundedInEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	long := strings.Repeat("x", 2000)
	forged := "evil\n{\"level\":\"info\",\"msg\":\"fake\"}\x1b[31m"
	for _, id := range []string{long, forged} {
		h.events.reset()
		r := h.token(url.Values{"grant_type": {"client_credentials"}}, id, "whatever")
		if r.status != http.StatusUnauthorized {
			t.Fatalf("unknown client: %d %s", r.status, r.body)
		}
		// At the authorization endpoint, without authentication at all.
		h.browser().get(h.issuer + "/authorize?" + url.Values{"client_id": {id}, "response_type": {"code"}}.Encode())
		n := 0
		h.events.mu.Lock()
		for _, e := range h.events.events {
			if e.ClientID == "" {
				continue
			}
			n++
			if len(e.ClientID) > 256 {
				t.Errorf("%s: client id of %d bytes in the event", e.Name, len(e.ClientID))
			}
			for _, c := range []byte(e.ClientID) {
				if c < 0x20 || c > 0x7e {
					t.Errorf("%s: client id %q has byte %#x", e.Name, e.ClientID, c)
					break
				}
			}
		}
		h.events.mu.Unlock()
		if n == 0 {
			t.Errorf("want an error event naming the client, got %v", h.events.names())
		}
	}
	// A real client id passes unchanged.
	h.events.reset()
	h.tokens(t, "web", "openid")
	if h.events.count(provider.EventGrantSuccess) == 0 {
		t.Fatal("no grant.success")
	}
	h.events.mu.Lock()
	defer h.events.mu.Unlock()
	for _, e := range h.events.events {
		if e.ClientID != "" && e.ClientID != "web" {
			t.Errorf("%s: client id %q, want web", e.Name, e.ClientID)
		}
	}
}
