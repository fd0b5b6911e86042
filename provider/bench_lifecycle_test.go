package provider_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/internal/jose"
	"github.com/oidcaddy/oidcaddy/provider"
)

// serve runs one request through the handler in-process.
func serve(b *testing.B, h *harness, method, path, body, id, secret string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(id, secret)
	w := httptest.NewRecorder()
	h.p.ServeHTTP(w, r)
	if w.Code != 200 {
		b.Fatalf("%s: %d %s", path, w.Code, w.Body.String())
	}
	return w
}

func withSigner(b *testing.B, alg string) func(*provider.Config) {
	k, err := jose.GenerateKey(alg)
	if err != nil {
		b.Fatal(err)
	}
	ks, err := jose.NewKeySet(k)
	if err != nil {
		b.Fatal(err)
	}
	return func(c *provider.Config) { c.Signer = ks; c.Events = nil }
}

// BenchmarkClientCredentials: opaque (one store write) and JWT (one signature,
// no store), each next to its floor measured in the same run.
func BenchmarkClientCredentials(b *testing.B) {
	body := "grant_type=client_credentials"
	b.Run("opaque", func(b *testing.B) {
		h := newHarness(b, withSigner(b, "ES256"))
		b.ReportAllocs()
		for b.Loop() {
			serve(b, h, http.MethodPost, "/token", body, "api", apiSecret)
		}
	})
	b.Run("opaque-floor", func(b *testing.B) {
		h := newHarness(b)
		ctx := context.Background()
		exp := time.Now().Add(time.Hour)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			h.store.Put(ctx, provider.Record{Kind: provider.KindAccessToken, ID: "t" + itoa(i), Payload: make([]byte, 60), ExpiresAt: exp}, false)
		}
	})
	// Floor through HTTP: parse the form, check a Basic secret, write one
	// record, answer JSON: what any handler for this request pays.
	b.Run("opaque-http-floor", func(b *testing.B) {
		h := newHarness(b)
		ctx := context.Background()
		exp := time.Now().Add(time.Hour)
		i := 0
		minimal := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			r.BasicAuth()
			i++
			h.store.Put(ctx, provider.Record{Kind: provider.KindAccessToken, ID: "t" + itoa(i), Payload: make([]byte, 60), ExpiresAt: exp}, false)
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"access_token":"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG","token_type":"Bearer","expires_in":3600,"scope":"read write"}`))
		})
		b.ReportAllocs()
		for b.Loop() {
			r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth("api", apiSecret)
			minimal.ServeHTTP(httptest.NewRecorder(), r)
		}
	})
	for _, alg := range []string{"RS256", "ES256"} {
		b.Run("jwt-"+alg, func(b *testing.B) {
			h := newHarness(b, withSigner(b, alg))
			b.ReportAllocs()
			for b.Loop() {
				serve(b, h, http.MethodPost, "/token", body, "api-jwt", apiSecret)
			}
		})
		b.Run("jwt-"+alg+"-floor", func(b *testing.B) {
			k, _ := jose.GenerateKey(alg)
			ks, _ := jose.NewKeySet(k)
			claims := map[string]any{"iss": "https://id.example", "sub": "api-jwt", "aud": "api-jwt", "client_id": "api-jwt", "iat": 1, "exp": 2, "jti": "abcdefghijklmnopqrstuv", "scope": "read"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ks.SignJWT(claims, "at+jwt"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIntrospection of an opaque token: floor is one store read.
func BenchmarkIntrospection(b *testing.B) {
	h := newHarness(b, withSigner(b, "ES256"))
	w := serve(b, h, http.MethodPost, "/token", "grant_type=client_credentials", "api", apiSecret)
	token := jsonBody(b, response{status: w.Code, body: w.Body.String()})["access_token"].(string)
	body := url.Values{"token": {token}}.Encode()
	b.Run("opaque", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			serve(b, h, http.MethodPost, "/token/introspection", body, "api", apiSecret)
		}
	})
	b.Run("opaque-floor", func(b *testing.B) {
		ctx := context.Background()
		h.store.Put(ctx, provider.Record{Kind: provider.KindAccessToken, ID: "t", Payload: make([]byte, 60), ExpiresAt: time.Now().Add(time.Hour)}, false)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.store.Get(ctx, provider.KindAccessToken, "t"); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The least any handler can do for this request in-process: parse the
	// form, read one record, write a small JSON body.
	b.Run("http-floor", func(b *testing.B) {
		ctx := context.Background()
		h.store.Put(ctx, provider.Record{Kind: provider.KindAccessToken, ID: "t", Payload: make([]byte, 60), ExpiresAt: time.Now().Add(time.Hour)}, false)
		minimal := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			if _, err := h.store.Get(ctx, provider.KindAccessToken, "t"); err != nil {
				b.Fatal(err)
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"active":true,"client_id":"api","scope":"read write"}`))
		})
		b.ReportAllocs()
		for b.Loop() {
			r := httptest.NewRequest(http.MethodPost, "/token/introspection", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth("api", apiSecret)
			minimal.ServeHTTP(httptest.NewRecorder(), r)
		}
	})
}

