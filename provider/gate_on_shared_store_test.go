package provider_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/oidcaddy/oidcaddy/internal/formflow"
	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/store/memstore"
)

// instancePair is two providers on one shared store behind one issuer URL,
// as two Caddy instances behind a load balancer: the front server hands
// each request to the instance route picks. Both have the same secret key,
// as instances sharing key_encryption_secret get from the store.
type instancePair struct {
	a, b  *harness
	mu    sync.Mutex
	route func() *harness
}

func newInstancePair(t *testing.T, mods ...func(*provider.Config)) *instancePair {
	t.Helper()
	st := sharedMemStore{memstore.New()}
	pair := &instancePair{}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pair.next().p.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	secretKey := bytes.Repeat([]byte{9}, 32)
	sameIssuer := func(c *provider.Config) { c.Issuer, c.SecretKey = front.URL, secretKey }
	pair.a = newHarnessOn(t, st, append(mods, sameIssuer)...)
	pair.b = newHarnessOn(t, st, append(mods, sameIssuer)...)
	pair.a.issuer, pair.b.issuer = front.URL, front.URL
	pair.sendAllTo(pair.b)
	return pair
}

func (pair *instancePair) next() *harness {
	pair.mu.Lock()
	defer pair.mu.Unlock()
	return pair.route()
}

// sendAllTo makes h answer every request that reaches the front.
func (pair *instancePair) sendAllTo(h *harness) {
	pair.mu.Lock()
	defer pair.mu.Unlock()
	pair.route = func() *harness { return h }
}

// alternate makes the instances take turns, request by request.
func (pair *instancePair) alternate() {
	pair.mu.Lock()
	defer pair.mu.Unlock()
	turn := 0
	pair.route = func() *harness {
		turn++
		return []*harness{pair.a, pair.b}[turn%2]
	}
}

// A gate login started on one instance (the protected request landed there)
// completes whichever instance answers the authorization request, the login
// form and the callback, and the gate session and its logout work on
// every instance: the internal client of a protected origin is not state of
// the instance that first served the origin (issue 11, two instances on
// one store).
func TestGateLoginStartedOnOneInstanceCompletesOnAnother(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		route func(*instancePair)
	}{
		{"every provider request on b", func(pair *instancePair) { pair.sendAllTo(pair.b) }},
		{"instances alternating", (*instancePair).alternate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pair := newInstancePair(t, withGroupedAlice(t))
			tc.route(pair)
			gl := mustStartGateLogin(t, pair.a)
			br := pair.b.browser()
			q := br.login(gl.AuthURL, alicePassword)
			if q.Get("state") != gl.State || q.Get("code") == "" {
				t.Fatalf("callback parameters: %v", q)
			}
			cookie, _, err := pair.b.p.FinishGateLogin(context.Background(), gateOrigin, q.Get("code"), gl.Verifier)
			if err != nil {
				t.Fatalf("callback on b for a login started on a: %v", err)
			}
			for name, h := range map[string]*harness{"a": pair.a, "b": pair.b} {
				if got := h.gateUser(t, cookie); got == nil || got.Subject != "alice-sub" || got.ClaimString("groups") != "staff,admins" {
					t.Fatalf("the gate session on %s: %+v", name, got)
				}
			}

			// The protected site's logout path, served by a, leads to the
			// end session endpoint with the internal client's id, answered
			// by whichever instance the front picks.
			r := br.get(pair.a.p.GateLogoutURL(gateOrigin))
			forms := formflow.Forms(r.body)
			if r.status != http.StatusOK || len(forms) == 0 {
				t.Fatalf("logout confirmation: %d %s", r.status, r.body)
			}
			v := forms[0].Hidden
			v.Set("decision", "logout")
			r = br.postForm(pair.a.abs(forms[0].Action), v)
			if r.status != http.StatusSeeOther || r.header.Get("Location") != gateOrigin+"/" {
				t.Fatalf("confirmed logout: %d %q, want a redirect back to the protected site", r.status, r.header.Get("Location"))
			}
			for name, h := range map[string]*harness{"a": pair.a, "b": pair.b} {
				if h.gateUser(t, cookie) != nil {
					t.Fatalf("the gate session survived the logout on %s", name)
				}
			}
		})
	}
}

// The internal client's id is bound to the secret key: an instance with
// another key (a second instance on the database without the shared
// key_encryption_secret) does not take it, so the tag cannot be made
// without the key.
func TestGateClientIDNeedsTheSameSecretKey(t *testing.T) {
	t.Parallel()
	pair := newInstancePair(t, withGroupedAlice(t))
	other := newHarnessOn(t, pair.a.store, withGroupedAlice(t), func(c *provider.Config) {
		c.Issuer, c.SecretKey = pair.a.issuer, bytes.Repeat([]byte{10}, 32)
	})
	other.issuer = pair.a.issuer
	if a, o := pair.a.p.GateClientID(gateOrigin), other.p.GateClientID(gateOrigin); a == o {
		t.Fatalf("two secret keys made the same client id %q", a)
	}
	pair.sendAllTo(other)
	gl := mustStartGateLogin(t, pair.a)
	r := other.browser().get(gl.AuthURL)
	if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
		t.Fatalf("a gate client id made with another secret key: %d %q, want 400 invalid_client", r.status, r.header.Get("Location"))
	}
}

func mustStartGateLogin(t *testing.T, h *harness) *provider.GateLogin {
	t.Helper()
	gl, err := h.p.StartGateLogin(gateOrigin)
	if err != nil {
		t.Fatal(err)
	}
	return gl
}
