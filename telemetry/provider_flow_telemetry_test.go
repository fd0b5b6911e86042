package telemetry_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/crypto/bcrypt"

	"github.com/oidcaddy/oidcaddy/internal/formflow"
	"github.com/oidcaddy/oidcaddy/internal/jose"
	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/store/memstore"
	"github.com/oidcaddy/oidcaddy/telemetry"
)

// The credentials of the flow. Each is distinctive so that finding it in
// exported telemetry cannot be a coincidence.
const (
	flowClientID      = "rp"
	flowClientSecret  = "S3cr3t-client-9f8e"
	flowServiceID     = "svc"
	flowServiceSecret = "S3cr3t-service-4a1b"
	flowLogin         = "alice"
	flowPassword      = "Pa55word-user-7d6c"
	flowWrongPassword = "Wr0ng-pa55word-3e2d"
	flowWrongSecret   = "Wr0ng-client-secret-6c5b"
	flowBogusToken    = "B0gus-access-token-0f1e"
	flowRedirectURI   = "https://rp.example/callback"

	// requestTracer names the tracer of the stand-in for Caddy's tracing
	// handler, so its spans are told apart from the Sink's.
	requestTracer = "caddy-tracing-stand-in"
)

// servedRequest is one HTTP request as the tracing middleware saw it.
type servedRequest struct {
	label string // method and path, for messages
	span  trace.SpanContext
}

type servedRequestKey struct{}

// seenEvent is one provider.Event as the recording sink received it, with
// the request whose context carried it and the span that context held.
type seenEvent struct {
	event   provider.Event
	req     *servedRequest // nil when the context no longer leads to a request
	ctxSpan trace.SpanContext
}

// eventRecorder is the provider.EventSink beside the telemetry Sink: the
// ground truth of what the provider emitted, and from which request.
type eventRecorder struct {
	mu     sync.Mutex
	events []seenEvent
}

func (r *eventRecorder) Emit(ctx context.Context, e provider.Event) {
	req, _ := ctx.Value(servedRequestKey{}).(*servedRequest)
	r.mu.Lock()
	r.events = append(r.events, seenEvent{event: e, req: req, ctxSpan: trace.SpanContextFromContext(ctx)})
	r.mu.Unlock()
}

func (r *eventRecorder) all() []seenEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// recordProcessor is an sdklog.Processor keeping every record it is given,
// synchronously, so the records are complete once the requests are.
type recordProcessor struct {
	mu      sync.Mutex
	records []sdklog.Record
}

func (p *recordProcessor) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (p *recordProcessor) OnEmit(_ context.Context, r *sdklog.Record) error {
	p.mu.Lock()
	p.records = append(p.records, r.Clone())
	p.mu.Unlock()
	return nil
}
func (p *recordProcessor) Shutdown(context.Context) error   { return nil }
func (p *recordProcessor) ForceFlush(context.Context) error { return nil }

func (p *recordProcessor) all() []sdklog.Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.records)
}

// recordingJar is the browser's cookie jar; it remembers every value the
// provider ever set, including cookies it later deletes or scopes to a path
// (the interaction cookie lives only under /interaction/{uid}).
type recordingJar struct {
	http.CookieJar
	mu     sync.Mutex
	values map[string][]string // cookie name → values
}

func (j *recordingJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	j.mu.Lock()
	for _, c := range cookies {
		if c.Value != "" {
			j.values[c.Name] = append(j.values[c.Name], c.Value)
		}
	}
	j.mu.Unlock()
	j.CookieJar.SetCookies(u, cookies)
}

// flowClock runs with real time (the store's TTLs do) plus an offset the test
// moves forward, e.g. past the refresh token reuse grace.
type flowClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *flowClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *flowClock) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// secretSet is every value the telemetry must never carry, with what it is.
type secretSet struct {
	t      *testing.T
	values map[string]string
}

func (s *secretSet) add(what, v string) {
	s.t.Helper()
	if len(v) < 12 {
		// Short values would match by chance and say nothing.
		s.t.Fatalf("%s %q is too short to search for", what, v)
	}
	if _, dup := s.values[v]; !dup {
		s.values[v] = what
	}
}

