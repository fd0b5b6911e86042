package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	clientAssertionTypeJWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// maxAssertionLifetime bounds how far in the future exp may be: the jti
	// is remembered until then, so a long-lived assertion is both a replay
	// risk and a storage cost.
	maxAssertionLifetime = time.Hour
	// assertionSkew tolerates clock differences on nbf and iat.
	assertionSkew = 30 * time.Second
)

// assertedClientID reads sub from an assertion before it is verified: the
// client (and so the key to verify with) is named inside it. Nothing read
// here is trusted until verifyClientAssertion has checked the signature.
func assertedClientID(assertion string) string {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 || len(parts[1]) > maxTokenLen {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return ""
	}
	return c.Sub
}

// verifyClientAssertion authenticates a client by a JWT it signed (RFC 7523
// §3, OIDC Core §9): signature by the client's keys (private_key_jwt) or
// secret (client_secret_jwt), iss = sub = client_id, aud naming this
// server, a bounded exp, and a jti never seen before (replay detection).
func (p *Provider) verifyClientAssertion(r *http.Request, client *Client, assertion string) *Error {
	fail := func(desc string) *Error { return errInvalidClient(desc) }
	if p.cfg.Assertions == nil {
		return fail("JWT client authentication is not available")
	}
	var claims map[string]any
	var err error
	switch client.TokenEndpointAuthMethod {
	case AuthMethodPrivateKeyJWT:
		claims, err = p.verifyWithClientKeys(r.Context(), client, assertion)
	case AuthMethodClientSecretJWT:
		claims, err = p.cfg.Assertions.VerifyWithSecret(assertion, client.hmacKey)
	default:
		return fail("the client must authenticate with " + client.TokenEndpointAuthMethod)
	}
	if err != nil {
		return fail("the client assertion signature is invalid")
	}
	str := func(k string) string { s, _ := claims[k].(string); return s }
	if str("iss") != client.ID || str("sub") != client.ID {
		return fail("the client assertion's iss and sub must be the client_id")
	}
	if !p.audienceNamesUs(claims["aud"], r) {
		return fail("the client assertion's aud must name this server")
	}
	now := p.now()
	exp, ok := claims["exp"].(float64)
	if !ok {
		return fail("the client assertion has no exp")
	}
	expAt := time.Unix(int64(exp), 0)
	if !expAt.After(now) {
		return fail("the client assertion has expired")
	}
	if expAt.Sub(now) > maxAssertionLifetime {
		return fail("the client assertion's exp is too far in the future")
	}
	if nbf, ok := claims["nbf"].(float64); ok && time.Unix(int64(nbf), 0).After(now.Add(assertionSkew)) {
		return fail("the client assertion is not valid yet")
	}
	if iat, ok := claims["iat"].(float64); ok && time.Unix(int64(iat), 0).After(now.Add(assertionSkew)) {
		return fail("the client assertion was issued in the future")
	}
	jti := str("jti")
	if jti == "" || len(jti) > 256 {
		return fail("the client assertion needs a jti")
	}
	// Remembered until the assertion expires; Create has exactly one winner,
	// so two concurrent uses of one assertion cannot both pass. The record
	// belongs to the client's own grant id so deleting the client removes it.
	switch err := p.replayDetection().remember(r.Context(), client.ID, jti, expAt); {
	case errors.Is(err, ErrAlreadyExists):
		return fail("the client assertion has already been used")
	case err != nil:
		return errServer(err)
	}
	return nil
}

// audienceNamesUs: RFC 7523 §3 asks for the authorization server's identity;
// OIDC Core §9 for the token endpoint URL; RFC 9126 §2 also allows the PAR
// endpoint. Accept the issuer, the token endpoint and the endpoint called.
func (p *Provider) audienceNamesUs(aud any, r *http.Request) bool {
	accepted := []string{p.cfg.Issuer, p.cfg.Issuer + PathToken, p.cfg.Issuer + strings.TrimPrefix(r.URL.Path, p.prefix)}
	switch a := aud.(type) {
	case string:
		return slices.Contains(accepted, a)
	case []any:
		for _, v := range a {
			if s, ok := v.(string); ok && slices.Contains(accepted, s) {
				return true
			}
		}
	}
	return false
}

func (p *Provider) verifyWithClientKeys(ctx context.Context, client *Client, assertion string) (map[string]any, error) {
	if len(client.JWKS) > 0 {
		return p.cfg.Assertions.VerifyWithClientJWKS(assertion, client.JWKS)
	}
	doc, fresh, err := p.jwksCache.get(ctx, p.outboundClient(client), client.JWKSURI, false, p.now)
	if err != nil {
		return nil, err
	}
	claims, err := p.cfg.Assertions.VerifyWithClientJWKS(assertion, doc)
	if err != nil && !fresh {
		// The client may have rotated its keys: fetch once more.
		if doc, _, ferr := p.jwksCache.get(ctx, p.outboundClient(client), client.JWKSURI, true, p.now); ferr == nil {
			return p.cfg.Assertions.VerifyWithClientJWKS(assertion, doc)
		}
	}
	return claims, err
}

func (p *Provider) httpClient() *http.Client {
	if p.cfg.HTTPClient != nil {
		return p.cfg.HTTPClient
	}
	return defaultHTTPClient
}

