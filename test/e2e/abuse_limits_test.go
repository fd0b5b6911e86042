package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestAbuseLimitsThroughTheCaddyfile configures the open-registration and
// pending-request limits in the Caddyfile and meets each in the real binary:
// the registration rate (429), the cap on registered clients (503), the cap
// on unfinished logins per address (429), all with Retry-After; and a
// self-registered client's prompt=none error is shown on a page instead of
// redirecting to the registrant's URI (RFC 9700 §4.11.2).
func TestAbuseLimitsThroughTheCaddyfile(t *testing.T) {
	cfg := newSiteConfig(t)
	cfg.ExtraClients = `
		registration {
			policy open
			rate 3 1h
			max_clients 2
		}
		pending_limits {
			per_address 2
		}`
	srv := startCaddy(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := discover(ctx, t, srv.cfg.Issuer())

	metadata := map[string]any{"redirect_uris": []string{"https://phish.example/cb"}, "client_name": "Registered"}
	first := registered(t, register(t, m, "", metadata))
	registered(t, register(t, m, "", metadata))
	if r := register(t, m, "", metadata); r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Errorf("registration past max_clients: %d Retry-After %q %s", r.Status, r.Header.Get("Retry-After"), r.Body)
	}
	if r := register(t, m, "", metadata); r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("registration past the rate: %d Retry-After %q %s", r.Status, r.Header.Get("Retry-After"), r.Body)
	}

	authorize := func(clientID, redirectURI, prompt string) apiResponse {
		q := url.Values{"client_id": {clientID}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"},
			"code_challenge": {strings.Repeat("c", 43)}, "code_challenge_method": {"S256"}}
		if prompt != "" {
			q.Set("prompt", prompt)
		}
		req, err := http.NewRequest(http.MethodGet, srv.cfg.Issuer()+"/authorize?"+q.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return doRequest(t, req)
	}
	if r := authorize(first.ClientID, "https://phish.example/cb", "none"); r.Status != http.StatusBadRequest || r.Header.Get("Location") != "" {
		t.Errorf("prompt=none for a self-registered client: %d Location %q, want an error page", r.Status, r.Header.Get("Location"))
	}
	if r := authorize("demo-app", "http://localhost:5556/callback", "none"); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "http://localhost:5556/callback?") {
		t.Errorf("prompt=none for a configured client: %d Location %q, want the redirect", r.Status, r.Header.Get("Location"))
	}

	for i := range 2 {
		if r := authorize("demo-app", "http://localhost:5556/callback", ""); r.Status != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "/interaction/") {
			t.Fatalf("login %d: %d %q", i, r.Status, r.Header.Get("Location"))
		}
	}
	if r := authorize("demo-app", "http://localhost:5556/callback", ""); r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("a third unfinished login from one address: %d Retry-After %q", r.Status, r.Header.Get("Retry-After"))
	}
}
