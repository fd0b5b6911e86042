package provider_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/internal/formflow"
	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/store/memstore"
)

const gateOrigin = "https://app.example"

var (
	gateAccountsOnce sync.Once
	gateAccounts     *provider.StaticAccounts
	gateAccountsErr  error
)

// withGroupedAlice gives alice the groups claim the gate's rules test.
func withGroupedAlice(tb testing.TB) func(*provider.Config) {
	hash := hashPassword(tb)
	gateAccountsOnce.Do(func() {
		gateAccounts, gateAccountsErr = provider.NewStaticAccounts(provider.User{Login: "alice", Subject: "alice-sub", PasswordHash: hash,
			Claims: map[string]any{"email": "alice@example.com"}, Groups: []string{"staff", "admins"}},
			provider.User{Login: "bob", Subject: "bob-sub", PasswordHash: hash})
	})
	if gateAccountsErr != nil {
		tb.Fatal(gateAccountsErr)
	}
	return func(c *provider.Config) { c.Accounts = gateAccounts }
}

// gateLogin runs the gate's code + PKCE round trip in browser b and returns
// the gate cookie value and the identity.
func (h *harness) gateLogin(t *testing.T, b *browser) (string, *provider.Identity) {
	t.Helper()
	gl, err := h.p.StartGateLogin(gateOrigin)
	if err != nil {
		t.Fatal(err)
	}
	q := b.login(gl.AuthURL, alicePassword)
	if q.Get("state") != gl.State || q.Get("code") == "" {
		t.Fatalf("callback parameters: %v", q)
	}
	cookie, id, err := h.p.FinishGateLogin(context.Background(), gateOrigin, q.Get("code"), gl.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	return cookie, id
}

func (h *harness) gateUser(t *testing.T, cookie string) *provider.Identity {
	t.Helper()
	id, err := h.p.GateIdentity(context.Background(), gateOrigin, cookie)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestGateLoginStartsSessionWithGroups(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withGroupedAlice(t))
	b := h.browser()
	cookie, id := h.gateLogin(t, b)
	if id.Subject != "alice-sub" || !slices.Equal(id.Groups(), []string{"staff", "admins"}) || id.ClaimString("email") != "alice@example.com" {
		t.Fatalf("identity: %+v", id)
	}
	if got := h.gateUser(t, cookie); got == nil || got.Subject != "alice-sub" || got.ClaimString("groups") != "staff,admins" {
		t.Fatalf("gate session: %+v", got)
	}
	// The cookie is bound to its site, and only the stored hash is known.
	if id, _ := h.p.GateIdentity(context.Background(), "https://other.example", cookie); id != nil {
		t.Error("the cookie of one site works on another")
	}
	if id := h.gateUser(t, cookie+"x"); id != nil {
		t.Error("a wrong cookie value was accepted")
	}
	// The site's logout path ends the gate session, not the provider's.
	if err := h.p.EndGateSession(context.Background(), cookie); err != nil {
		t.Fatal(err)
	}
	if h.gateUser(t, cookie) != nil {
		t.Fatal("the gate session survived its logout")
	}
	// The provider session stays: a new gate login needs no password.
	gl, _ := h.p.StartGateLogin(gateOrigin)
	if r := b.get(gl.AuthURL); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), gateOrigin+provider.GateCallbackPath+"?code=") {
		t.Errorf("ending the gate session ended the provider session: %d %q", r.status, r.header.Get("Location"))
	}
}

