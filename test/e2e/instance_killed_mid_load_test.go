package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// loadApp redeems codes under load: it skips consent, so a browser with a
// session gets a code from one GET of /authorize.
var loadApp = clientSpec{ID: "load-app", Secret: demoClientSecret, RedirectURI: "http://localhost:5571/callback"}

const killedMidLoadBlock = machineClient + offlineAppClient + `
		client load-app {
			secret {env.DEMO_CLIENT_SECRET}
			redirect_uri http://localhost:5571/callback
			skip_consent
		}`

// loadLedger records every code and token the load used and what the
// provider answered, for the checks on the surviving instance afterwards.
type loadLedger struct {
	killed atomic.Bool // A, sent SIGKILL, has exited

	mu sync.Mutex
	// codes: each code whose redemption was sent, with how many 200s it got.
	codes []*codeUse
	// issued and revoked: client_credentials tokens received, and those
	// whose revocation was answered 200.
	issued, revoked []string
	// consumed and current: refresh tokens rotated away (their successor was
	// received), and each refresh worker's latest.
	consumed, current []string
	// answeredBy counts the answers of each instance, before and after the
	// kill; okAfterKill counts successes by kind once A was killed.
	answeredBy  map[string]int
	okAfterKill map[string]int
	// lost: no answer from an instance (the front's 502, or no response):
	// the request was on A when it died, and Caddy retries on another
	// instance only requests that never reached one (or GETs).
	lost map[string]int // by kind
	bad  map[string]int
}

type codeUse struct {
	code, verifier string
	redeemed       int // 200 answers
}

func (l *loadLedger) note(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f()
}

// loadAnswer is one answer through the front, or lost.
type loadAnswer struct {
	status int
	header http.Header
	body   []byte
	lost   bool
}

func (a loadAnswer) json() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(a.body, &m)
	return m
}

// send does one request through the front and counts who answered.
func (l *loadLedger) send(client *http.Client, kind string, req *http.Request) loadAnswer {
	resp, err := client.Do(req)
	if err != nil {
		l.note(func() { l.lost[kind]++ })
		return loadAnswer{lost: true}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a := loadAnswer{status: resp.StatusCode, header: resp.Header, body: body}
	instance := resp.Header.Get(instanceHeader)
	if resp.StatusCode == http.StatusBadGateway && instance == "" {
		l.note(func() { l.lost[kind]++ })
		a.lost = true
		return a
	}
	after := l.killed.Load()
	l.note(func() {
		phase := "before the kill"
		if after {
			phase = "after the kill"
			if resp.StatusCode < 400 && instance == "B" {
				l.okAfterKill[kind]++
			}
		}
		l.answeredBy[instance+" "+phase]++
	})
	return a
}

func (l *loadLedger) badf(format string, args ...any) {
	l.note(func() { l.bad[fmt.Sprintf(format, args...)]++ })
}

func formRequest(endpoint string, form url.Values, c clientCreds) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	return req
}

