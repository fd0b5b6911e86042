package provider_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/internal/formflow"
	"github.com/oidcaddy/oidcaddy/provider"
)

// bobTOTPSecret is bob's second factor in these tests (160 bits).
const bobTOTPSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

var (
	mfaAccountsOnce sync.Once
	mfaAccounts     *provider.StaticAccounts
	mfaAccountsErr  error
)

// withSecondFactorUsers gives the harness alice (password only) and bob
// (password and TOTP), both with alice's password.
func withSecondFactorUsers(t *testing.T) func(*provider.Config) {
	hash := hashPassword(t)
	mfaAccountsOnce.Do(func() {
		mfaAccounts, mfaAccountsErr = provider.NewStaticAccounts(
			provider.User{Login: "alice", Subject: "alice-sub", PasswordHash: hash, Claims: map[string]any{"email": "alice@example.com"}},
			provider.User{Login: "bob", Subject: "bob-sub", PasswordHash: hash, TOTPSecret: bobTOTPSecret, Claims: map[string]any{"email": "bob@example.com"}})
	})
	if mfaAccountsErr != nil {
		t.Fatal(mfaAccountsErr)
	}
	return func(c *provider.Config) { c.Accounts = mfaAccounts }
}

func bobCode(t *testing.T, at time.Time) string {
	t.Helper()
	key, err := provider.ParseTOTPKey(bobTOTPSecret)
	if err != nil {
		t.Fatal(err)
	}
	return provider.TOTPCode(key, at)
}

// signIn walks the interaction pages as user, answering the login form
// with the password, the code form with code(), consent with allow, and
// records the forms' actions it saw (login, otp, consent).
type signIn struct {
	user  string
	code  func() string
	pages []string
}

func (s *signIn) answer(_ formflow.Response, form formflow.Form) (url.Values, error) {
	step := form.Action[strings.LastIndex(form.Action, "/")+1:]
	s.pages = append(s.pages, step)
	switch step {
	case "login":
		return url.Values{"login": {s.user}, "password": {alicePassword}}, nil
	case "otp":
		return url.Values{"otp": {s.code()}}, nil
	case "consent":
		return url.Values{"decision": {"allow"}}, nil
	}
	return nil, fmt.Errorf("unexpected form action %q", form.Action)
}

// run sends the authorization request through the pages and returns the
// authorization response at the client.
func (s *signIn) run(t *testing.T, h *harness, b *browser, authURL string) url.Values {
	t.Helper()
	r, err := (&formflow.Browser{Client: b.c}).Authorize(authURL, h.issuer+"/interaction/", 6, s.answer)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusSeeOther {
		t.Fatalf("flow did not end in a redirect: %d %s", r.Status, r.Body)
	}
	u, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// exchange redeems the web client's code and returns the token response.
func (h *harness) exchange(t *testing.T, code, verifier string) map[string]any {
	t.Helper()
	r := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}, "web", webSecret)
	if r.status != http.StatusOK {
		t.Fatalf("code exchange: %d %s", r.status, r.body)
	}
	return jsonBody(t, r)
}

func mfaAuthorizeURL(h *harness, acrValues string) (authURL, verifier string) {
	verifier, challenge := pkce("m")
	over := map[string]string{"code_challenge": challenge, "code_challenge_method": "S256", "scope": "openid email offline_access"}
	if acrValues != "" {
		over["acr_values"] = acrValues
	}
	return h.authorizeURL(over), verifier
}

func wantLevel(t *testing.T, what string, claims map[string]any, acr string, amr ...string) {
	t.Helper()
	got, _ := claims["amr"].([]any)
	var gotAMR []string
	for _, m := range got {
		s, _ := m.(string)
		gotAMR = append(gotAMR, s)
	}
	if claims["acr"] != acr || !slices.Equal(gotAMR, amr) {
		t.Errorf("%s: acr %v amr %v, want %s %v", what, claims["acr"], claims["amr"], acr, amr)
	}
}

