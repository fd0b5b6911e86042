package provider

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The gate is the provider's side of oidc_protect: a handler in the same
// process that lets only signed-in users through to the site it protects.
// A browser without a gate session is sent through an ordinary
// authorization code flow with PKCE (RFC 7636) of an internal client that
// needs no configuration: its id is derived from the protected site's
// origin (GateClientID), it is public, skips consent (the operator who
// protects the site vouches for it) and redirects only to the reserved
// callback path of that origin. The callback redeems the code here, in
// process, and starts a gate session (records_gate_session.go) bound to the
// provider session's sid: it ends when that session ends, and with the
// grant of the gate's client.

// Reserved paths on a protected site.
const (
	GateCallbackPath = "/.oidc/callback"
	GateLogoutPath   = "/.oidc/logout"
)

// gateClientPrefix starts every internal gate client id.
const gateClientPrefix = "oidcaddy-gate:"

// gateScopes are what a gate asks for: identity, email and groups, which
// rules and identity headers use.
var gateScopes = []string{scopeOpenID, "profile", "email", scopeGroups}

// ErrGateOrigin: the request's origin is not scheme://host[:port] (a
// malformed Host header).
var ErrGateOrigin = errors.New("gate origin must be scheme://host[:port]")

// ErrGateLogin: the callback's code could not be redeemed (expired, used,
// not this gate's, PKCE mismatch) or its session ended meanwhile. The
// browser should start the login again.
var ErrGateLogin = errors.New("the sign-in could not be completed")

// The internal client of a protected origin is self-authenticating: its id
// is oidcaddy-gate:<tag>:<origin>, where tag is a MAC of the origin under a
// key derived from Config.SecretKey. Only a gate, serving a request for
// the origin, has the provider compute the tag (StartGateLogin,
// GateLogoutURL), so a client exists for exactly the origins gates have
// served, and one never exists for a host an attacker names (its
// redirect_uri would make the provider an open redirector, RFC 9700
// §4.11). Every instance sharing the secret key (instances on one database
// share it through key_encryption_secret) recognises the id with no state:
// the authorization request, the login form and the callback of one
// sign-in may each be answered by another instance, and nothing grows with
// the number of Host headers a catch-all site is sent.

// gateTagLen is the length of the tag: 128 bits of HMAC-SHA256, base64url.
const gateTagLen = 22

// newGateKey derives the gate's MAC key from the secret key, so the key
// that seals client secrets (seal.go) is never used for another purpose.
// Without a secret key (a provider built for one process) a random key
// serves: the ids then hold for this instance only.
func newGateKey(secretKey []byte) []byte {
	if len(secretKey) == 0 {
		key := make([]byte, 32)
		rand.Read(key)
		return key
	}
	mac := hmac.New(sha256.New, secretKey)
	mac.Write([]byte("oidcaddy gate client id v1"))
	return mac.Sum(nil)
}

func (p *Provider) gateTag(origin string) string {
	mac := hmac.New(sha256.New, p.gateKey)
	mac.Write([]byte(origin))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])
}

// GateClientID is the id of the internal client of the protected origin
// (scheme://host[:port], lower case).
func (p *Provider) GateClientID(origin string) string {
	origin = strings.ToLower(origin)
	return gateClientPrefix + p.gateTag(origin) + ":" + origin
}

// CheckGateOrigin checks that origin is scheme://host[:port], as the
// Caddy module builds it from a request its oidc_protect handler serves
// (Caddy's host matching has already limited those to the site's hosts).
func CheckGateOrigin(origin string) error {
	u, err := url.Parse(strings.ToLower(origin))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
		return ErrGateOrigin
	}
	return nil
}