// Two instances behind the front under concurrent load (client_credentials
// with revocations, code redemptions, refresh chains); A is killed with
// SIGKILL in the middle. The front keeps serving every kind of request from
// B; a refresh whose answer was lost with A is retried and gets the same
// successor (the reuse grace works across instances); and afterwards, on B,
// every code, token and refresh token the load used is checked: no code is
// redeemed twice, no revoked token is active, no rotated refresh token works
// past the grace, and every token issued and not revoked is active.
func TestLoadBalancedInstanceKilledMidLoad(t *testing.T) {
	p := startBalancedPair(t, killedMidLoadBlock)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := discover(ctx, t, p.issuer)
	mB := p.onB.endpoints(ctx, t)
	machine := clientCreds{ID: "machine", Secret: demoClientSecret}
	loadCreds := clientCreds{ID: loadApp.ID, Secret: loadApp.Secret}
	offline := clientCreds{ID: offlineApp.ID, Secret: offlineApp.Secret}

	// Before the load: a session for the code workers and a refresh token
	// for each refresh worker, all through the front.
	codeRP := newRelyingParty(ctx, t, p.issuer, loadApp)
	session := newBrowser(t)
	codeRP.signIn(ctx, session, demoUser)
	const refreshWorkers, codeWorkers, tokenWorkers = 2, 2, 2
	offlineRP := newRelyingParty(ctx, t, p.issuer, offlineApp)
	offlineRP.conf.Scopes = append(offlineRP.conf.Scopes, "offline_access")
	var chains []string
	for range refreshWorkers {
		tok := offlineRP.signIn(ctx, newBrowser(t), demoUser)
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token")
		}
		chains = append(chains, tok.RefreshToken)
	}

	l := &loadLedger{answeredBy: map[string]int{}, okAfterKill: map[string]int{}, lost: map[string]int{}, bad: map[string]int{}}
	// The load's client carries the session's cookies.
	client := &http.Client{Jar: session.client.Jar, Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	load, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup

	for range tokenWorkers {
		wg.Go(func() {
			for i := 0; load.Err() == nil; i++ {
				a := l.send(client, "client_credentials", formRequest(m.TokenEndpoint, url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}, machine))
				if a.lost {
					continue
				}
				token, _ := a.json()["access_token"].(string)
				if a.status != http.StatusOK || token == "" {
					l.badf("client_credentials: %d %s", a.status, a.body)
					continue
				}
				if i%2 == 0 {
					l.note(func() { l.issued = append(l.issued, token) })
					continue
				}
				// Revocation is idempotent: a client retries it until
				// it is answered.
				for try := 0; ; try++ {
					a := l.send(client, "revocation", formRequest(m.RevocationEndpoint, url.Values{"token": {token}}, machine))
					if a.lost && try < 20 {
						continue
					}
					if a.status != http.StatusOK {
						l.badf("revocation: %d %s (lost: %t)", a.status, a.body, a.lost)
						l.note(func() { l.issued = append(l.issued, token) })
						break
					}
					l.note(func() { l.revoked = append(l.revoked, token) })
					break
				}
			}
		})
	}
	for range codeWorkers {
		wg.Go(func() {
			for load.Err() == nil {
				req := codeRP.newAuthRequest()
				a := l.send(client, "authorize", mustGet(t, req.URL))
				if a.lost {
					continue
				}
				back, err := url.Parse(a.header.Get("Location"))
				if a.status != http.StatusSeeOther || err != nil || back.Query().Get("code") == "" || !strings.HasPrefix(back.String(), loadApp.RedirectURI) {
					l.badf("authorize with a session: %d Location %q", a.status, a.header.Get("Location"))
					continue
				}
				use := &codeUse{code: back.Query().Get("code"), verifier: req.Verifier}
				l.note(func() { l.codes = append(l.codes, use) })
				a = l.send(client, "code redemption", formRequest(m.TokenEndpoint, url.Values{"grant_type": {"authorization_code"}, "code": {use.code},
					"redirect_uri": {loadApp.RedirectURI}, "code_verifier": {use.verifier}}, loadCreds))
				switch {
				case a.lost:
				case a.status == http.StatusOK:
					l.note(func() { use.redeemed++ })
				default:
					l.badf("code redemption: %d %s", a.status, a.body)
				}
			}
		})
	}
	for _, refreshToken := range chains {
		wg.Go(func() {
			current := refreshToken
			defer l.note(func() { l.current = append(l.current, current) })
			for load.Err() == nil {
				a := l.send(client, "refresh", formRequest(m.TokenEndpoint, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {current}}, offline))
				if a.lost {
					// The refresh may have happened on A: retried at
					// once, within the reuse grace, it gets the same
					// successor from B.
					continue
				}
				next, _ := a.json()["refresh_token"].(string)
				if a.status != http.StatusOK || next == "" || next == current {
					l.badf("refresh: %d %s", a.status, a.body)
					return
				}
				l.note(func() { l.consumed = append(l.consumed, current) })
				current = next
			}
		})
	}

	time.Sleep(1500 * time.Millisecond)
	if err := p.a.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.a.Exited()
	l.killed.Store(true)
	time.Sleep(2 * time.Second)
	stop()
	wg.Wait()

	l.mu.Lock()
	defer l.mu.Unlock()
	t.Logf("answers by instance: %v; successes after the kill: %v; lost with A: %v", l.answeredBy, l.okAfterKill, l.lost)
	t.Logf("used: %d codes, %d client_credentials tokens kept, %d revoked, %d refresh tokens rotated, %d refresh chains",
		len(l.codes), len(l.issued), len(l.revoked), len(l.consumed), len(l.current))
	for what, n := range l.bad {
		t.Errorf("%d× %s", n, what)
	}
	if l.answeredBy["A before the kill"] == 0 || l.answeredBy["B before the kill"] == 0 {
		t.Errorf("before the kill the load did not reach both instances: %v", l.answeredBy)
	}
	for _, kind := range []string{"client_credentials", "revocation", "authorize", "code redemption", "refresh"} {
		if l.okAfterKill[kind] == 0 {
			t.Errorf("no %s succeeded after A was killed: the front did not keep serving from B", kind)
		}
	}
	if t.Failed() {
		return
	}

	// Past the reuse grace, everything the load used, on B.
	time.Sleep(refreshReuseGrace + 500*time.Millisecond)
	for _, token := range l.revoked {
		wantActive(t, "a token revoked during the load", introspect(t, mB, demoApp, token), false, "")
	}
	for _, token := range l.issued {
		wantActive(t, "a token issued during the load", introspect(t, mB, demoApp, token), true, "machine")
	}
	redeemed, lateRedeemed := 0, 0
	for _, use := range l.codes {
		r := postForm(t, mB.TokenEndpoint, url.Values{"grant_type": {"authorization_code"}, "code": {use.code},
			"redirect_uri": {loadApp.RedirectURI}, "code_verifier": {use.verifier}}, loadCreds)
		switch {
		case r.Status == http.StatusOK && use.redeemed == 0:
			// Its redemption was lost with A before A consumed it.
			lateRedeemed++
		case r.Status == http.StatusOK:
			t.Errorf("a code redeemed during the load was redeemed again on B")
		case r.Status != http.StatusBadRequest || r.errorCode() != "invalid_grant":
			t.Errorf("a code of the load, redeemed again on B: %d %s, want 400 invalid_grant", r.Status, r.Body)
		}
		redeemed += use.redeemed
	}
	t.Logf("%d codes redeemed during the load; %d whose redemption was lost with A were redeemed on B", redeemed, lateRedeemed)
	if redeemed == 0 {
		t.Error("no code was redeemed during the load")
	}
	// Each chain goes on from its latest refresh token; then every rotated
	// one is refused.
	for _, refreshToken := range l.current {
		if r := postForm(t, mB.TokenEndpoint, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}, offline); r.Status != http.StatusOK {
			t.Errorf("the latest refresh token of a chain, on B after the load: %d %s", r.Status, r.Body)
		}
	}
	for _, refreshToken := range l.consumed {
		if r := postForm(t, mB.TokenEndpoint, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}, offline); r.Status != http.StatusBadRequest || r.errorCode() != "invalid_grant" {
			t.Errorf("a refresh token rotated during the load, on B past the grace: %d %s, want 400 invalid_grant", r.Status, r.Body)
		}
	}
}
