package caddymodule

import (
	"slices"
	"sync"

	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/telemetry"
)

// providers lets the admin API find the running provider of an issuer. On a
// reload Caddy provisions the new configuration before it cleans up the old
// one, so an issuer can briefly have two registrations: each handler adds
// its own and removes only that one, and the newest answers lookups.
var providers = &providerRegistry{byIssuer: map[string][]*liveProvider{}}

// liveProvider is one provisioned handler's provider.
type liveProvider struct {
	issuer string
	prov   *provider.Provider
	// policy is the registration policy, so the admin API can refuse to
	// mint tokens that the provider would never ask for.
	policy string
	// telemetry is the provider's sink: gates of this issuer record their
	// decisions through it (its tracer cache and span_events setting).
	telemetry *telemetry.Sink
}

type providerRegistry struct {
	// Held for reading while a lookup's callback uses a provider, so that
	// remove (called from Cleanup before the store is released) waits for
	// it: a provider is never used after its store may have closed.
	mu       sync.RWMutex
	byIssuer map[string][]*liveProvider
}

func (r *providerRegistry) add(issuer string, p *provider.Provider, policy string, sink *telemetry.Sink) *liveProvider {
	lp := &liveProvider{issuer: issuer, prov: p, policy: policy, telemetry: sink}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byIssuer[issuer] = append(r.byIssuer[issuer], lp)
	return lp
}

// remove drops one registration; removing it twice is harmless.
func (r *providerRegistry) remove(lp *liveProvider) {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := slices.DeleteFunc(r.byIssuer[lp.issuer], func(e *liveProvider) bool { return e == lp })
	if len(list) == 0 {
		delete(r.byIssuer, lp.issuer)
		return
	}
	r.byIssuer[lp.issuer] = list
}

// with calls fn with the newest registration for issuer and reports whether
// there was one. fn must not call add or remove.
func (r *providerRegistry) with(issuer string, fn func(*liveProvider) error) (bool, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	list := r.byIssuer[issuer]
	if len(list) == 0 {
		return false, nil
	}
	return true, fn(list[len(list)-1])
}

// issuers lists the issuers with a running provider, sorted.
func (r *providerRegistry) issuers() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.byIssuer))
	for iss := range r.byIssuer {
		out = append(out, iss)
	}
	slices.Sort(out)
	return out
}

// count is the number of registrations for issuer (for tests).
func (r *providerRegistry) count(issuer string) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.byIssuer[issuer])
}
