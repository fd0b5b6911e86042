package provider_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The parsers face the internet: whatever the bytes, the answer is a
// spec-shaped 4xx or a redirect, never a 500 or a panic.

func FuzzAuthorizationRequest(f *testing.F) {
	_, challenge := pkce("f")
	for _, seed := range []string{
		"client_id=web&redirect_uri=https%3A%2F%2Frp.example%2Fcallback&response_type=code&scope=openid&state=s",
		"client_id=spa&redirect_uri=http%3A%2F%2F127.0.0.1%3A5557%2Fcallback&response_type=code&scope=openid&code_challenge=" + challenge + "&code_challenge_method=S256",
		"client_id=web&client_id=web", "%zz", "acr_values=mfa+pwd+mfa+gold&prompt=none", "client_id=%ff", "prompt=none+login&max_age=-5",
		"client_id=web&redirect_uri=https%3A%2F%2Frp.example%2Fcallback&response_type=code&scope=openid&response_mode=form_post&nonce=" + strings.Repeat("n", 600),
	} {
		f.Add(seed)
	}
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, query string) {
		r := httptest.NewRequest(http.MethodGet, "/authorize", nil)
		r.URL.RawQuery = query
		w := httptest.NewRecorder()
		h.p.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusSeeOther, http.StatusBadRequest, http.StatusOK:
		default:
			t.Fatalf("query %q: status %d %s", query, w.Code, w.Body.String())
		}
	})
}

func FuzzTokenRequest(f *testing.F) {
	for _, seed := range []string{
		"grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Frp.example%2Fcallback&code_verifier=" + strings.Repeat("v", 43),
		"grant_type=authorization_code&client_id=spa&code=x", "grant_type=password&username=a", "code=%zz", "grant_type=a&grant_type=b",
		"client_id=web&client_secret=" + webSecret + "&grant_type=authorization_code",
	} {
		f.Add(seed, "Basic d2ViOndlYi1jbGllbnQtc2VjcmV0LTdmM2E5Yw==")
		f.Add(seed, "")
	}
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, body, authorization string) {
		r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		w := httptest.NewRecorder()
		h.p.ServeHTTP(w, r)
		if w.Code != 400 && w.Code != 401 && w.Code != 413 {
			t.Fatalf("body %q: status %d %s", body, w.Code, w.Body.String())
		}
		if !strings.HasPrefix(w.Body.String(), `{"error":"`) {
			t.Fatalf("not an OAuth error body: %s", w.Body.String())
		}
	})
}