// addJWT adds a JWT and, separately, its signature: the part that makes a
// copy usable.
func (s *secretSet) addJWT(what, v string) {
	s.t.Helper()
	s.add(what, v)
	if parts := strings.Split(v, "."); len(parts) == 3 {
		s.add(what+" signature", parts[2])
	} else {
		s.t.Fatalf("%s is not a JWT: %q", what, v)
	}
}

func (s *secretSet) count(prefix string) int {
	n := 0
	for _, what := range s.values {
		if strings.HasPrefix(what, prefix) {
			n++
		}
	}
	return n
}

type flowResponse struct {
	status int
	header http.Header
	body   string
}

func (r flowResponse) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("response %d is not JSON: %q", r.status, r.body)
	}
	return m
}

// flowEnv is a provider behind a tracing middleware, a browser and a
// relying party's back channel.
type flowEnv struct {
	t       *testing.T
	issuer  string
	srv     *httptest.Server
	clock   *flowClock
	browser *formflow.Browser
	jar     *recordingJar
	backend *http.Client // the relying party's server-to-server calls
	secrets *secretSet

	spans    *tracetest.InMemoryExporter
	logs     *recordProcessor
	events   *eventRecorder
	mu       sync.Mutex
	requests map[trace.SpanID]*servedRequest
	order    []*servedRequest
}

func newFlowEnv(t *testing.T) *flowEnv {
	t.Helper()
	// In memory: these tests are about what telemetry makes of the
	// provider's events; Badger has its own conformance and e2e coverage.
	st := memstore.New()
	key, err := jose.GenerateKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := jose.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(flowPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	accounts, err := provider.NewStaticAccounts(provider.User{Login: flowLogin, Subject: "alice-sub", PasswordHash: string(hash),
		Claims: map[string]any{"name": "Alice Liddell", "email": "alice@example.com", "email_verified": true}})
	if err != nil {
		t.Fatal(err)
	}
	rp := &provider.Client{ID: flowClientID, Name: "Relying Party", RedirectURIs: []string{flowRedirectURI},
		TokenEndpointAuthMethod: provider.AuthMethodClientSecretBasic,
		GrantTypes:              []string{provider.GrantTypeAuthorizationCode, provider.GrantTypeRefreshToken}}
	rp.SetSecret(flowClientSecret)
	svc := &provider.Client{ID: flowServiceID, TokenEndpointAuthMethod: provider.AuthMethodClientSecretBasic,
		GrantTypes: []string{provider.GrantTypeClientCredentials}, AllowedScopes: []string{"read", "write"}}
	svc.SetSecret(flowServiceSecret)
	clients, err := provider.NewStaticClients(rp, svc)
	if err != nil {
		t.Fatal(err)
	}

	f := &flowEnv{
		t:        t,
		clock:    &flowClock{},
		secrets:  &secretSet{t: t, values: map[string]string{}},
		spans:    tracetest.NewInMemoryExporter(),
		logs:     &recordProcessor{},
		events:   &eventRecorder{},
		requests: map[trace.SpanID]*servedRequest{},
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(f.spans), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(f.logs))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = lp.Shutdown(context.Background())
	})
	tracer := tp.Tracer(requestTracer)

	var p *provider.Provider
	// What Caddy's tracing directive does: a server span per request, in
	// the request context, around the next handler. The context value lets
	// the recording sink name the request independently of the span the
	// provider hands on.
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tracer.Start(r.Context(), "request", trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		req := &servedRequest{label: r.Method + " " + r.URL.Path, span: span.SpanContext()}
		f.mu.Lock()
		f.requests[req.span.SpanID()] = req
		f.order = append(f.order, req)
		f.mu.Unlock()
		p.ServeHTTP(w, r.WithContext(context.WithValue(ctx, servedRequestKey{}, req)))
	}))
	t.Cleanup(f.srv.Close)
	f.issuer = f.srv.URL

	p, err = provider.New(provider.Config{
		Issuer: f.issuer, Store: st, Clients: clients, Accounts: accounts, Signer: keys, Clock: f.clock.now,
		Events: provider.MultiSink{telemetry.NewSink(telemetry.Options{LoggerProvider: lp}), f.events},
	})
	if err != nil {
		t.Fatal(err)
	}

	jar, _ := cookiejar.New(nil)
	f.jar = &recordingJar{CookieJar: jar, values: map[string][]string{}}
	f.browser = formflow.New(f.jar)
	f.backend = &http.Client{CheckRedirect: formflow.StopAtRedirects}

	f.secrets.add("client secret", flowClientSecret)
	f.secrets.add("service client secret", flowServiceSecret)
	f.secrets.add("password", flowPassword)
	f.secrets.add("mistyped password", flowWrongPassword)
	f.secrets.add("wrong client secret", flowWrongSecret)
	f.secrets.add("bogus bearer token", flowBogusToken)
	for _, c := range [][2]string{{flowClientID, flowClientSecret}, {flowServiceID, flowServiceSecret}, {flowClientID, flowWrongSecret}} {
		f.secrets.add("Basic credentials of "+c[0], base64.StdEncoding.EncodeToString([]byte(c[0]+":"+c[1])))
	}
	return f
}

