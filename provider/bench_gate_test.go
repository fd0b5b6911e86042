package provider_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// BenchmarkGateDecision is the in-process part of an oidc_protect request:
// finding the identity (a gate session cookie: the gate session, its
// provider session and the account; or a bearer token: an opaque one read
// from the store, a JWT verified with the provider's key) and applying the
// site's rules to it. Real Badger on disk, as every benchmark here
// (OIDC_BENCH_STORE=postgres for PostgreSQL). The end-to-end cost in Caddy,
// with HTTP and the proxying, is test/load/gate (docs/performance.md).
func BenchmarkGateDecision(b *testing.B) {
	policy := &provider.GatePolicy{Rules: []provider.GateRule{
		{Paths: []string{"/api/*"}, Scopes: []string{"read"}},
		{Paths: []string{"/admin/*"}, Groups: []string{"admins"}},
		{Paths: []string{"*"}, Groups: []string{"staff"}},
	}}
	if err := policy.Validate(); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	decide := func(b *testing.B, path string, identify func() (*provider.Identity, error)) {
		b.ReportAllocs()
		cpu, n := processCPU(b), 0
		for b.Loop() {
			id, err := identify()
			if err != nil || id == nil {
				b.Fatalf("identity: %+v %v", id, err)
			}
			if d := policy.Evaluate("GET", path, id, time.Now()).Decision; d != provider.GateAllow {
				b.Fatalf("decision %v", d)
			}
			n++
		}
		// The process's CPU per decision: on a shared machine wall time
		// also counts the time others held the cores.
		b.ReportMetric(float64(processCPU(b)-cpu)/float64(time.Microsecond)/float64(n), "cpu-µs/op")
	}
	b.Run("cookie", func(b *testing.B) {
		h := newHarness(b, withGroupedAlice(b))
		gl, err := h.p.StartGateLogin(gateOrigin)
		if err != nil {
			b.Fatal(err)
		}
		q := h.browser().login(gl.AuthURL, alicePassword)
		cookie, _, err := h.p.FinishGateLogin(ctx, gateOrigin, q.Get("code"), gl.Verifier)
		if err != nil {
			b.Fatal(err)
		}
		decide(b, "/dashboard", func() (*provider.Identity, error) { return h.p.GateIdentity(ctx, gateOrigin, cookie) })
	})
	bearer := func(alg, client string) func(b *testing.B) {
		return func(b *testing.B) {
			h := newHarness(b, withSigner(b, alg))
			r := h.token(url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}, client, apiSecret)
			tok, _ := jsonBody(b, r)["access_token"].(string)
			if tok == "" {
				b.Fatalf("no token: %d %s", r.status, r.body)
			}
			decide(b, "/api/items", func() (*provider.Identity, error) { return h.p.VerifyBearer(ctx, tok) })
		}
	}
	b.Run("bearer-opaque", bearer("ES256", "api"))
	b.Run("bearer-jwt-es256", bearer("ES256", "api-jwt"))
	b.Run("bearer-jwt-rs256", bearer("RS256", "api-jwt"))
}