// gateClient returns the internal client with id, if its tag is right.
func (p *Provider) gateClient(id string) (*Client, bool) {
	rest, ok := strings.CutPrefix(id, gateClientPrefix)
	if !ok || len(rest) <= gateTagLen || rest[gateTagLen] != ':' {
		return nil, false
	}
	tag, origin := rest[:gateTagLen], rest[gateTagLen+1:]
	if !hmac.Equal([]byte(tag), []byte(p.gateTag(origin))) {
		return nil, false
	}
	if CheckGateOrigin(origin) != nil || origin != strings.ToLower(origin) {
		return nil, false // GateLogoutURL tagged something no gate serves
	}
	u, _ := url.Parse(origin)
	return &Client{
		ID: id, Name: u.Host,
		RedirectURIs:            []string{origin + GateCallbackPath},
		PostLogoutRedirectURIs:  []string{origin + "/"},
		TokenEndpointAuthMethod: AuthMethodNone,
		SkipConsent:             true,
		ClientURI:               origin + "/",
	}, true
}

// GateLogin is a started gate login: the browser goes to AuthURL; the
// gate keeps State and Verifier (in a cookie of the protected site) for
// the callback.
type GateLogin struct {
	AuthURL  string
	State    string
	Verifier string
}

// StartGateLogin prepares the authorization request of origin's internal
// client (RFC 6749 §4.1.1 with PKCE S256, RFC 7636 §4.1–4.2).
func (p *Provider) StartGateLogin(origin string) (*GateLogin, error) {
	return p.startGateLogin(origin, 0, "")
}

// StartGateReauthentication is StartGateLogin for a signed-in user whose
// login does not meet a rule (GateStepUp): older than its max age, or
// below its level. The request carries the rule's max_age and acr
// (acr_values) (OIDC Core §3.1.2.1), so the provider asks for the password
// again unless the session's own authentication is recent enough by then,
// and for a one-time code unless the session is at the level already.
func (p *Provider) StartGateReauthentication(origin string, v GateVerdict) (*GateLogin, error) {
	if v.MaxAge <= 0 && v.ACR == "" {
		return nil, fmt.Errorf("a re-authentication needs a max age or a level")
	}
	return p.startGateLogin(origin, v.MaxAge, v.ACR)
}

func (p *Provider) startGateLogin(origin string, maxAge int64, acr string) (*GateLogin, error) {
	if err := CheckGateOrigin(origin); err != nil {
		return nil, err
	}
	origin = strings.ToLower(origin)
	verifier := newSecret() // 43 characters of the unreserved set
	sum := sha256.Sum256([]byte(verifier))
	state := newHandle()
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {p.GateClientID(origin)},
		"redirect_uri":          {origin + GateCallbackPath},
		"scope":                 {strings.Join(gateScopes, " ")},
		"state":                 {state},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	if maxAge > 0 {
		q.Set("max_age", strconv.FormatInt(maxAge, 10))
	}
	if acr != "" {
		q.Set("acr_values", acr)
	}
	return &GateLogin{AuthURL: p.cfg.Issuer + PathAuthorization + "?" + q.Encode(), State: state, Verifier: verifier}, nil
}

// GateLogoutURL is where a gate's logout path sends the browser: the end
// session endpoint, which asks the user to confirm ending the provider
// session (no id_token_hint), then returns to the protected site.
func (p *Provider) GateLogoutURL(origin string) string {
	origin = strings.ToLower(origin)
	q := url.Values{"client_id": {p.GateClientID(origin)}, "post_logout_redirect_uri": {origin + "/"}}
	return p.cfg.Issuer + PathEndSession + "?" + q.Encode()
}

// Identity is who a gated request comes from: a gate session's user, or
// the holder of a bearer access token.
type Identity struct {
	Subject string
	// ClientID is the bearer token's client; empty for a gate session.
	ClientID string
	// Scopes granted (the token's, or those of the gate's grant).
	Scopes []string
	// Audience of a bearer token; empty for a gate session.
	Audience string
	// Claims of the account that the scopes release (OIDC Core §5.4),
	// with sub; a client's own token has only sub (the client id).
	Claims map[string]any
	// AuthTime of the login (OIDC Core §2 auth_time): for a gate session
	// the latest authentication of its provider session, for a user's
	// token the one it was issued from; zero for a client's own token and
	// when unknown. Rules with a max age check it.
	AuthTime time.Time
	// ACR is the level of that authentication (acr.go); empty for a
	// client's own token.
	ACR string
	// CanMultiFactor: the user has a second factor, so a login can reach
	// mfa (a gate session's user; not known for tokens).
	CanMultiFactor bool
	// SID is the provider session a gate session belongs to (the sid
	// claim of OIDC Back-Channel Logout 1.0 §2.1); empty for a token.
	SID string
	// Bearer: the identity comes from an access token.
	Bearer bool
}