func (f *flowEnv) do(c *http.Client, req *http.Request) flowResponse {
	f.t.Helper()
	r, err := formflow.Do(c, req)
	if err != nil {
		f.t.Fatal(err)
	}
	return flowResponse{r.Status, r.Header, r.Body}
}

func (f *flowEnv) post(c *http.Client, u string, form url.Values, basicID, basicSecret string) flowResponse {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		// RFC 6749 §2.3.1: form-encoded before joining.
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	return f.do(c, req)
}

// authorize runs an authorization request through whatever pages the
// provider shows, mistyping the password once when asked to log in if
// mistype is set, and returns the code and PKCE verifier.
func (f *flowEnv) authorize(seed string, mistype bool) (code, verifier string) {
	t := f.t
	t.Helper()
	verifier = "flow-pkce-verifier-" + seed + strings.Repeat("x", 43)
	sum := sha256.Sum256([]byte(verifier))
	f.secrets.add("PKCE verifier", verifier)
	q := url.Values{"client_id": {flowClientID}, "redirect_uri": {flowRedirectURI}, "response_type": {"code"},
		"scope": {"openid email offline_access"}, "prompt": {"consent"}, "state": {"state-" + seed}, "nonce": {"nonce-" + seed},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	r, err := f.browser.Authorize(f.issuer+"/authorize?"+q.Encode(), f.issuer+"/interaction/", 4, func(page formflow.Response, form formflow.Form) (url.Values, error) {
		if page.Status != http.StatusOK {
			return nil, fmt.Errorf("interaction page: %d %s", page.Status, page.Body)
		}
		f.secrets.add("CSRF token", form.CSRFToken())
		switch {
		case strings.HasSuffix(form.Action, "/login"):
			if mistype {
				mistype = false
				bad, err := f.browser.PostForm(formflow.Resolve(page.URL, form.Action), url.Values{"csrf_token": {form.CSRFToken()}, "login": {flowLogin}, "password": {flowWrongPassword}})
				if err != nil {
					return nil, err
				}
				// POST-redirect-GET back to the login page.
				if bad.Status != http.StatusSeeOther || bad.Header.Get("Location") != page.URL {
					return nil, fmt.Errorf("wrong password: status %d to %q, want 303 to the login page: %s", bad.Status, bad.Header.Get("Location"), bad.Body)
				}
				again, err := f.browser.Get(page.URL)
				if err != nil {
					return nil, err
				}
				if form, err = formflow.FirstForm(again.Body); err != nil {
					return nil, fmt.Errorf("login page after a wrong password (status %d): %w", again.Status, err)
				}
				f.secrets.add("CSRF token", form.CSRFToken())
				return url.Values{"csrf_token": {form.CSRFToken()}, "login": {flowLogin}, "password": {flowPassword}}, nil
			}
			return url.Values{"login": {flowLogin}, "password": {flowPassword}}, nil
		case strings.HasSuffix(form.Action, "/consent"):
			return url.Values{"decision": {"allow"}}, nil
		}
		return nil, fmt.Errorf("unexpected form action %q", form.Action)
	})
	if err != nil {
		t.Fatalf("authorization: %v", err)
	}
	loc := r.Location()
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, flowRedirectURI+"?") {
		t.Fatalf("authorization ended with status %d to %q, want 303 to the client: %s", r.Status, loc, r.Body)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	if code = u.Query().Get("code"); code == "" {
		t.Fatalf("authorization response without a code: %s", loc)
	}
	f.secrets.add("authorization code", code)
	return code, verifier
}

// token posts to the token endpoint and collects every token it returns.
func (f *flowEnv) token(form url.Values, id, secret string, wantStatus int) map[string]any {
	f.t.Helper()
	r := f.post(f.backend, f.issuer+"/token", form, id, secret)
	body := r.json(f.t)
	if r.status != wantStatus {
		f.t.Fatalf("token (%s as %s): status %d, want %d: %v", form.Get("grant_type"), id, r.status, wantStatus, body)
	}
	if v, _ := body["access_token"].(string); v != "" {
		f.secrets.add("access token", v)
	}
	if v, _ := body["refresh_token"].(string); v != "" {
		f.secrets.add("refresh token", v)
	}
	if v, _ := body["id_token"].(string); v != "" {
		f.secrets.addJWT("ID token", v)
	}
	return body
}

func (f *flowEnv) introspect(token, id, secret string, wantStatus int) map[string]any {
	f.t.Helper()
	r := f.post(f.backend, f.issuer+"/token/introspection", url.Values{"token": {token}}, id, secret)
	body := r.json(f.t)
	if r.status != wantStatus {
		f.t.Fatalf("introspection as %s: status %d, want %d: %v", id, r.status, wantStatus, body)
	}
	return body
}

func (f *flowEnv) revoke(token, hint, id, secret string, wantStatus int) {
	f.t.Helper()
	r := f.post(f.backend, f.issuer+"/token/revocation", url.Values{"token": {token}, "token_type_hint": {hint}}, id, secret)
	if r.status != wantStatus {
		f.t.Fatalf("revocation as %s: status %d, want %d: %s", id, r.status, wantStatus, r.body)
	}
}

func (f *flowEnv) userinfo(token string, wantStatus int) map[string]any {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.issuer+"/userinfo", nil)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	r := f.do(f.backend, req)
	body := r.json(f.t)
	if r.status != wantStatus {
		f.t.Fatalf("userinfo: status %d, want %d: %v", r.status, wantStatus, body)
	}
	return body
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

// runFlow drives the provider the way a browser, a relying party and a
// service do, success and failure paths of every endpoint it reaches.
func (f *flowEnv) runFlow() {
	t := f.t
	codeGrant := func(code, verifier string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {flowRedirectURI}, "code_verifier": {verifier}}
	}

	// Login (one mistyped password) and consent, then the code exchange,
	// first with a wrong client secret, which must not consume the code.
	code, verifier := f.authorize("first", true)
	if body := f.token(codeGrant(code, verifier), flowClientID, flowWrongSecret, http.StatusUnauthorized); str(body, "error") != "invalid_client" {
		t.Fatalf("wrong client secret: %v", body)
	}
	tok := f.token(codeGrant(code, verifier), flowClientID, flowClientSecret, http.StatusOK)
	at1, rt1 := str(tok, "access_token"), str(tok, "refresh_token")
	if at1 == "" || rt1 == "" || str(tok, "id_token") == "" {
		t.Fatalf("code exchange with offline_access lacks a token: %v", tok)
	}

	if info := f.userinfo(at1, http.StatusOK); info["sub"] != "alice-sub" {
		t.Fatalf("userinfo: %v", info)
	}
	if body := f.userinfo(flowBogusToken, http.StatusUnauthorized); str(body, "error") != "invalid_token" {
		t.Fatalf("userinfo with a bogus token: %v", body)
	}

	refreshGrant := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}}
	tok = f.token(refreshGrant, flowClientID, flowClientSecret, http.StatusOK)
	at2, rt2 := str(tok, "access_token"), str(tok, "refresh_token")
	if at2 == "" || rt2 == "" || rt2 == rt1 {
		t.Fatalf("refresh did not rotate: %v", tok)
	}
	if got := f.introspect(at2, flowClientID, flowClientSecret, http.StatusOK); got["active"] != true {
		t.Fatalf("refreshed access token: %v", got)
	}
	// Reuse of the rotated token after the reuse grace: the grant goes.
	f.clock.advance(3 * time.Second)
	if body := f.token(refreshGrant, flowClientID, flowClientSecret, http.StatusBadRequest); str(body, "error") != "invalid_grant" {
		t.Fatalf("refresh token reuse: %v", body)
	}
	if got := f.introspect(at2, flowClientID, flowClientSecret, http.StatusOK); got["active"] != false {
		t.Fatalf("access token of the revoked grant: %v", got)
	}
	if body := f.introspect(at2, flowClientID, flowWrongSecret, http.StatusUnauthorized); str(body, "error") != "invalid_client" {
		t.Fatalf("introspection with a wrong secret: %v", body)
	}

	// A new grant in the same browser (the session stands, the consent
	// went with the grant), then introspection and revocation of its tokens.
	code, verifier = f.authorize("second", false)
	tok = f.token(codeGrant(code, verifier), flowClientID, flowClientSecret, http.StatusOK)
	at3, rt3 := str(tok, "access_token"), str(tok, "refresh_token")
	if got := f.introspect(at3, flowClientID, flowClientSecret, http.StatusOK); got["active"] != true || got["client_id"] != flowClientID {
		t.Fatalf("introspection of a live access token: %v", got)
	}
	f.revoke(at3, "access_token", flowServiceID, flowServiceSecret, http.StatusBadRequest) // not its token
	f.revoke(at3, "access_token", flowClientID, flowClientSecret, http.StatusOK)
	f.revoke(rt3, "refresh_token", flowClientID, flowClientSecret, http.StatusOK)
	if got := f.introspect(rt3, flowClientID, flowClientSecret, http.StatusOK); got["active"] != false {
		t.Fatalf("revoked refresh token: %v", got)
	}

	// A service's own token.
	tok = f.token(url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}, flowServiceID, flowServiceSecret, http.StatusOK)
	cc := str(tok, "access_token")
	if got := f.introspect(cc, flowServiceID, flowServiceSecret, http.StatusOK); got["active"] != true || got["sub"] != flowServiceID {
		t.Fatalf("client_credentials token: %v", got)
	}
	f.revoke(cc, "", flowServiceID, flowServiceSecret, http.StatusOK)
	if body := f.token(url.Values{"grant_type": {"client_credentials"}}, flowServiceID, flowWrongSecret, http.StatusUnauthorized); str(body, "error") != "invalid_client" {
		t.Fatalf("client_credentials with a wrong secret: %v", body)
	}

	f.jar.mu.Lock()
	defer f.jar.mu.Unlock()
	for name, values := range f.jar.values {
		for _, v := range values {
			f.secrets.add("cookie "+name, v)
		}
	}
}

