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
	rec := Record{Kind: KindReplayDetection, ID: secretID(client.ID + "\x00" + jti), GrantID: clientGrantID(client.ID), Payload: []byte{}, ExpiresAt: expAt}
	switch err := p.cfg.Store.Create(r.Context(), rec, true); {
	case errors.Is(err, ErrAlreadyExists):
		return fail("the client assertion has already been used")
	case err != nil:
		return errServer(err)
	}
	p.emit(r, Event{Name: EventReplayDetectionSaved, ClientID: client.ID})
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
	doc, fresh, err := p.jwksCache.get(ctx, p.outboundClient(client), client.JWKSURI, false)
	if err != nil {
		return nil, err
	}
	claims, err := p.cfg.Assertions.VerifyWithClientJWKS(assertion, doc)
	if err != nil && !fresh {
		// The client may have rotated its keys: fetch once more.
		if doc, _, ferr := p.jwksCache.get(ctx, p.outboundClient(client), client.JWKSURI, true); ferr == nil {
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

// jwksCache keeps fetched client key sets for a few minutes; a forced
// refetch is allowed at most every 30 seconds per URI, so a client sending
// bad assertions cannot make the provider hammer its jwks_uri.
type jwksCache struct {
	mu sync.Mutex
	m  map[string]cachedJWKS
}

type cachedJWKS struct {
	doc     []byte
	fetched time.Time
}

const (
	jwksCacheTTL     = 5 * time.Minute
	jwksMinRefetch   = 30 * time.Second
	maxRemoteJWKSLen = 64 << 10
)

func (c *jwksCache) get(ctx context.Context, hc *http.Client, uri string, force bool) (doc []byte, fresh bool, err error) {
	c.mu.Lock()
	e, ok := c.m[uri]
	c.mu.Unlock()
	age := time.Since(e.fetched)
	if ok && (age < jwksCacheTTL && !force || age < jwksMinRefetch) {
		return e.doc, false, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, false, errors.New("fetching the client's jwks_uri failed")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false, errors.New("the client's jwks_uri did not answer 200")
	}
	doc, err = io.ReadAll(io.LimitReader(resp.Body, maxRemoteJWKSLen+1))
	if err != nil || len(doc) > maxRemoteJWKSLen {
		return nil, false, errors.New("the client's jwks_uri document is unreadable or too large")
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]cachedJWKS{}
	}
	c.m[uri] = cachedJWKS{doc: doc, fetched: time.Now()}
	c.mu.Unlock()
	return doc, true, nil
}
