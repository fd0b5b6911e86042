package provider_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

const minimalRegistration = `{"redirect_uris":["https://app.example/cb"]}`

func (h *harness) registerFrom(addr, body string) response {
	req, _ := http.NewRequest(http.MethodPost, h.issuer+"/register", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Test-Addr", addr)
	return h.browser().do(req)
}

// Open registration stores ~1–27 KB per client, and anyone may call it. One
// address may register 100 clients per hour by default (a burst of 100,
// refilled over the hour); more get 429 with Retry-After, while other
// addresses go on.
func TestRegistrationIsRateLimitedPerAddress(t *testing.T) {
	t.Parallel()
	h := newBadgerHarness(t, openRegistration, withTestAddresses)
	const perHour = 100 // the default
	created := countConcurrent(32, perHour, func() bool {
		return h.registerFrom("192.0.2.1", minimalRegistration).status == http.StatusCreated
	})
	if created != perHour {
		t.Fatalf("%d of %d registrations succeeded", created, perHour)
	}
	r := h.registerFrom("192.0.2.1", minimalRegistration)
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("registration past the rate: %d %s", r.status, r.body)
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 3600 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if jsonBody(t, r)["error"] == nil {
		t.Errorf("no error code: %s", r.body)
	}
	if r := h.registerFrom("192.0.2.2", minimalRegistration); r.status != http.StatusCreated {
		t.Errorf("another address: %d %s", r.status, r.body)
	}
	h.clock.advance(time.Hour)
	if r := h.registerFrom("192.0.2.1", minimalRegistration); r.status != http.StatusCreated {
		t.Errorf("an hour later: %d %s", r.status, r.body)
	}
}

// At most MaxClients registered clients exist at once: under 64 concurrent
// registrations exactly the remaining places are taken, the rest get 503;
// deleting a client (RFC 7592) frees its place.
func TestRegisteredClientsAreCapped(t *testing.T) {
	t.Parallel()
	h := newBadgerHarness(t, openRegistration, withTestAddresses, func(c *provider.Config) { c.Registration.MaxClients = 20 })
	var created, refused atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var one map[string]any
	for i := range 64 {
		wg.Go(func() {
			switch r := h.registerFrom("198.51.100."+strconv.Itoa(i), minimalRegistration); r.status {
			case http.StatusCreated:
				created.Add(1)
				mu.Lock()
				one = jsonBody(t, r)
				mu.Unlock()
			case http.StatusServiceUnavailable:
				refused.Add(1)
				if r.header.Get("Retry-After") == "" {
					t.Errorf("503 without Retry-After")
				}
			default:
				t.Errorf("registration: %d %s", r.status, r.body)
			}
		})
	}
	wg.Wait()
	if created.Load() != 20 || refused.Load() != 44 {
		t.Fatalf("64 concurrent registrations with room for 20: %d created, %d refused", created.Load(), refused.Load())
	}
	if r := h.configure(http.MethodDelete, one["registration_client_uri"].(string), one["registration_access_token"].(string), ""); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := h.registerFrom("203.0.113.1", minimalRegistration); r.status != http.StatusCreated {
		t.Errorf("after a delete: %d %s", r.status, r.body)
	}
	if r := h.registerFrom("203.0.113.2", minimalRegistration); r.status != http.StatusServiceUnavailable {
		t.Errorf("full again: %d %s", r.status, r.body)
	}
}

// A registered client that never gets a token disappears after
// UnusedClientTTL (default 30 days), with its registration access token,
// and stops counting against MaxClients; one that was used stays.
func TestUnusedRegisteredClientsExpire(t *testing.T) {
	t.Parallel()
	h := newHarness(t, openRegistration, withTestAddresses, func(c *provider.Config) { c.Registration.MaxClients = 2 })
	reg := func() map[string]any {
		r := h.registerFrom("192.0.2.1", `{"redirect_uris":["https://app.example/cb"],"grant_types":["authorization_code"]}`)
		if r.status != http.StatusCreated {
			t.Fatalf("register: %d %s", r.status, r.body)
		}
		return jsonBody(t, r)
	}
	unused, used := reg(), reg()
	// The second one logs a user in and gets tokens.
	id, secret := used["client_id"].(string), used["client_secret"].(string)
	b := h.browser()
	verifier, challenge := pkce("u")
	q := b.login(h.authorizeURL(map[string]string{"client_id": id, "redirect_uri": "https://app.example/cb", "code_challenge": challenge, "code_challenge_method": "S256"}), alicePassword)
	if r := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {"https://app.example/cb"}, "code_verifier": {verifier}}, id, secret); r.status != http.StatusOK {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	if r := h.registerFrom("192.0.2.1", minimalRegistration); r.status != http.StatusServiceUnavailable {
		t.Fatalf("third client with room for two: %d", r.status)
	}

	h.clock.advance(30*24*time.Hour + time.Minute)
	if r := h.browser().get(h.authorizeURL(map[string]string{"client_id": unused["client_id"].(string), "redirect_uri": "https://app.example/cb"})); r.status != http.StatusBadRequest || !strings.Contains(r.body, "unknown client") {
		t.Errorf("the unused client after 30 days: %d %.200s", r.status, r.body)
	}
	if r := h.configure(http.MethodGet, unused["registration_client_uri"].(string), unused["registration_access_token"].(string), ""); r.status != http.StatusUnauthorized {
		t.Errorf("reading the expired client's registration: %d", r.status)
	}
	if r := h.configure(http.MethodGet, used["registration_client_uri"].(string), used["registration_access_token"].(string), ""); r.status != http.StatusOK {
		t.Errorf("the used client after 30 days: %d %s", r.status, r.body)
	}
	if r := h.registerFrom("192.0.2.1", minimalRegistration); r.status != http.StatusCreated {
		t.Errorf("the expired client's place: %d %s", r.status, r.body)
	}
}
