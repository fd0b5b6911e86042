package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/internal/trickle"
)

// TestSlowRequestBodyIsCutOff trickles a token request body into the real
// Caddy, one byte every 100 ms of a declared 200: the provider's read
// deadline must reach the connection through Caddy's response writer
// wrappers, so the request is answered 408 while the client is still
// sending, instead of being read for 20 s.
func TestSlowRequestBodyIsCutOff(t *testing.T) {
	cfg := newSiteConfig(t)
	cfg.ExtraClients = "\t\tbody_read_timeout 1s\n"
	srv := startCaddy(t, cfg)
	host := strings.TrimPrefix(srv.cfg.Issuer(), "http://")
	const bodyLen = 200
	res, err := trickle.Post(host, "/token", "application/x-www-form-urlencoded", bodyLen, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent >= bodyLen {
		t.Errorf("Caddy waited for the whole trickled body (%d bytes) before answering", res.Sent)
	}
	if res.Status != http.StatusRequestTimeout || !strings.Contains(string(res.Body), `"error":"invalid_request"`) {
		t.Errorf("slow body: %d %s, want 408 invalid_request", res.Status, res.Body)
	}
}