// acr_values=mfa from a user with a second factor: the password is asked,
// then the code, and only then does a session start. The ID token, the
// access token's introspection and the ID token of a refresh all say acr
// mfa with amr pwd+otp+mfa (OIDC Core §2, RFC 8176, RFC 9470 §6.2).
func TestMultiFactorLoginAsksForTheCodeAfterThePassword(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withSecondFactorUsers(t))
	b := h.browser()
	authURL, verifier := mfaAuthorizeURL(h, "mfa")
	s := &signIn{user: "bob", code: func() string { return bobCode(t, h.clock.now()) }}
	q := s.run(t, h, b, authURL)
	if !slices.Equal(s.pages, []string{"login", "otp", "consent"}) {
		t.Fatalf("pages %v, want login, otp, consent", s.pages)
	}
	tok := h.exchange(t, q.Get("code"), verifier)
	wantLevel(t, "ID token", h.idTokenClaims(t, tok["id_token"].(string)), "mfa", "pwd", "otp", "mfa")

	ri := h.introspect(tok["access_token"].(string), "")
	wantLevel(t, "introspection", ri, "mfa", "pwd", "otp", "mfa")
	if ri["auth_time"] == nil {
		t.Errorf("introspection has no auth_time: %v", ri)
	}

	h.clock.advance(time.Minute)
	r := h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, "web", webSecret)
	if r.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	wantLevel(t, "ID token from refresh", h.idTokenClaims(t, jsonBody(t, r)["id_token"].(string)), "mfa", "pwd", "otp", "mfa")
}

// Without acr_values nobody is asked for a code, and the ID token says
// so: acr pwd, amr pwd. A user without a second factor who is asked for
// mfa gets pwd too: acr_values is voluntary (OIDC Core §3.1.2.1) and the
// relying party reads what was achieved.
func TestPasswordLoginIsLevelPwd(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withSecondFactorUsers(t))
	for _, c := range []struct{ user, acrValues string }{{"bob", ""}, {"bob", "pwd mfa"}, {"alice", "mfa"}} {
		authURL, verifier := mfaAuthorizeURL(h, c.acrValues)
		s := &signIn{user: c.user, code: func() string { t.Fatalf("%s was asked for a code", c.user); return "" }}
		q := s.run(t, h, h.browser(), authURL)
		tok := h.exchange(t, q.Get("code"), verifier)
		wantLevel(t, c.user+" acr_values="+c.acrValues, h.idTokenClaims(t, tok["id_token"].(string)), "pwd", "pwd")
	}
}

// A signed-in user whose session is at pwd, asked for mfa by the next
// request, is asked for the code only (no password), and keeps their
// session (the same sid) at the higher level; the next request that asks
// for mfa passes without any page.
func TestStepUpAsksOnlyForTheCode(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withSecondFactorUsers(t))
	b := h.browser()
	authURL, verifier := mfaAuthorizeURL(h, "")
	first := &signIn{user: "bob"}
	tok := h.exchange(t, first.run(t, h, b, authURL).Get("code"), verifier)
	before := h.idTokenClaims(t, tok["id_token"].(string))

	h.clock.advance(time.Minute)
	authURL, verifier = mfaAuthorizeURL(h, "mfa")
	up := &signIn{user: "bob", code: func() string { return bobCode(t, h.clock.now()) }}
	tok = h.exchange(t, up.run(t, h, b, authURL).Get("code"), verifier)
	if !slices.Equal(up.pages, []string{"otp"}) {
		t.Fatalf("step-up pages %v, want only otp", up.pages)
	}
	after := h.idTokenClaims(t, tok["id_token"].(string))
	wantLevel(t, "after step-up", after, "mfa", "pwd", "otp", "mfa")
	if after["sid"] != before["sid"] {
		t.Errorf("step-up changed the sid: %v -> %v", before["sid"], after["sid"])
	}
	if after["auth_time"].(float64) <= before["auth_time"].(float64) {
		t.Errorf("auth_time %v not after the step-up's (was %v)", after["auth_time"], before["auth_time"])
	}
	again := &signIn{user: "bob"}
	authURL, _ = mfaAuthorizeURL(h, "mfa")
	if q := again.run(t, h, b, authURL); q.Get("code") == "" || len(again.pages) != 0 {
		t.Errorf("an mfa session was asked again: pages %v, response %v", again.pages, q)
	}
}

// prompt=none cannot show the code page: the answer is
// interaction_required (OIDC Core §3.1.2.6).
func TestStepUpWithPromptNoneIsInteractionRequired(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withSecondFactorUsers(t))
	b := h.browser()
	authURL, _ := mfaAuthorizeURL(h, "")
	(&signIn{user: "bob"}).run(t, h, b, authURL)
	_, challenge := pkce("n")
	q := redirectParams(t, b.get(h.authorizeURL(map[string]string{"prompt": "none", "acr_values": "mfa", "code_challenge": challenge, "code_challenge_method": "S256"})), webRedirect)
	if q.Get("error") != "interaction_required" {
		t.Errorf("error %q, want interaction_required: %v", q.Get("error"), q)
	}
}

