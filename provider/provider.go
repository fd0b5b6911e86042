package provider

import (
	"net/http"
	"strings"
	"time"
)

// Provider serves the provider's endpoints below the issuer's path.
type Provider struct {
	cfg    Config
	prefix string // issuer path, "" or "/something" (no trailing slash)
	events EventSink
	now    func() time.Time
	mux    map[string]http.HandlerFunc

	clients   *clientRegistry
	jwksCache jwksCache
	// privateAllow and registeredClientHTTP: see outbound.go.
	privateAllow         *privateAllowList
	registeredClientHTTP *http.Client
	staticIATs           [][32]byte // SHA-256 of the configured initial access tokens
	pages                *pages
	throttle             *loginThrottle
	discovery            []byte
	secureCookies        bool
	successors           *successorSealer
	pending              pendingLimiters
	gateKey              []byte // MACs oidc_protect's internal client ids (gate.go)

	// registrationRate bounds open registrations per address.
	registrationRate *rateLimiter
}

// New validates cfg and builds a Provider.
func New(cfg Config) (*Provider, error) {
	u, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	cfg.Lifetimes.applyDefaults()
	cfg.Throttle.applyDefaults()
	cfg.PendingLimits.applyDefaults()
	cfg.Registration.applyDefaults()
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.BodyReadTimeout <= 0 {
		cfg.BodyReadTimeout = defaultBodyReadTimeout
	}
	if cfg.Cookies.NamePrefix == "" {
		cfg.Cookies.NamePrefix = "oidcaddy"
	}
	p := &Provider{cfg: cfg, prefix: u.Path, events: cfg.Events, now: cfg.Clock, successors: newSuccessorSealer(cfg.Lifetimes.RefreshTokenReuseGrace),
		pending: newPendingLimiters(cfg.PendingLimits, cfg.Lifetimes)}
	if p.events == nil {
		p.events = discardSink{}
	} else {
		p.events = boundedClientIDs{p.events}
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.gateKey = newGateKey(cfg.SecretKey)
	p.registrationRate = newRateLimiter(cfg.Registration.RateLimit, cfg.Registration.RateWindow)
	if err := p.init(); err != nil {
		return nil, err
	}
	return p, nil
}

// Handles reports whether the request path belongs to the provider. The Caddy
// module passes every other request on to the next handler.
func (p *Provider) Handles(path string) bool {
	rel, ok := strings.CutPrefix(path, p.prefix)
	if !ok {
		return false
	}
	if _, ok := p.mux[rel]; ok {
		return true
	}
	if p.registrationEnabled() && strings.HasPrefix(rel, PathRegistration+"/") {
		return true
	}
	return strings.HasPrefix(rel, PathInteraction) || strings.HasPrefix(rel, PathAssets)
}

// ServeHTTP dispatches to the endpoint for the request path. Unknown paths get
// a 404 (the Caddy module never sends them here).
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rel, ok := strings.CutPrefix(r.URL.Path, p.prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	h, ok := p.mux[rel]
	if !ok {
		switch {
		case strings.HasPrefix(rel, PathInteraction):
			h, ok = p.serveInteraction, true
		case strings.HasPrefix(rel, PathAssets):
			h, ok = p.serveAsset, true
		case p.registrationEnabled() && strings.HasPrefix(rel, PathRegistration+"/"):
			h, ok = p.serveClientConfiguration, true
		}
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	p.recoverServerError(w, r, h)
}
