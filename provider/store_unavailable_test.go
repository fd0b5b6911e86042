package provider_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// unwritableStore refuses every write the way a backend does when its disk
// is full or broken (wrapping provider.ErrUnavailable); reads keep working.
type unwritableStore struct {
	provider.Store
	down atomic.Bool
}

func (s *unwritableStore) refuse(op string) error {
	if s.down.Load() {
		return fmt.Errorf("teststore: %s: /var/lib/secret-path: %w", op, provider.ErrUnavailable)
	}
	return nil
}

func (s *unwritableStore) Put(ctx context.Context, rec provider.Record, durable bool) error {
	if err := s.refuse("put"); err != nil {
		return err
	}
	return s.Store.Put(ctx, rec, durable)
}

func (s *unwritableStore) Create(ctx context.Context, rec provider.Record, durable bool) error {
	if err := s.refuse("create"); err != nil {
		return err
	}
	return s.Store.Create(ctx, rec, durable)
}

func (s *unwritableStore) Update(ctx context.Context, k provider.Kind, id string, fn func(*provider.Record) error) (provider.Record, error) {
	if err := s.refuse("update"); err != nil {
		return provider.Record{}, err
	}
	return s.Store.Update(ctx, k, id, fn)
}

func (s *unwritableStore) Consume(ctx context.Context, k provider.Kind, id string, at time.Time) (provider.Record, error) {
	if err := s.refuse("consume"); err != nil {
		return provider.Record{}, err
	}
	return s.Store.Consume(ctx, k, id, at)
}

func (s *unwritableStore) Delete(ctx context.Context, k provider.Kind, id string) error {
	if err := s.refuse("delete"); err != nil {
		return err
	}
	return s.Store.Delete(ctx, k, id)
}

func (s *unwritableStore) DeleteByGrant(ctx context.Context, grantID string) ([]provider.Record, error) {
	if err := s.refuse("delete by grant"); err != nil {
		return nil, err
	}
	return s.Store.DeleteByGrant(ctx, grantID)
}

// While storage cannot take writes, every endpoint that must write answers
// 503 temporarily_unavailable (RFC 6749 §5.2 lists it for the token
// endpoint; the others reuse the code), without internal detail, and
// endpoints that only read keep working.
func TestUnavailableStorageAnswers503(t *testing.T) {
	t.Parallel()
	var us *unwritableStore
	h := newHarness(t, openRegistration, func(c *provider.Config) { us = &unwritableStore{Store: c.Store}; c.Store = us })
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
	r := h.token(cc, "api", apiSecret)
	if r.status != 200 {
		t.Fatalf("token while healthy: %d %s", r.status, r.body)
	}
	issued := jsonBody(t, r)["access_token"].(string)

	us.down.Store(true)
	unavailable := func(name string, r response) {
		t.Helper()
		if r.status != http.StatusServiceUnavailable || jsonBody(t, r)["error"] != provider.ErrCodeTemporarilyUnavailable || strings.Contains(r.body, "secret-path") {
			t.Errorf("%s: got %d %s, want 503 temporarily_unavailable", name, r.status, r.body)
		}
		// RFC 9110 §15.6.4: a 503 may say when to come back; clients that
		// honour it (and load balancers) back off instead of hammering.
		if r.header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", name)
		}
	}
	unavailable("token", h.token(cc, "api", apiSecret))
	unavailable("registration", h.register(`{"redirect_uris":["https://app.example/cb"]}`, ""))
	revoke := func() response {
		req, _ := http.NewRequest(http.MethodPost, h.issuer+provider.PathRevocation, strings.NewReader(url.Values{"token": {issued}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("api", apiSecret)
		return h.browser().do(req)
	}
	unavailable("revocation", revoke())

	// Reads keep working: the token issued before is still introspectable.
	req, _ := http.NewRequest(http.MethodPost, h.issuer+provider.PathIntrospection, strings.NewReader(url.Values{"token": {issued}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("api", apiSecret)
	if r := h.browser().do(req); r.status != 200 || jsonBody(t, r)["active"] != true {
		t.Errorf("introspection while writes are refused: %d %s", r.status, r.body)
	}

	us.down.Store(false)
	if r := revoke(); r.status != 200 {
		t.Errorf("revocation after recovery: %d %s", r.status, r.body)
	}
}
