package caddymodule

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/telemetry"
)

func init() {
	caddy.RegisterModule(Protect{})
}

// Protect (`oidc_protect`) lets through only users signed in at an
// oidc_provider of the same Caddy, and API requests with its access tokens.
// Browsers without a session are sent to the provider's login (an
// authorization code flow with PKCE of an internal client, callback on
// `/.oidc/callback` of the protected site) and come back with a host-only
// gate cookie; `/.oidc/logout` ends it. Rules decide who may see what;
// identity headers for the upstream are always removed from the client's
// request first and then set from the session.
type Protect struct {
	// The issuer of an oidc_provider in this Caddy (any site). Required.
	Issuer string `json:"issuer,omitempty"`
	// Paths that need no sign-in: `*`, `/prefix/*` or an exact path.
	Bypass []string `json:"bypass,omitempty"`
	// Ordered allow rules: the first whose paths and methods match the
	// request decides; once any rule exists, a request none matches is
	// denied. Without rules every signed-in user passes.
	Rules []provider.GateRule `json:"rules,omitempty"`
	// Headers set for the next handlers from the identity, e.g.
	// X-Forwarded-User: {oidc.sub}. Removed from every incoming request
	// first, with or without a session.
	HeaderUp []HeaderFromClaims `json:"header_up,omitempty"`
	// A header to carry a short-lived JWT (one minute) signed by the
	// provider, with aud = the protected origin, sub and the released
	// claims, for upstreams that verify identity against the JWKS instead
	// of trusting headers. Removed from every incoming request first.
	Assertion string `json:"assertion,omitempty"`

	issuer       string
	issuerOrigin string // scheme://host of the issuer, lower case
	policy       provider.GatePolicy
	logger       *zap.Logger
	// unresolvedLogged is 1 once the missing provider has been logged
	// (a plain int32: the config struct is copied by value in tests).
	unresolvedLogged int32
}

// HeaderFromClaims is one identity header: Value may use {oidc.<claim>}
// and {http.auth.user.id}.
type HeaderFromClaims struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// CaddyModule returns the Caddy module information.
func (Protect) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.oidc_protect", New: func() caddy.Module { return new(Protect) }}
}

// Provision checks the rules and records the issuer it needs: a
// configuration without a provider for it does not start (issuerCheck).
// The provider itself is looked up on each request, so a reload's new
// provider is used as soon as it runs.
func (g *Protect) Provision(ctx caddy.Context) error {
	g.logger = ctx.Logger()
	if err := g.Validate(); err != nil {
		return err
	}
	if err := telemetry.RegisterMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	// Whether a provider of this configuration serves the issuer is known
	// only once every site is provisioned: issuerCheck's Start says.
	return recordIssuer(ctx, g.issuer, false)
}

// Validate checks the configuration.
func (g *Protect) Validate() error {
	issuer, err := caddy.NewReplacer().ReplaceOrErr(g.Issuer, true, true)
	if err != nil || issuer == "" {
		return fmt.Errorf("oidc_protect: issuer is required (the issuer of an oidc_provider in this Caddy)")
	}
	if u, err := url.Parse(issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("oidc_protect: issuer %q is not an http(s) URL", issuer)
	}
	g.issuer = strings.TrimSuffix(issuer, "/")
	iu, _ := url.Parse(g.issuer)
	g.issuerOrigin = strings.ToLower(iu.Scheme + "://" + iu.Host)
	g.policy = provider.GatePolicy{Bypass: g.Bypass, Rules: g.Rules}
	if err := g.policy.Validate(); err != nil {
		return fmt.Errorf("oidc_protect: %w", err)
	}
	for i, h := range g.HeaderUp {
		if h.Name == "" || strings.ContainsAny(h.Name, " :\t\r\n") {
			return fmt.Errorf("oidc_protect: header_up[%d]: %q is not a header name", i, h.Name)
		}
	}
	if strings.ContainsAny(g.Assertion, " :\t\r\n") {
		return fmt.Errorf("oidc_protect: assertion: %q is not a header name", g.Assertion)
	}
	return nil
}

// gateOutcome is what the gate decided while it held the provider.
type gateOutcome struct {
	id        *provider.Identity
	decision  provider.GateDecision
	login     *provider.GateLogin // start a login
	noSession bool                // no credentials at all
	badToken  bool                // a bearer token that is not valid
	scopes    []string            // for insufficient_scope
	logoutURL string
	cookie    string // a new gate cookie (callback)
	returnTo  string
	pass      bool // the provider's own path on its own host
	loginErr  bool
	assertion string // signed identity for the upstream
	// page is the gate's page for a browser (403, failed sign-in),
	// rendered by the provider.
	page *renderedPage

	// For the decision's count and span (telemetry.GateDecisionInfo).
	sink       *telemetry.Sink // the provider's; nil counts only
	rule       int             // index of the deciding rule, -1 none
	maxAge     int64           // of the deciding rule (GateStepUp)
	acr        string          // of the deciding rule (GateStepUp)
	belowLevel bool            // the step-up is for the rule's level
	noFactor   bool            // denied: the rule's level needs a second factor the user lacks
	credential telemetry.GateCredential
	start      time.Time
}

