package provider_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcaddy/oidcaddy/provider"
	"github.com/oidcaddy/oidcaddy/store/memstore"
)

// pauseClientRead holds the first read of a client record made after arm,
// once the record has been read: the caller then works on what it read while
// the test changes the store underneath it.
type pauseClientRead struct {
	provider.Store
	kind  provider.Kind // of the read to hold; "" holds a client read
	armed atomic.Bool
	read  chan struct{} // closed when the held read has happened
	gate  chan struct{} // close to let it return
}

func (s *pauseClientRead) arm() {
	s.read, s.gate = make(chan struct{}), make(chan struct{})
	s.armed.Store(true)
}

func (s *pauseClientRead) Get(ctx context.Context, k provider.Kind, id string) (provider.Record, error) {
	rec, err := s.Store.Get(ctx, k, id)
	want := s.kind
	if want == "" {
		want = provider.KindClient
	}
	if k == want && s.armed.CompareAndSwap(true, false) {
		close(s.read)
		<-s.gate
	}
	return rec, err
}

// withPauseClientRead puts a pauseClientRead in front of the harness's store.
func withPauseClientRead(ps *pauseClientRead) func(*provider.Config) {
	return func(c *provider.Config) { ps.Store, c.Store = c.Store, ps }
}

// A client lookup that read the registration before an RFC 7592 delete or
// update must not put the old client back in the cache after the change
// evicted it (security review M3): it would live there for good.
func TestClientLookupRacingChangeIsNotCached(t *testing.T) {
	t.Parallel()
	for _, change := range []string{http.MethodDelete, http.MethodPut} {
		t.Run(change, func(t *testing.T) {
			ps := &pauseClientRead{}
			h := newBadgerHarness(t, registrationAllowing("read"), withPauseClientRead(ps))
			info := jsonBody(t, h.register(`{"grant_types":["client_credentials"],"scope":"read"}`, ""))
			id, secret, rat, uri := info["client_id"].(string), info["client_secret"].(string), info["registration_access_token"].(string), info["registration_client_uri"].(string)
			cc := url.Values{"grant_type": {"client_credentials"}}

			ps.arm()
			racing := make(chan int)
			go func() { racing <- h.token(cc, id, secret).status }()
			<-ps.read // the token request has read the old registration
			body := ""
			if change == http.MethodPut {
				// No more client_credentials.
				body = `{"client_id":"` + id + `","redirect_uris":["https://app.example/cb"]}`
			}
			if r := h.configure(change, uri, rat, body); r.status/100 != 2 {
				t.Fatalf("%s: %d %s", change, r.status, r.body)
			}
			close(ps.gate)
			<-racing // either answer is fine: it started before the change

			r := h.token(cc, id, secret)
			if change == http.MethodDelete && r.status != http.StatusUnauthorized {
				t.Fatalf("token request for the deleted client after the race: %d %s, want 401", r.status, r.body)
			}
			if change == http.MethodPut && (r.status != http.StatusBadRequest || jsonBody(t, r)["error"] != "unauthorized_client") {
				t.Fatalf("client_credentials after the update removed it: %d %s, want 400 unauthorized_client", r.status, r.body)
			}
		})
	}
}