// Groups returns the groups claim as a list.
func (id *Identity) Groups() []string {
	switch g := id.Claims["groups"].(type) {
	case []string:
		return g
	case []any:
		out := make([]string, 0, len(g))
		for _, v := range g {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		return []string{g}
	}
	return nil
}

// ClaimString is claim name as a header-friendly string: lists joined by
// commas, booleans and numbers as JSON writes them; "" when absent.
func (id *Identity) ClaimString(name string) string {
	if name == "groups" {
		return strings.Join(id.Groups(), ",")
	}
	switch v := id.Claims[name].(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		if v {
			return "true"
		}
		return "false"
	case []string:
		return strings.Join(v, ",")
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(b)
	}
}

// FinishGateLogin redeems the callback's code for origin's internal client
// (redeemCode: single use, redirect_uri, PKCE) and starts a gate session.
// It returns the gate cookie's value, an opaque secret stored only hashed.
// ErrGateLogin when the code is no good or the session has ended.
func (p *Provider) FinishGateLogin(ctx context.Context, origin, code, verifier string) (string, *Identity, error) {
	origin = strings.ToLower(origin)
	client, ok := p.gateClient(p.GateClientID(origin))
	if !ok || CheckGateOrigin(origin) != nil {
		return "", nil, ErrGateLogin
	}
	ac, acc, err := p.redeemCode(ctx, client, code, origin+GateCallbackPath, verifier)
	if err != nil {
		// The store failing is the server's (503 when unavailable: the
		// cause is kept); anything else is this code's fault.
		var e *Error
		if errors.As(err, &e) && (e.Code == ErrCodeServerError || e.Code == ErrCodeTemporarilyUnavailable) {
			return "", nil, err
		}
		return "", nil, ErrGateLogin
	}
	sess, err := p.sessions().bySID(ctx, ac.SID)
	if errors.Is(err, ErrNotFound) || (err == nil && sess.AccountID != ac.AccountID) {
		return "", nil, ErrGateLogin // logged out between the code and its redemption
	}
	if err != nil {
		return "", nil, err
	}
	gs := gateSession{Origin: origin, SID: ac.SID, AccountID: ac.AccountID, Scopes: ac.Scopes, GrantID: ac.GrantID, AuthTime: ac.AuthTime, AMR: ac.AMR}
	value := newSecret()
	if err := p.gateSessions().save(ctx, secretID(value), gs, sess.ExpiresAt); err != nil {
		return "", nil, err
	}
	return value, gateIdentity(acc, gs), nil
}

func gateIdentity(acc *Account, gs gateSession) *Identity {
	return &Identity{Subject: acc.Subject, SID: gs.SID, Scopes: gs.Scopes, Claims: claimsForScopes(acc, gs.Scopes), AuthTime: unixTime(gs.AuthTime),
		ACR: acrOf(gs.AMR), CanMultiFactor: acc.SecondFactor.Set()}
}

// maxGateCookieLen bounds the cookie value looked up (newSecret is 43).
const maxGateCookieLen = 128

// GateIdentity returns the user of the gate cookie value for origin, or nil
// when there is no live gate session: none was started, it expired, its
// grant was revoked (the record went with it), or its provider session has
// ended (checked on every request, so a logout takes effect at once).
func (p *Provider) GateIdentity(ctx context.Context, origin, cookie string) (*Identity, error) {
	if cookie == "" || len(cookie) > maxGateCookieLen {
		return nil, nil
	}
	id := secretID(cookie)
	gs, err := p.gateSessions().load(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if gs.Origin != strings.ToLower(origin) {
		return nil, nil // a cookie of another site: host-only cookies should never get here
	}
	sess, err := p.sessions().bySID(ctx, gs.SID)
	if errors.Is(err, ErrNotFound) || (err == nil && sess.AccountID != gs.AccountID) {
		_ = p.gateSessions().destroy(ctx, id) // dead anyway; free it now
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	acc, err := p.cfg.Accounts.Account(ctx, gs.AccountID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil // the user was removed from the configuration
	}
	if err != nil {
		return nil, err
	}
	// Re-authenticating keeps the session's sid (startSession), so the
	// session knows a later login than the one this gate session began with.
	// So does its level, when the session was stepped up since.
	gs.AuthTime = max(gs.AuthTime, sess.AuthTime)
	if acrRank(acrOf(sess.AMR)) > acrRank(acrOf(gs.AMR)) {
		gs.AMR = sess.AMR
	}
	return gateIdentity(acc, gs), nil
}

// EndGateSession ends the gate session of the cookie value (the protected
// site's logout path); the provider session stays.
func (p *Provider) EndGateSession(ctx context.Context, cookie string) error {
	if cookie == "" || len(cookie) > maxGateCookieLen {
		return nil
	}
	return p.gateSessions().destroy(ctx, secretID(cookie))
}

// endGateSessions frees the gate sessions of a provider session that has
// just ended. Failure is not fatal: they are refused anyway (GateIdentity
// checks the session) and expire with it.
func (p *Provider) endGateSessions(ctx context.Context, sid string) {
	_ = p.gateSessions().endOfSession(context.WithoutCancel(ctx), sid)
}

// VerifyBearer checks an access token presented to a protected site
// (RFC 6750 §2.1): an opaque token looked up in the store, or an RFC 9068
// JWT verified with the provider's keys in memory, live (not expired,
// revoked, nor outliving its grant or client). nil when it is not valid.
func (p *Provider) VerifyBearer(ctx context.Context, token string) (*Identity, error) {
	info, err := p.lookupAccessToken(ctx, token)
	if info == nil || err != nil {
		return nil, err
	}
	if info.expiresAt <= p.now().Unix() {
		return nil, nil
	}
	id := &Identity{ClientID: info.clientID, Scopes: slices.Clone(info.scopes), Audience: info.audience, Bearer: true}
	if info.authTime > 0 {
		id.AuthTime = unixTime(info.authTime)
	}
	if info.accountID == "" {
		// A client's own token: no user, no authentication level.
		id.Subject = info.clientID
		id.Claims = map[string]any{"sub": info.clientID}
		return id, nil
	}
	acc, err := p.cfg.Accounts.Account(ctx, info.accountID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	id.Subject, id.Claims, id.ACR = acc.Subject, claimsForScopes(acc, info.scopes), acrOf(info.amr)
	return id, nil
}

// gateAssertionTTL is how long a signed identity assertion is valid: one
// request's trip to the upstream, with room for clock skew.
const gateAssertionTTL = time.Minute

// GateAssertionType is the JWS typ of identity assertions: not an ID token
// (typ JWT) nor an access token (at+jwt), so neither this provider nor a
// relying party checking typ takes one for the other.
const GateAssertionType = "oidcaddy-assertion+jwt"

// SignGateAssertion signs a short-lived JWT stating the identity for the
// upstream of a protected origin: iss the issuer, aud the origin, sub and
// the released claims. Upstreams verify it against the provider's JWKS,
// as they would an ID token with the origin as client id.
func (p *Provider) SignGateAssertion(id *Identity, origin string) (string, error) {
	now := p.now()
	claims := make(map[string]any, len(id.Claims)+6)
	for k, v := range id.Claims {
		claims[k] = v
	}
	claims["iss"], claims["sub"], claims["aud"] = p.cfg.Issuer, id.Subject, strings.ToLower(origin)
	claims["iat"], claims["exp"], claims["jti"] = now.Unix(), now.Add(gateAssertionTTL).Unix(), newHandle()
	if id.ClientID != "" {
		claims["client_id"] = id.ClientID
	}
	if len(id.Scopes) > 0 {
		claims["scope"] = strings.Join(id.Scopes, " ")
	}
	return p.cfg.Signer.SignJWT(claims, GateAssertionType)
}
