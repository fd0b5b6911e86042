package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestConcurrentRefreshesGetTheSameSuccessor is oauth2-proxy behind
// forward_auth: a page and its favicon arrive together with an expired
// access token, and both refresh the same refresh token through x/oauth2's
// TokenSource at once. Before, the second got invalid_grant and
// oauth2-proxy dropped the user's session; now every racer succeeds and
// they all hold one successor, which keeps working.
func TestConcurrentRefreshesGetTheSameSuccessor(t *testing.T) {
	cfg := newSiteConfig(t)
	cfg.ExtraClients = offlineAppClient
	srv := startCaddy(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := discover(ctx, t, srv.cfg.Issuer())

	rp := newRelyingParty(ctx, t, srv.cfg.Issuer(), offlineApp)
	rp.conf.Scopes = append(rp.conf.Scopes, "offline_access")
	req := rp.newAuthRequest()
	res := newBrowser(t).authorize(ctx, req.URL, offlineApp.RedirectURI, demoUser)
	if res.Error != "" || res.Code == "" {
		t.Fatalf("authorization failed: %+v", res)
	}
	tok, err := rp.conf.Exchange(ctx, res.Code, oauth2.VerifierOption(req.Verifier))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("code exchange: %v (refresh token %t)", err, tok != nil && tok.RefreshToken != "")
	}
	before := srv.metrics()

	const racers = 4
	results := make([]*oauth2.Token, racers)
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			stale := &oauth2.Token{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
			results[i], errs[i] = rp.conf.TokenSource(ctx, stale).Token()
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("refresh %d of %d concurrent: %v", i, racers, err)
		}
	}
	successor := results[0].RefreshToken
	if successor == "" || successor == tok.RefreshToken {
		t.Fatalf("the refresh token did not rotate")
	}
	owner := clientCreds{ID: offlineApp.ID, Secret: offlineApp.Secret}
	for i, r := range results {
		if r.RefreshToken != successor {
			t.Errorf("refresh %d got another successor: the chain forked", i)
		}
		if !r.Valid() {
			t.Errorf("refresh %d: no valid access token", i)
		}
		wantActive(t, "access token of a concurrent refresh", introspect(t, m, demoApp, r.AccessToken), true, offlineApp.ID)
	}
	wantActive(t, "the original refresh token", introspect(t, m, owner, tok.RefreshToken), false, "")
	// The one successor carries the session on.
	next, err := rp.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: successor, Expiry: time.Now().Add(-time.Minute)}).Token()
	if err != nil || next.RefreshToken == "" || next.RefreshToken == successor {
		t.Fatalf("refresh with the successor: %v", err)
	}

	checkEventDeltas(t, before, srv.metrics(), map[string]float64{
		"refresh_token.consumed": 2, // the original once, then the successor
		"refresh_token.saved":    2, // one successor each time
		"grant.success":          racers + 1,
		"grant.error":            0,
		"grant.revoked":          0,
		"access_token.saved":     racers + 1,
	})
}
