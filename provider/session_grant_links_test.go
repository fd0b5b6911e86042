package provider_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// grantBarrier holds the first two grant writes until both have arrived, so
// two consents are sure to have read the session before either links its
// grant into it.
type grantBarrier struct {
	provider.Store
	mu    sync.Mutex
	armed bool
	n     int
	all   chan struct{}
}

func (s *grantBarrier) Put(ctx context.Context, rec provider.Record, durable bool) error {
	s.mu.Lock()
	wait := s.armed && rec.Kind == provider.KindGrant
	if wait {
		if s.n++; s.n == 2 {
			close(s.all)
			s.armed = false
		}
	}
	s.mu.Unlock()
	if wait {
		select {
		case <-s.all:
		case <-time.After(5 * time.Second):
		}
	}
	return s.Store.Put(ctx, rec, durable)
}

// consentPage starts an authorization in a logged-in browser and returns the
// consent form.
func (b *browser) consentPage(t *testing.T, over map[string]string) (action, csrf string) {
	t.Helper()
	r := b.get(b.h.authorizeURL(over))
	if r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "/interaction/") {
		t.Fatalf("authorization did not ask for consent: %d %s", r.status, r.header.Get("Location"))
	}
	action, csrf = page(t, b.get(b.h.abs(r.header.Get("Location"))))
	if !strings.HasSuffix(action, "/consent") {
		t.Fatalf("want the consent page, got the form %q", action)
	}
	return action, csrf
}

// Two consents given at the same time in one session both stay linked to
// the session: neither client loses its grant link (and with it prompt=none
// and back-channel logout).
func TestConcurrentConsentsKeepBothGrantLinks(t *testing.T) {
	t.Parallel()
	barrier := &grantBarrier{all: make(chan struct{})}
	h := newBadgerHarness(t, func(c *provider.Config) {
		barrier.Store = c.Store
		c.Store = barrier
	})
	b := h.browser()
	h.codeFor(b, nil) // alice is logged in and consented to web
	_, challenge := pkce("c")
	reqs := map[string]map[string]string{
		"post": {"client_id": "post", "code_challenge": challenge, "code_challenge_method": "S256"},
		"spa":  {"client_id": "spa", "redirect_uri": spaRedirect, "code_challenge": challenge, "code_challenge_method": "S256"},
	}
	type form struct{ action, csrf string }
	forms := map[string]form{}
	for id, over := range reqs {
		a, c := b.consentPage(t, over)
		forms[id] = form{a, c}
	}
	barrier.mu.Lock()
	barrier.armed = true
	barrier.mu.Unlock()
	var wg sync.WaitGroup
	results := make(chan response, 2)
	for _, f := range forms {
		wg.Go(func() {
			results <- b.postForm(h.abs(f.action), url.Values{"csrf_token": {f.csrf}, "decision": {"allow"}})
		})
	}
	wg.Wait()
	close(results)
	for r := range results {
		if r.status != http.StatusSeeOther {
			t.Fatalf("consent: %d %s", r.status, r.body)
		}
	}
	for id, over := range reqs {
		silent := map[string]string{"prompt": "none"}
		for k, v := range over {
			silent[k] = v
		}
		redirect := webRedirect
		if id == "spa" {
			redirect = spaRedirect
		}
		if q := redirectParams(t, b.get(h.authorizeURL(silent)), redirect); q.Get("code") == "" {
			t.Errorf("%s lost its grant link in the session: prompt=none answered %v", id, q)
		}
	}
	if n := h.events.count(provider.EventSessionSaved); n < 3 {
		t.Errorf("session.saved = %d, want the login and each link", n)
	}
}

// Back-channel logout finishes although the browser that asked for the
// logout went away: the relying party must still hear of it.
func TestBackchannelLogoutSurvivesBrowserDisconnect(t *testing.T) {
	// In parallel with the other waiting tests: the relying party waits to see
	// whether its request is cancelled, which costs wall time, not work.
	t.Parallel()
	// browserGone is closed once the provider's server has seen the logout
	// request's browser go away (the request context is cancelled while the
	// handler still waits for the relying party). Waiting for that, rather
	// than for a fixed second, makes sure the disconnect really reached the
	// provider before the relying party answers.
	browserGone := make(chan struct{})
	// cancellationGrace is how long the relying party then waits for its own
	// request to be cancelled: were the provider to pass the disconnect on,
	// the cancellation would arrive within milliseconds (a closed connection).
	const cancellationGrace = 300 * time.Millisecond
	arrived := make(chan struct{}, 1)
	outcome := make(chan string, 1)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body: only then does net/http watch the connection and
		// cancel r.Context() when the provider hangs up.
		_, _ = io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		select {
		case <-browserGone:
		case <-r.Context().Done():
			outcome <- "cancelled"
			return
		case <-time.After(5 * time.Second):
			outcome <- "still pending: the provider never saw the browser go"
			return
		}
		select {
		case <-r.Context().Done():
			outcome <- "cancelled"
		case <-time.After(cancellationGrace):
			outcome <- "answered"
		}
	}))
	defer rp.Close()
	h := newHarness(t, func(c *provider.Config) {
		cs := testClients(t)
		cs["web"].BackchannelLogoutURI = rp.URL
		c.Clients = cs
	})
	serve := h.srv.Config.Handler
	h.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/session/end" {
			ctx := r.Context()
			go func() {
				<-ctx.Done()
				close(browserGone)
			}()
		}
		serve.ServeHTTP(w, r)
	})
	b, idt := h.loggedIn(t)
	h.events.reset()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.issuer+"/session/end?"+url.Values{"id_token_hint": {idt}}.Encode(), nil)
	go func() {
		if resp, err := b.c.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the logout token never reached the relying party")
	}
	cancel() // the user closes the tab
	if got := <-outcome; got != "answered" {
		t.Fatalf("the back-channel request was %s when the browser disconnected", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.events.count(provider.EventBackchannelSuccess)+h.events.count(provider.EventBackchannelError) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if h.events.count(provider.EventBackchannelSuccess) != 1 {
		t.Fatalf("events: %v", h.events.names())
	}
}