// A wrong code leaves the user on the code page with a message and no
// session; an accepted code cannot be used again (RFC 6238 §5.2), even by
// another browser on another sign-in; the next step's code works.
func TestOneTimeCodesAreCheckedAndSingleUse(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withSecondFactorUsers(t))
	now := h.clock.now()
	code := bobCode(t, now)
	wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)

	tries := []string{wrong, code}
	var sawError bool
	s := &signIn{user: "bob"}
	s.code = func() string { c := tries[0]; tries = tries[1:]; return c }
	b := h.browser()
	authURL, verifier := mfaAuthorizeURL(h, "mfa")
	walker := &formflow.Browser{Client: b.c}
	r, err := walker.Authorize(authURL, h.issuer+"/interaction/", 6, func(page formflow.Response, form formflow.Form) (url.Values, error) {
		if strings.Contains(page.Body, "That code is not correct") {
			sawError = true
		}
		return s.answer(page, form)
	})
	if err != nil || r.Status != http.StatusSeeOther {
		t.Fatalf("%v %d %s", err, r.Status, r.Body)
	}
	if !sawError || !slices.Equal(s.pages, []string{"login", "otp", "otp", "consent"}) {
		t.Fatalf("pages %v, wrong-code message shown %v", s.pages, sawError)
	}
	loc, _ := url.Parse(r.Header.Get("Location"))
	h.exchange(t, loc.Query().Get("code"), verifier)

	// The same code again, from another browser.
	authURL, _ = mfaAuthorizeURL(h, "mfa")
	if pages, refused := replayCode(h, authURL, code); !refused {
		t.Fatalf("a used code was accepted again (pages %v)", pages)
	}

	h.clock.advance(30 * time.Second)
	next := &signIn{user: "bob", code: func() string { return bobCode(t, h.clock.now()) }}
	authURL, _ = mfaAuthorizeURL(h, "mfa")
	if q := next.run(t, h, h.browser(), authURL); q.Get("code") == "" {
		t.Errorf("the next step's code did not sign in: %v", q)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// Guessing codes is throttled like guessing passwords: after the free
// failures the next post answers 429 with Retry-After without checking the
// code, so even the right code does not pass until the wait is over.
func TestOneTimeCodeGuessesAreThrottled(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withSecondFactorUsers(t))
	code := bobCode(t, h.clock.now())
	wrong := fmt.Sprintf("%06d", (atoi(code)+500000)%1000000)
	b := h.browser()
	authURL, _ := mfaAuthorizeURL(h, "mfa")
	guesses := 0
	s := &signIn{user: "bob"}
	r, err := (&formflow.Browser{Client: b.c}).Authorize(authURL, h.issuer+"/interaction/", 20, func(page formflow.Response, form formflow.Form) (url.Values, error) {
		if strings.HasSuffix(form.Action, "/otp") {
			guesses++
			if guesses > 5 { // the free failures are spent
				return url.Values{"otp": {code}}, nil
			}
			return url.Values{"otp": {wrong}}, nil
		}
		return s.answer(page, form)
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || guesses != 6 {
		t.Fatalf("after %d codes: %d (Retry-After %q), want 429 on the 6th", guesses, r.Status, r.Header.Get("Retry-After"))
	}
	if !strings.Contains(r.Body, "Too many failed sign-in attempts") {
		t.Errorf("the throttled page does not say why: %s", r.Body)
	}
}

// Discovery names the levels (OIDC Discovery §3 acr_values_supported) and
// the claims; an RFC 9068 access token carries the level as the ID token
// does (RFC 9068 §2.2.1), so a resource server can demand it.
func TestLevelsInDiscoveryAndJWTAccessTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withSecondFactorUsers(t))
	doc := jsonBody(t, h.browser().get(h.issuer+"/.well-known/openid-configuration"))
	if fmt.Sprint(doc["acr_values_supported"]) != "[pwd mfa]" {
		t.Errorf("acr_values_supported = %v, want [pwd mfa]", doc["acr_values_supported"])
	}
	claims := fmt.Sprint(doc["claims_supported"])
	if !strings.Contains(claims, " acr ") || !strings.Contains(claims, " amr ") {
		t.Errorf("claims_supported %s lacks acr or amr", claims)
	}

	verifier, challenge := pkce("j")
	s := &signIn{user: "bob", code: func() string { return bobCode(t, h.clock.now()) }}
	q := s.run(t, h, h.browser(), h.authorizeURL(map[string]string{"client_id": "web-jwt", "acr_values": "mfa", "code_challenge": challenge, "code_challenge_method": "S256"}))
	r := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}, "web-jwt", webSecret)
	if r.status != http.StatusOK {
		t.Fatalf("code exchange: %d %s", r.status, r.body)
	}
	at, err := h.keys.VerifyJWT(jsonBody(t, r)["access_token"].(string), "at+jwt")
	if err != nil {
		t.Fatal(err)
	}
	wantLevel(t, "JWT access token", at, "mfa", "pwd", "otp", "mfa")
}

