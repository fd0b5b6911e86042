package provider_test

import (
	"strings"
	"testing"
)

// state is echoed to the client and stored with every pending interaction;
// 1 KiB holds any real relying party's state (random values, or a signed or
// encrypted blob with a return URL) while bounding what an unauthenticated
// caller stores with each request.
func TestStateLengthIsBounded(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, challenge := pkce("s")
	ok := strings.Repeat("s", 1024)
	r := h.browser().get(h.authorizeURL(map[string]string{"state": ok, "code_challenge": challenge, "code_challenge_method": "S256"}))
	if !startedInteraction(r) {
		t.Fatalf("state of 1024 bytes: %d %s", r.status, r.header.Get("Location"))
	}
	r = h.browser().get(h.authorizeURL(map[string]string{"state": ok + "s", "code_challenge": challenge, "code_challenge_method": "S256"}))
	q := redirectParams(t, r, webRedirect)
	if q.Get("error") != "invalid_request" || q.Get("state") != "" {
		t.Errorf("state of 1025 bytes: %v, want invalid_request without the state", q)
	}
}