type spanEvent struct {
	span trace.SpanID // the request span
	name string
}

// TestProviderFlowTelemetry drives a real provider through login, consent,
// tokens, userinfo, refresh rotation and reuse, introspection, revocation
// and client_credentials behind a stand-in for Caddy's tracing, and checks
// that what OpenTelemetry receives is complete (a span and a log record per
// event), attached to the right request, and free of every credential the
// flow handled.
func TestProviderFlowTelemetry(t *testing.T) {
	f := newFlowEnv(t)
	f.runFlow()
	// Close waits for the handlers, hence for every request span to end.
	f.srv.Close()

	events := f.events.all()
	spans := f.spans.GetSpans()
	records := f.logs.all()
	f.mu.Lock()
	requests, order := f.requests, f.order
	f.mu.Unlock()

	// 4. The flow happened: the ground truth holds what it must.
	seen := map[provider.EventName]int{}
	for _, e := range events {
		seen[e.event.Name]++
	}
	for _, name := range []provider.EventName{
		provider.EventAuthorizationSuccess, provider.EventAuthorizationError, provider.EventAuthorizationCodeConsumed,
		provider.EventAccessTokenSaved, provider.EventRefreshTokenSaved, provider.EventRefreshTokenConsumed,
		provider.EventGrantRevoked, provider.EventGrantSuccess, provider.EventGrantError, provider.EventUserinfoError,
		provider.EventClientCredentialsSaved, provider.EventClientCredentialsDestroyed, provider.EventAccessTokenDestroyed,
		provider.EventRefreshTokenDestroyed, provider.EventIntrospectionError, provider.EventRevocationError,
		provider.EventInteractionStarted, provider.EventSessionSaved,
	} {
		if seen[name] == 0 {
			t.Errorf("the flow never emitted %s", name)
		}
	}
	if n := seen[provider.EventServerError]; n != 0 {
		t.Errorf("the flow hit %d server errors", n)
	}
	for _, kind := range []string{"authorization code", "access token", "refresh token", "ID token", "CSRF token", "cookie oidcaddy_session", "cookie oidcaddy_interaction"} {
		if f.secrets.count(kind) == 0 {
			t.Errorf("no %s was collected: the leak check would be vacuous for it", kind)
		}
	}

	// The ground truth, per request span and event name.
	want := map[spanEvent]int{}
	for _, e := range events {
		switch {
		case e.req == nil:
			t.Errorf("event %s was emitted with a context that no longer belongs to its request", e.event.Name)
			continue
		case !e.ctxSpan.Equal(e.req.span):
			t.Errorf("event %s of %s: the context's span is %s, not the request span %s", e.event.Name, e.req.label, e.ctxSpan.SpanID(), e.req.span.SpanID())
		}
		want[spanEvent{e.req.span.SpanID(), string(e.event.Name)}]++
	}
	label := func(id trace.SpanID) string {
		if r := requests[id]; r != nil {
			return r.label
		}
		return "unknown span " + id.String()
	}

	// 1 and 2. One span per event, a child of its request's span.
	gotSpans := map[spanEvent]int{}
	// eventSpans maps an event span's id to its request and event name.
	eventSpans := map[trace.SpanID]spanEvent{}
	requestSpans := 0
	for _, s := range spans {
		switch s.InstrumentationScope.Name {
		case requestTracer:
			requestSpans++
			if requests[s.SpanContext.SpanID()] == nil {
				t.Errorf("request span %s was not started by the middleware", s.SpanContext.SpanID())
			}
			continue
		case telemetry.InstrumentationName:
		default:
			t.Errorf("span %q from unexpected scope %q", s.Name, s.InstrumentationScope.Name)
			continue
		}
		parent := requests[s.Parent.SpanID()]
		switch {
		case parent == nil:
			t.Errorf("span %q: parent %s is no request span", s.Name, s.Parent.SpanID())
			continue
		case s.SpanContext.TraceID() != parent.span.TraceID() || s.Parent.TraceID() != parent.span.TraceID():
			t.Errorf("span %q under %s: trace %s, want the request's %s", s.Name, parent.label, s.SpanContext.TraceID(), parent.span.TraceID())
		}
		gotSpans[spanEvent{parent.span.SpanID(), s.Name}]++
		eventSpans[s.SpanContext.SpanID()] = spanEvent{parent.span.SpanID(), s.Name}
	}
	if requestSpans != len(order) {
		t.Errorf("%d request spans exported for %d requests", requestSpans, len(order))
	}

	// 1 and 2. One log record per event, with its request's trace and the
	// id of the event's own span.
	gotRecords := map[spanEvent]int{}
	for _, r := range records {
		ev, ok := eventSpans[r.SpanID()]
		req := requests[ev.span]
		switch {
		case !ok || req == nil:
			t.Errorf("log record %q carries span id %s, which is no event span of a request", r.EventName(), r.SpanID())
			continue
		case ev.name != r.EventName():
			t.Errorf("log record %q carries the span id of event %q", r.EventName(), ev.name)
		case r.TraceID() != req.span.TraceID():
			t.Errorf("log record %q of %s: trace id %s, want %s", r.EventName(), req.label, r.TraceID(), req.span.TraceID())
		}
		if r.InstrumentationScope().Name != telemetry.InstrumentationName {
			t.Errorf("log record %q from scope %q", r.EventName(), r.InstrumentationScope().Name)
		}
		gotRecords[spanEvent{req.span.SpanID(), r.EventName()}]++
	}

	compare := func(what string, got map[spanEvent]int) {
		t.Helper()
		keys := map[spanEvent]bool{}
		for k := range want {
			keys[k] = true
		}
		for k := range got {
			keys[k] = true
		}
		var diffs []string
		for k := range keys {
			if got[k] != want[k] {
				diffs = append(diffs, fmt.Sprintf("%s %s: %d %s, %d events", label(k.span), k.name, got[k], what, want[k]))
			}
		}
		sort.Strings(diffs)
		for _, d := range diffs {
			t.Error(d)
		}
		// The same, summed per event name: exactly one per event.
		byName := func(m map[spanEvent]int) map[string]int {
			out := map[string]int{}
			for k, n := range m {
				out[k.name] += n
			}
			return out
		}
		gn, wn := byName(got), byName(want)
		for name, n := range wn {
			if gn[name] != n {
				t.Errorf("%s: %d %s for %d events", name, gn[name], what, n)
			}
		}
		for name, n := range gn {
			if wn[name] == 0 {
				t.Errorf("%s: %d %s but no such event", name, n, what)
			}
		}
	}
	compare("spans", gotSpans)
	compare("log records", gotRecords)

	// 3. Nothing exported carries a secret, verbatim or URL-escaped.
	type exportedText struct{ where, text string }
	var exported []exportedText
	add := func(where, text string) { exported = append(exported, exportedText{where, text}) }
	for _, s := range spans {
		where := "span " + s.Name
		add(where+" name", s.Name)
		add(where+" status description", s.Status.Description)
		for _, kv := range s.Attributes {
			add(where+" attribute "+string(kv.Key), string(kv.Key)+"="+kv.Value.Emit())
		}
		for _, ev := range s.Events {
			add(where+" event", ev.Name)
			for _, kv := range ev.Attributes {
				add(where+" event "+ev.Name+" attribute "+string(kv.Key), string(kv.Key)+"="+kv.Value.Emit())
			}
		}
	}
	for _, r := range records {
		where := "log record " + r.EventName()
		add(where+" event name", r.EventName())
		add(where+" severity text", r.SeverityText())
		add(where+" body", r.Body().Emit())
		r.WalkAttributes(func(kv attribute.KeyValue) bool {
			add(where+" attribute "+string(kv.Key), string(kv.Key)+"="+kv.Value.Emit())
			return true
		})
	}
	// The metrics' labels, for good measure.
	reg := prometheus.NewRegistry()
	telemetry.RegisterMetrics(reg)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				add("metric "+mf.GetName()+" label "+l.GetName(), l.GetValue())
			}
		}
	}

	secrets := make([]string, 0, len(f.secrets.values))
	for secret := range f.secrets.values {
		secrets = append(secrets, secret)
	}
	sort.Slice(secrets, func(i, j int) bool { return f.secrets.values[secrets[i]] < f.secrets.values[secrets[j]] })
	leaks := 0
	for _, secret := range secrets {
		what := f.secrets.values[secret]
		forms := []string{secret, url.QueryEscape(secret), url.PathEscape(secret)}
		for _, e := range exported {
			for _, form := range forms {
				if strings.Contains(e.text, form) {
					leaks++
					t.Errorf("%s leaked into %s", what, e.where)
					break
				}
			}
		}
	}
	// The scan must have had something to scan: client ids and error codes
	// are exported by design.
	all := make([]string, len(exported))
	for i, e := range exported {
		all[i] = e.text
	}
	joined := strings.Join(all, "\n")
	for _, mustHave := range []string{"oidc.client_id=" + flowClientID, "oidc.client_id=" + flowServiceID, "oauth.error=invalid_client", "oidc.grant_id_hash="} {
		if !strings.Contains(joined, mustHave) {
			t.Errorf("exported telemetry lacks %q", mustHave)
		}
	}

	names := make([]string, 0, len(seen))
	for name, n := range seen {
		names = append(names, fmt.Sprintf("%s=%d", name, n))
	}
	sort.Strings(names)
	t.Logf("%d requests, %d events, %d event spans, %d log records, %d exported strings scanned for %d secret values, %d leaks; events: %s",
		len(order), len(events), len(spans)-requestSpans, len(records), len(exported), len(f.secrets.values), leaks, strings.Join(names, " "))
}