// BenchmarkRefresh: rotation costs a read of the old token, a grant
// extension and a durable write of the successor (written before the old
// token is consumed, so duplicates within the grace find it), a durable
// consume (Update), an access-token write and an ID token signature; the
// floor does exactly those store and crypto operations.
func BenchmarkRefresh(b *testing.B) {
	b.Run("rotate", func(b *testing.B) {
		h := newHarness(b, withSigner(b, "ES256"))
		rt := h.tokensB(b, "web", "openid offline_access")["refresh_token"].(string)
		b.ReportAllocs()
		for b.Loop() {
			w := serve(b, h, http.MethodPost, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode(), "web", webSecret)
			rt = jsonBody(b, response{status: w.Code, body: w.Body.String()})["refresh_token"].(string)
		}
	})
	b.Run("rotate-floor", func(b *testing.B) {
		h := newHarness(b, withSigner(b, "ES256"))
		ctx := context.Background()
		exp := time.Now().Add(time.Hour)
		h.store.Put(ctx, provider.Record{Kind: provider.KindGrant, ID: "g", GrantID: "g", Payload: make([]byte, 80), ExpiresAt: exp}, true)
		h.store.Put(ctx, provider.Record{Kind: provider.KindRefreshToken, ID: "r0", GrantID: "g", Payload: make([]byte, 100), ExpiresAt: exp}, true)
		claims := map[string]any{"iss": h.issuer, "sub": "alice-sub", "aud": "web", "exp": 1, "iat": 1, "auth_time": 1, "at_hash": "x", "sid": "s"}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			id := "r" + itoa(i)
			i++
			h.store.Get(ctx, provider.KindRefreshToken, id)
			h.store.Update(ctx, provider.KindGrant, "g", func(r *provider.Record) error { return nil })
			h.store.Put(ctx, provider.Record{Kind: provider.KindRefreshToken, ID: "r" + itoa(i), GrantID: "g", Payload: make([]byte, 100), ExpiresAt: exp}, true)
			h.store.Update(ctx, provider.KindRefreshToken, id, func(r *provider.Record) error { r.ConsumedAt = time.Now(); return nil })
			h.store.Put(ctx, provider.Record{Kind: provider.KindAccessToken, ID: "a" + itoa(i), GrantID: "g", Payload: make([]byte, 100), ExpiresAt: exp}, false)
			h.keys.SignJWT(claims, "JWT")
		}
	})
}

func (h *harness) tokensB(b *testing.B, clientID, scope string) map[string]any {
	br := h.browser()
	verifier, challenge := pkce("l")
	q := br.login(h.authorizeURL(map[string]string{"client_id": clientID, "scope": scope, "code_challenge": challenge, "code_challenge_method": "S256"}), alicePassword)
	r := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}, clientID, webSecret)
	return jsonBody(b, r)
}