// Two instances on one store (behind one issuer): a code accepted by one
// is refused by the other, so a load balancer cannot be used to replay it.
func TestOneTimeCodeIsSingleUseAcrossInstances(t *testing.T) {
	t.Parallel()
	pair := newInstancePair(t, withSecondFactorUsers(t))
	pair.sendAllTo(pair.a)
	code := bobCode(t, pair.a.clock.now())
	if bobCode(t, pair.b.clock.now()) != code {
		t.Fatal("test bug: the instances' clocks are in different steps")
	}
	authURL, _ := mfaAuthorizeURL(pair.a, "mfa")
	(&signIn{user: "bob", code: func() string { return code }}).run(t, pair.a, pair.a.browser(), authURL)

	pair.sendAllTo(pair.b)
	if pages, refused := replayCode(pair.b, authURL, code); !refused {
		t.Fatalf("the other instance accepted a used code (pages %v)", pages)
	}
}

// replayCode signs bob in from a new browser on h with a code already
// used, and reports whether it was refused as used: the sign-in never gets
// past the code page, which says so.
func replayCode(h *harness, authURL, code string) (pages []string, refused bool) {
	h.t.Helper()
	var used bool
	s := &signIn{user: "bob", code: func() string { return code }}
	_, err := (&formflow.Browser{Client: h.browser().c}).Authorize(authURL, h.issuer+"/interaction/", 3, func(page formflow.Response, form formflow.Form) (url.Values, error) {
		used = used || strings.Contains(page.Body, "already used")
		return s.answer(page, form)
	})
	return s.pages, used && err != nil
}

// The code step cannot be skipped: once the password is right, posting
// the consent (or the password again) instead of the code is refused, and
// no session starts until the code is given.
func TestTheCodeStepCannotBeSkipped(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withSecondFactorUsers(t))
	b := h.browser()
	authURL, _ := mfaAuthorizeURL(h, "mfa")
	r := b.get(authURL)
	r = b.get(h.abs(r.header.Get("Location")))
	action, csrf := page(t, r)
	r = b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "login": {"bob"}, "password": {alicePassword}})
	codePage := b.get(h.abs(r.header.Get("Location")))
	otpAction, csrf := page(t, codePage)
	if !strings.HasSuffix(otpAction, "/otp") {
		t.Fatalf("after the password: form %s, want the code", otpAction)
	}
	base := strings.TrimSuffix(otpAction, "/otp")
	for _, skip := range []struct {
		path string
		form url.Values
	}{
		{"/consent", url.Values{"decision": {"allow"}}},
		{"/login", url.Values{"login": {"bob"}, "password": {alicePassword}}},
	} {
		skip.form.Set("csrf_token", csrf)
		r := b.postForm(h.abs(base+skip.path), skip.form)
		if r.status != http.StatusBadRequest || strings.HasPrefix(r.header.Get("Location"), webRedirect) {
			t.Errorf("posting %s at the code step: %d %q", skip.path, r.status, r.header.Get("Location"))
		}
	}
	// Still no session: a new request with prompt=none is login_required.
	_, challenge := pkce("s")
	q := redirectParams(t, b.get(h.authorizeURL(map[string]string{"prompt": "none", "code_challenge": challenge, "code_challenge_method": "S256"})), webRedirect)
	if q.Get("error") != "login_required" {
		t.Errorf("a session started without the code: %v", q)
	}
}