func (g *Protect) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	// First, always: identity headers never come from the client.
	for _, h := range g.HeaderUp {
		r.Header.Del(h.Name)
	}
	if g.Assertion != "" {
		r.Header.Del(g.Assertion)
	}
	path := provider.CleanGatePath(r.URL.Path)
	reserved := path == provider.GateCallbackPath || path == provider.GateLogoutPath
	if !reserved && g.policy.Bypassed(r.URL.Path) {
		return next.ServeHTTP(w, r)
	}
	secure := r.TLS != nil
	origin := "http://" + strings.ToLower(r.Host)
	if secure {
		origin = "https://" + strings.ToLower(r.Host)
	}
	start := time.Now()
	var out gateOutcome
	var sink *telemetry.Sink
	found, err := providers.with(g.issuer, func(lp *liveProvider) error {
		var err error
		sink = lp.telemetry
		out, err = g.decide(r, lp.prov, origin, path, secure)
		return err
	})
	out.sink, out.start = sink, start
	switch {
	case !found:
		if atomic.CompareAndSwapInt32(&g.unresolvedLogged, 0, 1) { // once, not per request
			g.logger.Error("oidc_protect: no oidc_provider serves this issuer in this Caddy; protected requests get 503", zap.String("issuer", g.issuer))
		}
		w.Header().Set("Retry-After", "10")
		http.Error(w, "The sign-in service of this site is not available.", http.StatusServiceUnavailable)
		return nil
	case errors.Is(err, provider.ErrGateOrigin):
		http.Error(w, "Bad Host header.", http.StatusBadRequest)
		return nil
	case errors.Is(err, provider.ErrUnavailable):
		w.Header().Set("Retry-After", "5")
		http.Error(w, "The sign-in service is temporarily unavailable.", http.StatusServiceUnavailable)
		return nil
	case err != nil:
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	return g.respond(w, r, next, out, origin, path, secure)
}

// decide does everything that needs the provider (and its store).
func (g *Protect) decide(r *http.Request, p *provider.Provider, origin, path string, secure bool) (gateOutcome, error) {
	out, err := g.decideIdentity(r, p, origin, path, secure)
	switch {
	case err != nil:
	case out.loginErr:
		out.page = renderGatePage(r, p, provider.GatePageLoginFailed, origin)
	case out.id != nil && !out.id.Bearer && out.decision == provider.GateDeny && out.noFactor:
		out.page = renderGatePage(r, p, provider.GatePageNeedsSecondFactor, origin)
	case out.id != nil && !out.id.Bearer && out.decision == provider.GateDeny:
		out.page = renderGatePage(r, p, provider.GatePageDenied, origin)
	case out.id != nil && out.decision == provider.GateAllow && g.Assertion != "":
		out.assertion, err = p.SignGateAssertion(out.id, origin)
	}
	return out, err
}

func (g *Protect) decideIdentity(r *http.Request, p *provider.Provider, origin, path string, secure bool) (gateOutcome, error) {
	out := gateOutcome{rule: -1}
	ctx := r.Context()
	if origin == g.issuerOrigin && p.Handles(r.URL.Path) {
		out.pass = true // the provider's own pages on its own host
		return out, nil
	}
	if err := provider.CheckGateOrigin(origin); err != nil {
		return out, err
	}
	switch path {
	case provider.GateCallbackPath:
		return g.callback(r, p, origin, secure)
	case provider.GateLogoutPath:
		if c, err := r.Cookie(gateCookieName(secure)); err == nil {
			if err := p.EndGateSession(ctx, c.Value); err != nil {
				return out, err
			}
		}
		out.logoutURL = p.GateLogoutURL(origin)
		return out, nil
	}
	if tok, ok := bearerToken(r); ok {
		out.credential = telemetry.GateBearerToken
		id, err := p.VerifyBearer(ctx, tok)
		if err != nil {
			return out, err
		}
		if id == nil {
			out.badToken = true
			return out, nil
		}
		out.setVerdict(id, p.DecideGate(&g.policy, r.Method, r.URL.Path, id))
		return out, nil
	}
	if c, err := r.Cookie(gateCookieName(secure)); err == nil {
		out.credential = telemetry.GateSessionCookie
		id, err := p.GateIdentity(ctx, origin, c.Value)
		if err != nil {
			return out, err
		}
		if id != nil {
			v := p.DecideGate(&g.policy, r.Method, r.URL.Path, id)
			out.setVerdict(id, v)
			if out.decision == provider.GateStepUp && isNavigation(r) {
				// Signed in, but too long ago or not strongly enough for
				// this rule: sign in again with max_age and acr_values
				// rather than refuse (OIDC Core §3.1.2.1).
				out.login, err = p.StartGateReauthentication(origin, v)
			}
			return out, err
		}
	}
	out.noSession = true
	if isNavigation(r) {
		gl, err := p.StartGateLogin(origin)
		if err != nil {
			return out, err
		}
		out.login = gl
	}
	return out, nil
}