func TestGateLoginRefusesWrongVerifierAndUnknownOrigin(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withGroupedAlice(t))
	b := h.browser()
	gl, err := h.p.StartGateLogin(gateOrigin)
	if err != nil {
		t.Fatal(err)
	}
	q := b.login(gl.AuthURL, alicePassword)
	other, _ := pkce("zz")
	if _, _, err := h.p.FinishGateLogin(context.Background(), gateOrigin, q.Get("code"), other); !errors.Is(err, provider.ErrGateLogin) {
		t.Fatalf("wrong PKCE verifier: %v", err)
	}
	// An origin no gate served has no client: the provider will not send a
	// code there, whatever id names it (the unsigned form, the tag of the
	// served origin, a made-up tag).
	u, _ := url.Parse(gl.AuthURL)
	v := u.Query()
	servedID := v.Get("client_id")
	servedTag := strings.TrimSuffix(strings.TrimPrefix(servedID, "oidcaddy-gate:"), gateOrigin)
	if servedTag == servedID || !strings.HasSuffix(servedID, ":"+gateOrigin) {
		t.Fatalf("the served origin's client id %q is not oidcaddy-gate:<tag>:<origin>", servedID)
	}
	for _, forged := range []struct{ id, origin string }{
		{"oidcaddy-gate:https://evil.example", "https://evil.example"},
		{"oidcaddy-gate:" + servedTag + "https://evil.example", "https://evil.example"},
		{"oidcaddy-gate:AAAAAAAAAAAAAAAAAAAAAA:https://evil.example", "https://evil.example"},
		{"oidcaddy-gate:" + servedTag + "https://app.example.evil.example", "https://app.example.evil.example"},
	} {
		v.Set("client_id", forged.id)
		v.Set("redirect_uri", forged.origin+provider.GateCallbackPath)
		r := b.get(h.issuer + "/authorize?" + v.Encode())
		if loc := r.header.Get("Location"); strings.HasPrefix(loc, forged.origin) || r.status != http.StatusBadRequest {
			t.Fatalf("authorization for an unserved origin with client_id %q: %d %q", forged.id, r.status, loc)
		}
	}
	if want := h.p.GateClientID(gateOrigin); servedID != want {
		t.Errorf("authorization request's client_id %q, GateClientID %q", servedID, want)
	}
}

// A code presented twice revokes the grant (RFC 6749 §4.1.2), and the gate
// sessions filed under it go with it.
func TestGateSessionEndsWithGrantRevocation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withGroupedAlice(t))
	b := h.browser()
	gl, _ := h.p.StartGateLogin(gateOrigin)
	q := b.login(gl.AuthURL, alicePassword)
	cookie, _, err := h.p.FinishGateLogin(context.Background(), gateOrigin, q.Get("code"), gl.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.p.FinishGateLogin(context.Background(), gateOrigin, q.Get("code"), gl.Verifier); !errors.Is(err, provider.ErrGateLogin) {
		t.Fatalf("replayed code: %v", err)
	}
	if h.gateUser(t, cookie) != nil {
		t.Fatal("the gate session survived the revocation of its grant")
	}
}

// RP-initiated logout at the provider (confirmed by the user) ends the gate
// session at once.
func TestGateSessionEndsWithProviderLogout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withGroupedAlice(t))
	b := h.browser()
	cookie, id := h.gateLogin(t, b)
	r := b.get(h.p.GateLogoutURL(gateOrigin))
	forms := formflow.Forms(r.body)
	if r.status != 200 || len(forms) == 0 {
		t.Fatalf("logout confirmation: %d %s", r.status, r.body)
	}
	v := forms[0].Hidden
	v.Set("decision", "logout")
	r = b.postForm(h.abs(forms[0].Action), v)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != gateOrigin+"/" {
		t.Fatalf("confirmed logout: %d %q", r.status, r.header.Get("Location"))
	}
	if h.gateUser(t, cookie) != nil {
		t.Fatal("the gate session survived the provider logout")
	}
	// The records go at once, not only at their expiry.
	recs, err := h.store.ListByOwner(context.Background(), provider.KindGateSession, id.SID, "", 100)
	if err != nil || len(recs) != 0 || id.SID == "" {
		t.Errorf("gate session records left after logout: %d (%v), sid %q", len(recs), err, id.SID)
	}
}

