package provider_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// N simultaneous refreshes of one refresh token (a page and its favicon
// behind oauth2-proxy) all succeed and hand out one successor: within the
// reuse grace the losers get the winner's successor refresh token and an
// access token of their own on the same grant. Real Badger; run with -race.
func TestConcurrentRefreshesShareOneSuccessor(t *testing.T) {
	t.Parallel()
	h := newBadgerHarness(t)
	rt := h.tokens(t, "web", "openid email offline_access")["refresh_token"].(string)
	h.events.reset()
	const n = 16
	var wg sync.WaitGroup
	results := make([]response, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = h.refresh(rt, "web", webSecret, nil)
		})
	}
	close(start)
	wg.Wait()

	successors := map[string]bool{}
	var accessTokens []string
	for i, r := range results {
		if r.status != 200 {
			t.Errorf("refresh %d: %d %s", i, r.status, r.body)
			continue
		}
		body := jsonBody(t, r)
		next, _ := body["refresh_token"].(string)
		successors[next] = true
		accessTokens = append(accessTokens, body["access_token"].(string))
		if body["id_token"] == nil || body["scope"] != "openid email offline_access" {
			t.Errorf("refresh %d: %v", i, body)
		}
	}
	if len(successors) != 1 {
		t.Fatalf("%d concurrent refreshes yielded %d different successors, want 1", n, len(successors))
	}
	var successor string
	for s := range successors {
		successor = s
	}
	if successor == "" || successor == rt {
		t.Fatalf("successor %q (original %q)", successor, rt)
	}
	for name, want := range map[provider.EventName]int{provider.EventRefreshTokenConsumed: 1, provider.EventRefreshTokenSaved: 1,
		provider.EventGrantRevoked: 0, provider.EventServerError: 0, provider.EventAccessTokenSaved: n} {
		if got := h.events.count(name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	for i, at := range accessTokens {
		if got := h.introspect(at, ""); got["active"] != true || got["sub"] != "alice-sub" {
			t.Errorf("access token %d: %v", i, got)
		}
	}
	if got := h.introspect(rt, ""); got["active"] != false {
		t.Errorf("the original refresh token is still active: %v", got)
	}
	if got := h.introspect(successor, ""); got["active"] != true {
		t.Errorf("the successor is not active: %v", got)
	}
	// The successor carries the chain on.
	r := h.refresh(successor, "web", webSecret, nil)
	if r.status != 200 {
		t.Fatalf("refresh with the successor: %d %s", r.status, r.body)
	}
	newest := jsonBody(t, r)["refresh_token"].(string)
	// After the grace, presenting the original again is theft: the grant goes.
	h.clock.advance(3 * time.Second)
	h.events.reset()
	if r := h.refresh(rt, "web", webSecret, nil); r.status != 400 || jsonBody(t, r)["error"] != "invalid_grant" {
		t.Fatalf("reuse after the grace: %d %s", r.status, r.body)
	}
	if h.events.count(provider.EventGrantRevoked) != 1 {
		t.Errorf("reuse after the grace did not revoke the grant: %v", h.events.names())
	}
	if r := h.refresh(newest, "web", webSecret, nil); r.status != 400 {
		t.Errorf("newest refresh token of a revoked grant: %d %s", r.status, r.body)
	}
	for i, at := range accessTokens {
		if got := h.introspect(at, ""); got["active"] != false {
			t.Errorf("access token %d of a revoked grant: %v", i, got)
		}
	}
}

// A token presented again within the grace after its successor has itself
// been rotated gets the live end of the chain, not a dead token.
func TestRefreshWithinGraceFollowsTheChain(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rt1 := h.tokens(t, "web", "openid offline_access")["refresh_token"].(string)
	rt2 := jsonBody(t, h.refresh(rt1, "web", webSecret, nil))["refresh_token"].(string)
	rt3 := jsonBody(t, h.refresh(rt2, "web", webSecret, nil))["refresh_token"].(string)
	if rt3 == "" || rt3 == rt2 || rt2 == rt1 {
		t.Fatalf("chain: %q %q %q", rt1, rt2, rt3)
	}
	r := h.refresh(rt1, "web", webSecret, nil)
	if r.status != 200 {
		t.Fatalf("reuse of the first token within the grace: %d %s", r.status, r.body)
	}
	if got := jsonBody(t, r)["refresh_token"]; got != rt3 {
		t.Errorf("reuse within the grace got %v, want the live end of the chain", got)
	}
	if r := h.refresh(rt3, "web", webSecret, nil); r.status != 200 {
		t.Errorf("the live end after the duplicate: %d %s", r.status, r.body)
	}
}

// Within the grace, a duplicate still has to pass every check the first
// request passed: the client, a narrower scope only, and the grant alive.
func TestRefreshWithinGraceKeepsTheChecks(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rt := h.tokens(t, "web", "openid email offline_access")["refresh_token"].(string)
	first := jsonBody(t, h.refresh(rt, "web", webSecret, nil))
	if r := h.refresh(rt, "web-jwt", webSecret, nil); jsonBody(t, r)["error"] != "invalid_grant" {
		t.Errorf("duplicate by another client: %d %s", r.status, r.body)
	}
	if r := h.refresh(rt, "web", webSecret, url.Values{"scope": {"openid profile"}}); jsonBody(t, r)["error"] != "invalid_scope" {
		t.Errorf("duplicate widening the scope: %d %s", r.status, r.body)
	}
	r := h.refresh(rt, "web", webSecret, url.Values{"scope": {"email"}})
	if body := jsonBody(t, r); r.status != 200 || body["scope"] != "email" || body["refresh_token"] != first["refresh_token"] {
		t.Errorf("duplicate narrowing the scope: %d %v", r.status, body)
	}
	// The grant is revoked (say, the user revoked the successor): a
	// duplicate within the grace gets no tokens.
	if r := h.revoke(first["refresh_token"].(string), "web", webSecret); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := h.refresh(rt, "web", webSecret, nil); r.status != 400 || jsonBody(t, r)["error"] != "invalid_grant" {
		t.Errorf("duplicate after the grant was revoked: %d %s", r.status, r.body)
	}
}

// The successor kept for duplicates never reaches an event (and so no log,
// span or metric), and the stored record holds no refresh token in clear.
func TestRefreshSuccessorNeverLeaks(t *testing.T) {
	t.Parallel()
	spy := &payloadSpy{}
	h := newHarness(t, func(c *provider.Config) { spy.Store = c.Store; c.Store = spy })
	rt := h.tokens(t, "web", "openid offline_access")["refresh_token"].(string)
	next := jsonBody(t, h.refresh(rt, "web", webSecret, nil))["refresh_token"].(string)
	if again := jsonBody(t, h.refresh(rt, "web", webSecret, nil))["refresh_token"]; again != next {
		t.Fatalf("duplicate got %v", again)
	}
	h.events.mu.Lock()
	defer h.events.mu.Unlock()
	for _, e := range h.events.events {
		if s := fmt.Sprintf("%+v", e); strings.Contains(s, next) || strings.Contains(s, rt) {
			t.Errorf("event %s carries a refresh token: %s", e.Name, s)
		}
	}
	for _, tok := range []string{rt, next} {
		if kind := spy.find(tok); kind != "" {
			t.Errorf("a refresh token is stored in clear in a %s record", kind)
		}
	}
}

// payloadSpy remembers every payload written to the store.
type payloadSpy struct {
	provider.Store
	mu      sync.Mutex
	written []provider.Record
}

func (s *payloadSpy) note(rec provider.Record) {
	s.mu.Lock()
	s.written = append(s.written, rec)
	s.mu.Unlock()
}

func (s *payloadSpy) Put(ctx context.Context, rec provider.Record, durable bool) error {
	s.note(rec)
	return s.Store.Put(ctx, rec, durable)
}

func (s *payloadSpy) Update(ctx context.Context, kind provider.Kind, id string, fn func(*provider.Record) error) (provider.Record, error) {
	rec, err := s.Store.Update(ctx, kind, id, fn)
	if err == nil {
		s.note(rec)
	}
	return rec, err
}

// find returns the kind of a written record whose payload or keys contain
// secret, or "".
func (s *payloadSpy) find(secret string) provider.Kind {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range s.written {
		if bytes.Contains(rec.Payload, []byte(secret)) || strings.Contains(rec.ID+rec.UID+rec.GrantID, secret) {
			return rec.Kind
		}
	}
	return ""
}