func (out *gateOutcome) setVerdict(id *provider.Identity, v provider.GateVerdict) {
	out.id, out.decision, out.rule, out.scopes, out.maxAge = id, v.Decision, v.Rule, v.Scopes, v.MaxAge
	out.acr, out.belowLevel, out.noFactor = v.ACR, v.BelowLevel, v.NoSecondFactor
}

// record counts the decision and records its span under the request span.
func (out *gateOutcome) record(r *http.Request, d telemetry.GateDecision) {
	info := telemetry.GateDecisionInfo{Decision: d, Rule: out.rule, Method: r.Method, Credential: out.credential, Start: out.start}
	if out.decision == provider.GateStepUp {
		info.StepUp = telemetry.GateStepUpMaxAge
		if out.belowLevel {
			info.StepUp = telemetry.GateStepUpACR
		}
	}
	out.sink.GateDecision(r.Context(), info)
}

// callback finishes the login: state against the login cookie (CSRF,
// RFC 6749 §10.12), then the code with the PKCE verifier kept there.
func (g *Protect) callback(r *http.Request, p *provider.Provider, origin string, secure bool) (gateOutcome, error) {
	var out gateOutcome
	q := r.URL.Query()
	c, err := r.Cookie(loginCookieName(secure))
	if err != nil {
		out.loginErr = true
		return out, nil
	}
	state, verifier, returnTo, ok := parseLoginCookie(c.Value)
	if !ok || q.Get("state") == "" || subtle.ConstantTimeCompare([]byte(state), []byte(q.Get("state"))) != 1 || q.Get("code") == "" {
		out.loginErr = true
		return out, nil
	}
	cookie, _, err := p.FinishGateLogin(r.Context(), origin, q.Get("code"), verifier)
	if errors.Is(err, provider.ErrGateLogin) {
		out.loginErr = true
		return out, nil
	}
	if err != nil {
		return out, err
	}
	out.cookie, out.returnTo = cookie, returnTo
	return out, nil
}

// respond acts on the outcome, after the provider has been let go.
func (g *Protect) respond(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, out gateOutcome, origin, path string, secure bool) error {
	realm := `Bearer realm="` + origin + `"`
	switch {
	case out.pass:
		return next.ServeHTTP(w, r)
	case out.loginErr:
		clearCookie(w, loginCookieName(secure), secure)
		out.page.writeTo(w)
		return nil
	case out.cookie != "":
		clearCookie(w, loginCookieName(secure), secure)
		http.SetCookie(w, &http.Cookie{Name: gateCookieName(secure), Value: out.cookie, Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, out.returnTo, http.StatusSeeOther)
		return nil
	case out.logoutURL != "":
		clearCookie(w, gateCookieName(secure), secure)
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, out.logoutURL, http.StatusSeeOther)
		return nil
	case out.badToken:
		out.record(r, telemetry.GateInvalidToken)
		// RFC 6750 §3.1: invalid_token, 401.
		w.Header().Set("WWW-Authenticate", realm+`, error="invalid_token", error_description="the access token is not valid"`)
		http.Error(w, "invalid_token", http.StatusUnauthorized)
		return nil
	case out.login != nil:
		out.record(r, telemetry.GateLoginRequired)
		http.SetCookie(w, &http.Cookie{Name: loginCookieName(secure), Value: loginCookieValue(out.login, returnPath(r)), Path: "/",
			MaxAge: 600, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, out.login.AuthURL, http.StatusSeeOther)
		return nil
	case out.noSession:
		out.record(r, telemetry.GateLoginRequired)
		// Not a navigation: an API or script gets 401, never a login page
		// (RFC 6750 §3: no error code when no credentials were sent).
		w.Header().Set("WWW-Authenticate", realm)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return nil
	}
	switch out.decision {
	case provider.GateInvalidAudience:
		out.record(r, telemetry.GateInvalidToken)
		w.Header().Set("WWW-Authenticate", realm+`, error="invalid_token", error_description="the access token is not for this resource"`)
		http.Error(w, "invalid_token", http.StatusUnauthorized)
		return nil
	case provider.GateInsufficientScope:
		out.record(r, telemetry.GateInsufficientScope)
		w.Header().Set("WWW-Authenticate", realm+`, error="insufficient_scope", scope="`+strings.Join(out.scopes, " ")+`"`)
		http.Error(w, "insufficient_scope", http.StatusForbidden)
		return nil
	case provider.GateStepUp:
		// RFC 9470 §3: the token (or, for a script, the session) stands for
		// a login older than the rule allows or below its level; the client
		// must have the user sign in again with the max_age and acr_values
		// the challenge names. Counted as login_required.
		out.record(r, telemetry.GateLoginRequired)
		w.Header().Set("WWW-Authenticate", realm+stepUpChallenge(out))
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "insufficient_user_authentication", http.StatusUnauthorized)
		return nil
	case provider.GateDeny:
		out.record(r, telemetry.GateDeny)
		if out.id.Bearer {
			w.Header().Set("WWW-Authenticate", realm+`, error="insufficient_scope"`)
			http.Error(w, "forbidden", http.StatusForbidden)
			return nil
		}
		out.page.writeTo(w)
		return nil
	}
	out.record(r, telemetry.GateAllow)
	g.setIdentity(r, out.id)
	if out.assertion != "" {
		r.Header.Set(g.Assertion, out.assertion)
	}
	return next.ServeHTTP(w, r)
}

