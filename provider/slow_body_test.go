package provider_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/internal/trickle"
	"github.com/oidcaddy/oidcaddy/provider"
)

// A client that trickles its request body (here 1 byte every 50 ms of a
// declared 200) must not hold the connection and a handler for as long as
// it likes: the provider stops reading after Config.BodyReadTimeout and
// answers 408 with an RFC 6749 §5.2 error body while the client is still
// sending. Both the form endpoints and the JSON registration endpoint.
func TestSlowRequestBodyIsCutOff(t *testing.T) {
	// In parallel with the other waiting tests: it waits out body read deadlines,
	// which costs wall time, not work.
	t.Parallel()
	h := newHarness(t, openRegistration, func(c *provider.Config) { c.BodyReadTimeout = 300 * time.Millisecond })
	for _, tc := range []struct{ path, contentType string }{
		{"/token", "application/x-www-form-urlencoded"},
		{"/token/introspection", "application/x-www-form-urlencoded"},
		{"/register", "application/json"},
	} {
		t.Run(strings.Trim(tc.path, "/"), func(t *testing.T) {
			t.Parallel() // each case waits out the same deadline: wait once
			const bodyLen = 200
			res, err := trickle.Post(strings.TrimPrefix(h.srv.URL, "http://"), tc.path, tc.contentType, bodyLen, 50*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if res.Sent >= bodyLen {
				t.Errorf("the server waited for the whole trickled body (%d bytes) before answering", res.Sent)
			}
			if res.Status != http.StatusRequestTimeout || !strings.Contains(string(res.Body), `"error":"invalid_request"`) {
				t.Errorf("slow body: %d %s, want 408 invalid_request", res.Status, res.Body)
			}
		})
	}
}