// Two provider instances share a store during a Caddy reload: a delete or an
// update through one reaches the other's cache within the cache lifetime. On
// a store shared by several instances (SharedStore, issue 10 part 3) it
// reaches the other at once: nothing is cached there.
func TestClientChangeReachesOtherInstance(t *testing.T) {
	t.Parallel()
	for _, shared := range []bool{false, true} {
		for _, change := range []string{http.MethodDelete, http.MethodPut} {
			t.Run(fmt.Sprintf("%s/shared=%v", change, shared), func(t *testing.T) {
				var st provider.Store = memstore.New()
				if shared {
					st = sharedMemStore{memstore.New()}
				}
				h := newHarnessOn(t, st, registrationAllowing("read"))
				h2 := newHarnessOn(t, st, registrationAllowing("read"))
				info := jsonBody(t, h.register(`{"grant_types":["client_credentials"],"scope":"read"}`, ""))
				id, secret, rat, uri := info["client_id"].(string), info["client_secret"].(string), info["registration_access_token"].(string), info["registration_client_uri"].(string)
				cc := url.Values{"grant_type": {"client_credentials"}}
				// Twice: the first token also records that the client has
				// been used, which rewrites (and evicts) the registration;
				// the second is answered from h2's cache where there is one.
				for range 2 {
					if r := h2.token(cc, id, secret); r.status != 200 {
						t.Fatalf("token from the other instance: %d %s", r.status, r.body)
					}
				}
				body := ""
				if change == http.MethodPut {
					body = `{"client_id":"` + id + `","redirect_uris":["https://app.example/cb"]}`
				}
				if r := h.configure(change, uri, rat, body); r.status/100 != 2 {
					t.Fatalf("%s: %d %s", change, r.status, r.body)
				}
				if !shared {
					h2.clock.advance(31 * time.Second)
				}
				r := h2.token(cc, id, secret)
				if change == http.MethodDelete && r.status != http.StatusUnauthorized {
					t.Fatalf("the other instance still knows the deleted client: %d %s, want 401", r.status, r.body)
				}
				if change == http.MethodPut && (r.status != http.StatusBadRequest || jsonBody(t, r)["error"] != "unauthorized_client") {
					t.Fatalf("the other instance still has the old registration: %d %s, want 400 unauthorized_client", r.status, r.body)
				}
			})
		}
	}
}

// A grant recorded on a client while an update or a delete of the client is
// in progress is not lost: the update keeps it (a read-modify-write of the
// registration), and the delete revokes it.
func TestClientChangeKeepsConcurrentGrant(t *testing.T) {
	t.Parallel()
	for _, change := range []string{http.MethodPut, http.MethodDelete} {
		t.Run(change, func(t *testing.T) {
			ps := &pauseClientRead{}
			h := newBadgerHarness(t, openRegistration, withPauseClientRead(ps))
			const cb = "https://app.example/cb"
			info := jsonBody(t, h.register(`{"redirect_uris":["`+cb+`"]}`, ""))
			id, secret, rat, uri := info["client_id"].(string), info["client_secret"].(string), info["registration_access_token"].(string), info["registration_client_uri"].(string)
			authURL := func(challenge string) string {
				return h.authorizeURL(map[string]string{"client_id": id, "redirect_uri": cb, "scope": "openid", "code_challenge": challenge, "code_challenge_method": "S256"})
			}
			h.browser().get(authURL("x")) // the client is now in the cache

			ps.arm()
			done := make(chan int)
			go func() {
				body := ""
				if change == http.MethodPut {
					body = `{"client_id":"` + id + `","redirect_uris":["` + cb + `"],"client_name":"Renamed"}`
				}
				done <- h.configure(change, uri, rat, body).status
			}()
			<-ps.read // the change has read the registration
			// Meanwhile a user authorizes the client: a new grant is recorded on it.
			verifier, challenge := pkce("concurrent")
			q := h.browser().login(authURL(challenge), alicePassword)
			r := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {cb}, "code_verifier": {verifier}}, id, secret)
			if r.status != 200 {
				t.Fatalf("code exchange: %d %s", r.status, r.body)
			}
			at := jsonBody(t, r)["access_token"].(string)
			h.events.reset()
			close(ps.gate)
			if status := <-done; status/100 != 2 {
				t.Fatalf("%s: %d", change, status)
			}
			if change == http.MethodPut {
				h.events.reset()
				if r := h.configure(http.MethodDelete, uri, rat, ""); r.status != 204 {
					t.Fatalf("delete: %d %s", r.status, r.body)
				}
			}
			// Deleting the client revoked that grant: its access token was
			// destroyed (not merely unusable because its client is gone).
			if n := h.events.count(provider.EventAccessTokenDestroyed); n != 1 {
				t.Fatalf("the grant recorded during the %s was not revoked with its client: %d access tokens destroyed, want 1 (events %v)", change, n, h.events.names())
			}
			if got := h.introspect(at, ""); got["active"] != false {
				t.Fatalf("a deleted client's token is active: %v", got)
			}
		})
	}
}