// setIdentity makes the identity available to the next handlers: Caddy's
// auth placeholder, {oidc.<claim>}, and the configured headers.
func (g *Protect) setIdentity(r *http.Request, id *provider.Identity) {
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl == nil {
		repl = caddy.NewReplacer()
	}
	repl.Set("http.auth.user.id", id.Subject)
	for k := range id.Claims {
		repl.Set("oidc."+k, id.ClaimString(k))
	}
	repl.Set("oidc.sub", id.Subject)
	if id.ClientID != "" {
		repl.Set("oidc.client_id", id.ClientID)
	}
	repl.Set("oidc.scope", strings.Join(id.Scopes, " "))
	for _, h := range g.HeaderUp {
		if v := repl.ReplaceAll(h.Value, ""); v != "" {
			r.Header.Set(h.Name, v)
		}
	}
}

// stepUpChallenge is the error part of RFC 9470 §3's challenge: the
// rule's level and max age, whichever it has.
func stepUpChallenge(out gateOutcome) string {
	desc := "a more recent authentication is required"
	if out.belowLevel {
		desc = "a stronger authentication is required"
	}
	c := `, error="insufficient_user_authentication", error_description="` + desc + `"`
	if out.acr != "" {
		c += `, acr_values="` + out.acr + `"`
	}
	if out.maxAge > 0 {
		c += `, max_age="` + strconv.FormatInt(out.maxAge, 10) + `"`
	}
	return c
}

func gateCookieName(secure bool) string {
	if secure {
		return "__Host-oidcaddy_gate"
	}
	return "oidcaddy_gate"
}

func loginCookieName(secure bool) string {
	if secure {
		return "__Host-oidcaddy_gate_login"
	}
	return "oidcaddy_gate_login"
}

func clearCookie(w http.ResponseWriter, name string, secure bool) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
}

// The login cookie holds state, PKCE verifier and where to go back: all of
// this browser's own, none a secret of anyone else.
func loginCookieValue(gl *provider.GateLogin, returnTo string) string {
	return gl.State + "." + gl.Verifier + "." + base64.RawURLEncoding.EncodeToString([]byte(returnTo))
}

func parseLoginCookie(v string) (state, verifier, returnTo string, ok bool) {
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return "", "", "", false
	}
	rt, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !localPath(string(rt)) {
		return "", "", "", false
	}
	return parts[0], parts[1], string(rt), true
}

// returnPath is the request's path and query, to come back to after login.
func returnPath(r *http.Request) string {
	p := r.URL.RequestURI()
	if !localPath(p) || len(p) > 2048 {
		return "/"
	}
	return p
}

// localPath: a path on this site, never another host ("//host", "/\host").
func localPath(p string) bool {
	return strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "/\\")
}

func bearerToken(r *http.Request) (string, bool) {
	a := r.Header.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:]), true
	}
	return "", false
}

// isNavigation: a browser loading a page, which may be redirected to the
// login. Fetch metadata says so when present; otherwise a GET asking for
// HTML. Everything else (fetch, XHR, API clients) gets 401.
func isNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode != "" {
		return mode == "navigate"
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Protect)(nil)
	_ caddy.Validator             = (*Protect)(nil)
	_ caddyhttp.MiddlewareHandler = (*Protect)(nil)
)