// A relying party's back end ending the session with an id_token_hint
// (the path back-channel logout fans out from) ends the gate session too.
func TestGateSessionEndsWithLogoutByHint(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withGroupedAlice(t))
	b := h.browser()
	cookie, _ := h.gateLogin(t, b)
	// The same browser signs in to a relying party: same session.
	code, verifier := h.codeFor(b, map[string]string{"scope": "openid"})
	tr := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}, "web", webSecret)
	idt, _ := jsonBody(t, tr)["id_token"].(string)
	if r := h.browser().get(h.issuer + "/session/end?" + url.Values{"id_token_hint": {idt}}.Encode()); r.status != 200 {
		t.Fatalf("logout by hint: %d %s", r.status, r.body)
	}
	if h.gateUser(t, cookie) != nil {
		t.Fatal("the gate session survived the logout by hint")
	}
}

func TestGateSessionEndsWithProviderSessionExpiry(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withGroupedAlice(t), func(c *provider.Config) { c.Lifetimes.Session = time.Hour })
	cookie, _ := h.gateLogin(t, h.browser())
	h.clock.advance(59 * time.Minute)
	if h.gateUser(t, cookie) == nil {
		t.Fatal("the gate session ended before its provider session")
	}
	h.clock.advance(2 * time.Minute)
	if h.gateUser(t, cookie) != nil {
		t.Fatal("the gate session outlived its provider session")
	}
}

// A session can end without a logout: another account signing in on the
// same browser replaces it. The gate session, bound to the old session's
// sid, ends with it, because every request checks that session.
func TestGateSessionEndsWhenAnotherAccountSignsIn(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withGroupedAlice(t))
	b := h.browser()
	cookie, _ := h.gateLogin(t, b)
	_, challenge := pkce("b")
	authURL := h.authorizeURL(map[string]string{"client_id": "trusted", "prompt": "login", "code_challenge": challenge, "code_challenge_method": "S256"})
	r, err := (&formflow.Browser{Client: b.c}).Authorize(authURL, h.issuer+"/interaction/", 4, func(_ formflow.Response, f formflow.Form) (url.Values, error) {
		return url.Values{"login": {"bob"}, "password": {alicePassword}}, nil
	})
	if err != nil || !strings.HasPrefix(r.Location(), webRedirect) {
		t.Fatalf("bob's sign-in: %v %d %q", err, r.Status, r.Location())
	}
	if h.gateUser(t, cookie) != nil {
		t.Fatal("alice's gate session survived the end of her provider session")
	}
}

// The identity assertion for an upstream verifies with the provider's keys,
// names the site as audience and is not mistaken for an ID token.
func TestGateAssertion(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withGroupedAlice(t))
	_, id := h.gateLogin(t, h.browser())
	tok, err := h.p.SignGateAssertion(id, gateOrigin)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := h.keys.VerifyJWT(tok, provider.GateAssertionType)
	if err != nil {
		t.Fatal(err)
	}
	if claims["aud"] != gateOrigin || claims["sub"] != "alice-sub" || claims["iss"] != h.issuer || claims["email"] != "alice@example.com" {
		t.Fatalf("claims: %v", claims)
	}
	if exp, _ := claims["exp"].(float64); int64(exp) != h.clock.now().Add(time.Minute).Unix() {
		t.Errorf("exp %v, want a minute from now", claims["exp"])
	}
	if _, err := h.keys.VerifyJWT(tok, "JWT"); err == nil {
		t.Error("the assertion passes for an ID token")
	}
}

// A store refusing writes makes the callback fail as the server's fault
// (the handler answers 503), never as a bad code (which would send the
// browser round the login again).
func TestGateLoginWithStoreDownIsUnavailable(t *testing.T) {
	t.Parallel()
	st := &unwritableStore{Store: memstore.New()}
	h := newHarnessOn(t, st, withGroupedAlice(t))
	b := h.browser()
	gl, _ := h.p.StartGateLogin(gateOrigin)
	q := b.login(gl.AuthURL, alicePassword)
	st.down.Store(true)
	_, _, err := h.p.FinishGateLogin(context.Background(), gateOrigin, q.Get("code"), gl.Verifier)
	if !errors.Is(err, provider.ErrUnavailable) || errors.Is(err, provider.ErrGateLogin) {
		t.Fatalf("callback with the store down: %v", err)
	}
	if strings.Contains(err.Error(), q.Get("code")) {
		t.Error("the error holds the code")
	}
}
