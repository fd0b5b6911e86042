package provider_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
)

// BenchmarkRegisteredClientLogin is a full login of a dynamically registered
// client, with a new consent each time: a new browser (no session, so a new
// grant) asks to authorize, gets the login page, signs alice in (bcrypt at
// its minimum cost, 4: about 1 ms, so the password hash does not hide the
// rest), allows the consent page, follows the redirect with the code and
// redeems it at the token endpoint with the client's secret and PKCE.
//
// Issue 10 part 4: a login's cost must not depend on how many grants the
// client already has. The sub-benchmarks give the client 1 earlier grant (the
// one a first login made) or 100,000 (written straight into the store as the
// provider writes them: grant records owned by the client).
//
// Besides ns/op it reports cpu-µs/login: the process's user+system CPU time
// (getrusage) over the timed logins divided by their number. It counts every
// goroutine of the process: the provider, the store's background work
// (Badger's writer and compaction, or pgx), and the test's browser and
// HTTP client; on PostgreSQL not the server's CPU, which is another process.
// On a shared machine CPU time is steadier than wall time.
func BenchmarkRegisteredClientLogin(b *testing.B) {
	for _, earlier := range []int{1, 100_000} {
		b.Run(fmt.Sprintf("grants=%d", earlier), func(b *testing.B) {
			h := newHarness(b, openRegistration, func(c *provider.Config) { c.Events = nil })
			client := h.registerWebClient(b)
			// The first login makes the client's first grant (and its
			// first token makes the registration permanent).
			client.login(b)
			seedClientGrants(b, h, client.id, earlier-1)
			waitQuiet(b)
			cpu := processCPU(b)
			logins := 0
			for b.Loop() {
				client.login(b)
				logins++
			}
			b.ReportMetric(float64(processCPU(b)-cpu)/float64(time.Microsecond)/float64(logins), "cpu-µs/login")
		})
	}
}

type registeredWebClient struct {
	h                  *harness
	id, secret         string
	verifier, authURL  string
	redirect, tokenURL string
}

func (h *harness) registerWebClient(b *testing.B) *registeredWebClient {
	b.Helper()
	const redirect = "https://app.example/cb"
	r := h.register(`{"redirect_uris":["`+redirect+`"],"client_name":"Bench App","grant_types":["authorization_code"]}`, "")
	if r.status != 201 {
		b.Fatalf("register: %d %s", r.status, r.body)
	}
	info := jsonBody(b, r)
	c := &registeredWebClient{h: h, id: info["client_id"].(string), secret: info["client_secret"].(string), redirect: redirect}
	verifier, challenge := pkce("r")
	c.verifier = verifier
	c.authURL = h.authorizeURL(map[string]string{"client_id": c.id, "redirect_uri": redirect, "scope": "openid email",
		"code_challenge": challenge, "code_challenge_method": "S256"})
	return c
}

// login runs one full login in a new browser and redeems the code.
func (c *registeredWebClient) login(b *testing.B) {
	br := c.h.browser()
	q := br.login(c.authURL, alicePassword)
	code := q.Get("code")
	if code == "" {
		b.Fatalf("no code: %v", q)
	}
	r := c.h.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.redirect}, "code_verifier": {c.verifier}}, c.id, c.secret)
	if r.status != 200 {
		b.Fatalf("token: %d %s", r.status, r.body)
	}
}

// seedClientGrants stores n more grants of alice for the registered client
// clientID, as the provider stores a grant: ID a random-looking handle, UID
// its public reference, Owner the client (the index that finds a client's
// grants when it is deleted), JSON payload, a year's lifetime.
func seedClientGrants(b *testing.B, h *harness, clientID string, n int) {
	b.Helper()
	ctx := context.Background()
	exp := time.Now().Add(365 * 24 * time.Hour)
	for i := range n {
		sum := sha256.Sum256([]byte(fmt.Sprintf("seed-grant-%s-%d", clientID, i)))
		id := base64.RawURLEncoding.EncodeToString(sum[:16])
		ref := sha256.Sum256([]byte("grant:" + id))
		payload, _ := json.Marshal(map[string]any{"id": id, "sub": "alice-sub", "client_id": clientID, "scopes": []string{"openid", "email"}})
		rec := provider.Record{Kind: provider.KindGrant, ID: id, UID: base64.RawURLEncoding.EncodeToString(ref[:16]), Owner: clientID, Payload: payload, ExpiresAt: exp}
		if err := h.store.Put(ctx, rec, false); err != nil {
			b.Fatal(err)
		}
	}
}

// waitQuiet lets the store's background work on the seeded records (Badger's
// memtable flushes and compactions) finish before the timed logins, so they
// are not charged for it: it waits until the process uses under 2% of a core
// over half a second, for at most 30 s.
func waitQuiet(b *testing.B) {
	const window = 500 * time.Millisecond
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		before := processCPU(b)
		time.Sleep(window)
		if processCPU(b)-before < window/50 {
			return
		}
	}
}

// processCPU is the process's user+system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
