package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Helpers shared by the token lifecycle, client and logout tests: plain
// HTTP calls to the endpoints go-oidc and x/oauth2 have no API for
// (introspection, revocation, PAR, registration), with the endpoint
// addresses taken from the discovery document, never assembled by hand.

// providerMetadata is the part of the discovery document these tests use.
type providerMetadata struct {
	Issuer                string `json:"issuer"`
	TokenEndpoint         string `json:"token_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
	RegistrationEndpoint  string `json:"registration_endpoint"`
	PAREndpoint           string `json:"pushed_authorization_request_endpoint"`
	EndSessionEndpoint    string `json:"end_session_endpoint"`

	GrantTypesSupported                       []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported         []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
}

// wantListed checks that a discovery list names value.
func wantListed(t *testing.T, list []string, member, value string) {
	t.Helper()
	if !slices.Contains(list, value) {
		t.Errorf("discovery: %s = %v, does not name %s", member, list, value)
	}
}

// discover reads the provider's metadata through go-oidc, which also checks
// the document the way relying parties do.
func discover(ctx context.Context, t *testing.T, issuer string) providerMetadata {
	t.Helper()
	p, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var m providerMetadata
	if err := p.Claims(&m); err != nil {
		t.Fatalf("discovery claims: %v", err)
	}
	for name, v := range map[string]string{"introspection_endpoint": m.IntrospectionEndpoint, "revocation_endpoint": m.RevocationEndpoint,
		"pushed_authorization_request_endpoint": m.PAREndpoint, "end_session_endpoint": m.EndSessionEndpoint, "jwks_uri": m.JWKSURI} {
		if !strings.HasPrefix(v, issuer+"/") {
			t.Fatalf("discovery: %s = %q, want an endpoint below %s", name, v, issuer)
		}
	}
	return m
}

// apiResponse is one answer of an endpoint.
type apiResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as a JSON object; a body that is not one fails the
// test.
func (r apiResponse) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v: %s", r.Status, err, r.Body)
	}
	return m
}

// errorCode is the OAuth error member of a JSON error body, or "".
func (r apiResponse) errorCode() string {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error
}

var apiClient = &http.Client{
	Timeout: 15 * time.Second,
	// Endpoints answer directly; a redirect would be a bug to see, not follow.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func doRequest(t *testing.T, req *http.Request) apiResponse {
	t.Helper()
	resp, err := apiClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return apiResponse{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// clientCreds authenticates a request the way the client is registered:
// HTTP Basic when it has a secret, client_id in the form when it is public,
// nothing when ID is empty (the form carries an assertion, or the test wants
// an unauthenticated call).
type clientCreds struct {
	ID, Secret string
}

// postForm sends form to endpoint as application/x-www-form-urlencoded.
func postForm(t *testing.T, endpoint string, form url.Values, c clientCreds) apiResponse {
	t.Helper()
	form = cloneValues(form)
	if c.ID != "" && c.Secret == "" {
		form.Set("client_id", c.ID)
	}
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.ID != "" && c.Secret != "" {
		// RFC 6749 §2.3.1: both halves are form-encoded before joining.
		req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	}
	return doRequest(t, req)
}

func cloneValues(v url.Values) url.Values {
	c := make(url.Values, len(v))
	for k, vv := range v {
		c[k] = append([]string(nil), vv...)
	}
	return c
}

// sendJSON sends a JSON document (or nothing, when body is nil) with an
// optional Bearer token: the registration and client configuration calls.
func sendJSON(t *testing.T, method, endpoint, bearer string, body any) apiResponse {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, endpoint, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return doRequest(t, req)
}

// registeredClient is the client information response (RFC 7591 §3.2.1).
type registeredClient struct {
	ClientID, ClientSecret, RegistrationAccessToken, RegistrationClientURI string
	Info                                                                   map[string]any
}

// register posts client metadata to the registration endpoint with an
// initial access token (or none) and returns the answer.
func register(t *testing.T, m providerMetadata, iat string, metadata map[string]any) apiResponse {
	t.Helper()
	return sendJSON(t, http.MethodPost, m.RegistrationEndpoint, iat, metadata)
}

func registered(t *testing.T, r apiResponse) registeredClient {
	t.Helper()
	if r.Status != http.StatusCreated {
		t.Fatalf("registration: %d %s, want 201", r.Status, r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("client information Cache-Control = %q, want no-store", r.Header.Get("Cache-Control"))
	}
	info := r.JSON(t)
	str := func(k string) string { s, _ := info[k].(string); return s }
	c := registeredClient{ClientID: str("client_id"), ClientSecret: str("client_secret"), RegistrationAccessToken: str("registration_access_token"),
		RegistrationClientURI: str("registration_client_uri"), Info: info}
	if c.ClientID == "" || c.RegistrationAccessToken == "" || c.RegistrationClientURI == "" {
		t.Fatalf("client information lacks client_id, registration_access_token or registration_client_uri: %v", info)
	}
	return c
}

// introspect asks the introspection endpoint (RFC 7662) about token as the
// confidential client c and returns the JSON answer.
func introspect(t *testing.T, m providerMetadata, c clientCreds, token string) map[string]any {
	t.Helper()
	r := postForm(t, m.IntrospectionEndpoint, url.Values{"token": {token}}, c)
	if r.Status != http.StatusOK {
		t.Fatalf("introspection as %s: %d %s", c.ID, r.Status, r.Body)
	}
	return r.JSON(t)
}

// wantActive checks an introspection answer: active with the given
// client_id, or inactive and nothing else (RFC 7662 §2.2).
func wantActive(t *testing.T, what string, got map[string]any, active bool, clientID string) {
	t.Helper()
	if !active {
		if got["active"] != false || len(got) != 1 {
			t.Errorf("%s: introspection = %v, want only active=false", what, got)
		}
		return
	}
	if got["active"] != true || got["client_id"] != clientID {
		t.Errorf("%s: introspection = %v, want active for client %s", what, got, clientID)
	}
}

// revoke revokes token (RFC 7009) as client c; the endpoint answers 200
// whether or not the token was live.
func revoke(t *testing.T, m providerMetadata, c clientCreds, token string) {
	t.Helper()
	if r := postForm(t, m.RevocationEndpoint, url.Values{"token": {token}}, c); r.Status != http.StatusOK {
		t.Fatalf("revocation as %s: %d %s", c.ID, r.Status, r.Body)
	}
}

// userinfoStatus calls the userinfo endpoint with a Bearer access token and
// returns the HTTP status.
func userinfoStatus(t *testing.T, m providerMetadata, accessToken string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, m.UserinfoEndpoint, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	return doRequest(t, req).Status
}

// counters is a snapshot of the provider's event counters on /metrics.
type counters map[string]float64

// wantIncreased checks that each event's counter grew from before to after
// by at least the given amount.
// checkEventDeltas asserts how much each event counter grew between two
// scrapes, exactly (wantIncreased asserts a lower bound).
func checkEventDeltas(t *testing.T, before, after counters, want map[string]float64) {
	t.Helper()
	for event, w := range want {
		if got := after[event] - before[event]; got != w {
			t.Errorf("%s increased by %v, want %v", event, got, w)
		}
	}
}

func wantIncreased(t *testing.T, before, after counters, atLeast map[string]float64) {
	t.Helper()
	for event, want := range atLeast {
		if _, ok := after[event]; !ok {
			t.Errorf("/metrics has no series for event %s", event)
			continue
		}
		if got := after[event] - before[event]; got < want {
			t.Errorf("%s increased by %v, want at least %v", event, got, want)
		}
	}
}

// wantUnchanged checks that each event's counter did not move.
func wantUnchanged(t *testing.T, before, after counters, events ...string) {
	t.Helper()
	for _, event := range events {
		if got := after[event] - before[event]; got != 0 {
			t.Errorf("%s increased by %v, want no change", event, got)
		}
	}
}