// defaultHTTPClient fetches clients' jwks_uri: short timeout, no redirects
// (a redirect could point the provider anywhere).
var defaultHTTPClient = &http.Client{
	Timeout:       5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// jwksCache keeps fetched client key sets for jwksCacheTTL. Anyone can send
// an assertion naming a client, so the cache also shields the client's
// jwks_uri and the provider from them: a URI is fetched at most once every
// jwksMinRefetch, whether the fetch succeeded or failed (a failure is
// remembered and returned at once), concurrent callers share the fetch in
// flight, and at most maxJWKSCacheEntries URIs are kept.
type jwksCache struct {
	mu sync.Mutex
	m  map[string]*jwksEntry
}

type jwksEntry struct {
	doc   []byte    // the last document fetched, nil if none
	docAt time.Time // when doc was fetched
	err   error     // the last fetch's error, nil if it succeeded
	tried time.Time // when the last fetch ended
	// loading is closed when the fetch in flight ends; nil when none is.
	loading chan struct{}
}

const (
	jwksCacheTTL        = 5 * time.Minute
	jwksMinRefetch      = 30 * time.Second
	jwksFetchTimeout    = 10 * time.Second // on top of the HTTP client's own
	maxJWKSCacheEntries = 1024
	maxRemoteJWKSLen    = 64 << 10
)

var errJWKSCacheBusy = errors.New("too many client key sets are being fetched")

// within reports whether at lies less than d before now.
func within(now, at time.Time, d time.Duration) bool {
	age := now.Sub(at)
	return age >= 0 && age < d
}

// get returns the key set at uri; fresh reports that it was fetched for this
// call (so a verification failure is not worth a forced refetch). force asks
// for a refetch of a cached document, granted at most every jwksMinRefetch.
func (c *jwksCache) get(ctx context.Context, hc *http.Client, uri string, force bool, now func() time.Time) (doc []byte, fresh bool, err error) {
	e, loading, doc, err := c.lookup(ctx, hc, uri, force, now)
	if loading == nil {
		return doc, false, err
	}
	select {
	case <-loading:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.err != nil {
		return nil, false, e.err
	}
	return e.doc, true, nil
}

// lookup answers from the cache when it can (loading nil: doc and err are
// the answer); otherwise it starts or joins a fetch of uri and returns its
// entry and the channel closed when the fetch ends. The lock is held only
// here, released by defer, never across the wait.
func (c *jwksCache) lookup(ctx context.Context, hc *http.Client, uri string, force bool, now func() time.Time) (e *jwksEntry, loading <-chan struct{}, doc []byte, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := now()
	e = c.m[uri]
	if e != nil {
		docOK := e.doc != nil && within(t, e.docAt, jwksCacheTTL)
		if docOK && !force {
			return nil, nil, e.doc, nil
		}
		if e.loading == nil && within(t, e.tried, jwksMinRefetch) {
			switch {
			case docOK:
				return nil, nil, e.doc, nil
			case e.err != nil:
				return nil, nil, nil, e.err
			}
			return nil, nil, nil, errors.New("the client's key set has expired")
		}
	} else {
		if !c.makeRoom(t) {
			return nil, nil, nil, errJWKSCacheBusy
		}
		if c.m == nil {
			c.m = make(map[string]*jwksEntry)
		}
		e = &jwksEntry{}
		c.m[uri] = e
	}
	if e.loading == nil {
		e.loading = make(chan struct{})
		// The fetch is not tied to this request: a caller that gives up
		// (or disconnects on purpose) must not make it fail, and so have
		// a failure remembered for everyone.
		go c.fetch(context.WithoutCancel(ctx), hc, uri, e, now)
	}
	return e, e.loading, nil, nil
}

// fetch runs one fetch for e and wakes those waiting for it.
func (c *jwksCache) fetch(ctx context.Context, hc *http.Client, uri string, e *jwksEntry, now func() time.Time) {
	ctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
	defer cancel()
	doc, err := fetchJWKS(ctx, hc, uri)
	c.mu.Lock()
	defer c.mu.Unlock()
	t := now()
	e.tried, e.err = t, err
	if err == nil {
		e.doc, e.docAt = doc, t
	}
	close(e.loading)
	e.loading = nil
}

// makeRoom frees a place for a new URI when the cache is full: preferably
// one whose entry no longer serves (its document expired and its last
// fetch is old enough to be repeated), else any not being fetched. It
// reports false when every entry is being fetched.
func (c *jwksCache) makeRoom(t time.Time) bool {
	if len(c.m) < maxJWKSCacheEntries {
		return true
	}
	victim := ""
	for uri, e := range c.m {
		if e.loading != nil {
			continue
		}
		victim = uri
		if !within(t, e.docAt, jwksCacheTTL) && !within(t, e.tried, jwksMinRefetch) {
			break
		}
	}
	if victim == "" {
		return false
	}
	delete(c.m, victim)
	return true
}

// evict forgets uri (its client was deleted or now names another).
func (c *jwksCache) evict(uri string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, uri)
}

func fetchJWKS(ctx context.Context, hc *http.Client, uri string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, errors.New("fetching the client's jwks_uri failed")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New("the client's jwks_uri did not answer 200")
	}
	doc, err := io.ReadAll(io.LimitReader(resp.Body, maxRemoteJWKSLen+1))
	if err != nil || len(doc) > maxRemoteJWKSLen {
		return nil, errors.New("the client's jwks_uri document is unreadable or too large")
	}
	return doc, nil
}
