package provider_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// Benchmarks run in-process through the HTTP handler with real Badger on
// disk. Each endpoint has a baseline of its unavoidable work (crypto and store
// round-trips) measured in the same run, so results read as ratios.

// silentAuthorize returns a code for a browser that already has a session and
// consent: one authorization request, no interaction.
func silentCodes(b *testing.B, h *harness, n int) (codes []string, verifier string) {
	br := h.browser()
	h.codeFor(br, nil)
	cookies := br.c.Jar.Cookies(mustURL(h.issuer))
	verifier, challenge := pkce("a")
	authURL := h.authorizeURL(map[string]string{"code_challenge": challenge, "code_challenge_method": "S256"})
	for range n {
		r := httptest.NewRequest(http.MethodGet, authURL, nil)
		for _, c := range cookies {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		h.p.ServeHTTP(w, r)
		loc, _ := url.Parse(w.Header().Get("Location"))
		code := loc.Query().Get("code")
		if code == "" {
			b.Fatalf("no code: %d %s", w.Code, w.Body.String())
		}
		codes = append(codes, code)
	}
	return codes, verifier
}

func BenchmarkTokenCodeExchange(b *testing.B) {
	h := newHarness(b, func(c *provider.Config) { c.Events = nil })
	codes, verifier := silentCodes(b, h, b.N)
	bodies := make([]string, b.N)
	for i, c := range codes {
		bodies[i] = url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}.Encode()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(bodies[i]))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth("web", webSecret)
		w := httptest.NewRecorder()
		h.p.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body.String())
		}
	}
}

// The floor for a code exchange: consume the code, store the access token,
// sign the ID token.
func BenchmarkTokenCodeExchangeBaseline(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	for i := range b.N {
		h.store.Put(ctx, provider.Record{Kind: provider.KindAuthorizationCode, ID: "c" + itoa(i), GrantID: "g", Payload: make([]byte, 300), ExpiresAt: exp}, false)
	}
	claims := map[string]any{"iss": h.issuer, "sub": "alice-sub", "aud": "web", "exp": 1, "iat": 1, "auth_time": 1, "nonce": "n", "at_hash": "x", "sid": "s"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := h.store.Consume(ctx, provider.KindAuthorizationCode, "c"+itoa(i), time.Now()); err != nil {
			b.Fatal(err)
		}
		h.store.Put(ctx, provider.Record{Kind: provider.KindAccessToken, ID: "t" + itoa(i), GrantID: "g", Payload: make([]byte, 150), ExpiresAt: exp}, false)
		if _, err := h.keys.SignJWT(claims, "JWT"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUserinfo(b *testing.B) {
	h := newHarness(b, func(c *provider.Config) { c.Events = nil })
	codes, verifier := silentCodes(b, h, 1)
	r := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {codes[0]}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}, "web", webSecret)
	token := jsonBody(b, r)["access_token"].(string)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.p.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body.String())
		}
	}
}

// The least any handler can do for a userinfo request in-process: read the
// bearer header, one store read, a small JSON body.
func BenchmarkUserinfoHTTPFloor(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	h.store.Put(ctx, provider.Record{Kind: provider.KindAccessToken, ID: "t", Payload: make([]byte, 150), ExpiresAt: time.Now().Add(time.Hour)}, false)
	minimal := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.Header.Get("Authorization")
		if _, err := h.store.Get(ctx, provider.KindAccessToken, "t"); err != nil {
			b.Fatal(err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"sub":"alice-sub","email":"alice@example.com","email_verified":true}`))
	})
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
		r.Header.Set("Authorization", "Bearer abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
		minimal.ServeHTTP(httptest.NewRecorder(), r)
	}
}

// The floor for userinfo: one store read.
func BenchmarkUserinfoBaseline(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	h.store.Put(ctx, provider.Record{Kind: provider.KindAccessToken, ID: "t", Payload: make([]byte, 150), ExpiresAt: time.Now().Add(time.Hour)}, false)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := h.store.Get(ctx, provider.KindAccessToken, "t"); err != nil {
			b.Fatal(err)
		}
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	var buf [20]byte
	n := len(buf)
	for ; i > 0; i /= 10 {
		n--
		buf[n] = digits[i%10]
	}
	return string(buf[n:])
}