// A consent that read the registered client before the client was deleted,
// and saves its grant after the deletion has revoked the client's grants,
// must not leave that grant standing: the login checks the client still
// exists after saving the grant and revokes it otherwise (the deletion
// cannot list a grant that did not exist yet).
func TestGrantSavedAfterClientDeletionIsRevoked(t *testing.T) {
	// Held at the consent's session read: after it has looked the client
	// up, before it saves the grant.
	ps := &pauseClientRead{kind: provider.KindSession}
	h := newHarness(t, openRegistration, withPauseClientRead(ps))
	const cb = "https://app.example/cb"
	info := jsonBody(t, h.register(`{"redirect_uris":["`+cb+`"]}`, ""))
	id, rat, uri := info["client_id"].(string), info["registration_access_token"].(string), info["registration_client_uri"].(string)

	b := h.browser()
	_, challenge := pkce("late-grant")
	r := b.get(h.authorizeURL(map[string]string{"client_id": id, "redirect_uri": cb, "scope": "openid", "code_challenge": challenge, "code_challenge_method": "S256"}))
	action, csrf := page(t, b.get(h.abs(r.header.Get("Location"))))
	r = b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "login": {"alice"}, "password": {alicePassword}})
	action, csrf = page(t, b.get(h.abs(r.header.Get("Location"))))
	if !strings.HasSuffix(action, "/consent") {
		t.Fatalf("expected the consent page, got form action %q", action)
	}
	ps.arm()
	consent := make(chan response)
	go func() { consent <- b.postForm(h.abs(action), url.Values{"csrf_token": {csrf}, "decision": {"allow"}}) }()
	<-ps.read // the consent has the live client and is about to save its grant
	if r := h.configure(http.MethodDelete, uri, rat, ""); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	close(ps.gate)
	if r = <-consent; r.status == http.StatusSeeOther && strings.Contains(r.header.Get("Location"), "code=") {
		t.Fatalf("the consent for a client deleted meanwhile issued a code: %s", r.header.Get("Location"))
	}
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "expired") {
		t.Errorf("the consent for a client deleted meanwhile: %d, want 400 with the page-expired message", r.status)
	}
	left, err := h.store.ListByOwner(context.Background(), provider.KindGrant, id, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Fatalf("%d grants of the deleted client are still stored", len(left))
	}
}

// Deleting a registered client revokes every grant indexed under it, however
// many pages of them there are, and grants a record of the old layout still
// lists on the client too.
func TestDeletingClientRevokesEveryIndexedGrant(t *testing.T) {
	h := newHarness(t, openRegistration)
	info := jsonBody(t, h.register(`{"redirect_uris":["https://app.example/cb"]}`, ""))
	id, rat, uri := info["client_id"].(string), info["registration_access_token"].(string), info["registration_client_uri"].(string)
	const grants = 600 // more than two pages
	ctx := context.Background()
	for i := range grants {
		gid := "grant-" + strconv.Itoa(i)
		payload := `{"id":"` + gid + `","sub":"user-` + strconv.Itoa(i) + `","client_id":"` + id + `","scopes":["openid"]}`
		if err := h.store.Put(ctx, provider.Record{Kind: provider.KindGrant, ID: gid, GrantID: gid, Owner: id, Payload: []byte(payload)}, false); err != nil {
			t.Fatal(err)
		}
	}
	other := provider.Record{Kind: provider.KindGrant, ID: "someone-elses", GrantID: "someone-elses", Owner: "other-client", Payload: []byte(`{"id":"someone-elses","sub":"u","client_id":"other-client"}`)}
	if err := h.store.Put(ctx, other, false); err != nil {
		t.Fatal(err)
	}
	h.events.reset()
	if r := h.configure(http.MethodDelete, uri, rat, ""); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if left, err := h.store.ListByOwner(ctx, provider.KindGrant, id, "", 10); err != nil || len(left) != 0 {
		t.Fatalf("after the delete %d grants of the client are left (%v)", len(left), err)
	}
	// One grant.revoked per grant, plus the client's own (its tokens).
	if n := h.events.count(provider.EventGrantRevoked); n != grants+1 {
		t.Errorf("grant.revoked %d times, want %d", n, grants+1)
	}
	if _, err := h.store.Get(ctx, provider.KindGrant, other.ID); err != nil {
		t.Errorf("another client's grant went with it: %v", err)
	}
}
