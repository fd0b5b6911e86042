package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// relyingParty is an OIDC client built from the libraries real applications
// use, so the provider is checked against their expectations rather than
// against our own reading of the specs.
type relyingParty struct {
	t        *testing.T
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	conf     oauth2.Config
}

type clientSpec struct {
	ID, Secret, RedirectURI string
}

func newRelyingParty(ctx context.Context, t *testing.T, issuer string, c clientSpec) *relyingParty {
	t.Helper()
	p, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	endpoint := p.Endpoint()
	// Fix the client authentication style: left to auto-detection, the
	// oauth2 package retries a failed exchange with the other style, which
	// would double the provider's grant.error events.
	if c.Secret == "" {
		endpoint.AuthStyle = oauth2.AuthStyleInParams
	} else {
		endpoint.AuthStyle = oauth2.AuthStyleInHeader
	}
	return &relyingParty{
		t:        t,
		provider: p,
		verifier: p.Verifier(&oidc.Config{ClientID: c.ID}),
		conf: oauth2.Config{
			ClientID:     c.ID,
			ClientSecret: c.Secret,
			RedirectURL:  c.RedirectURI,
			Endpoint:     endpoint,
			Scopes:       []string{oidc.ScopeOpenID, "profile", "email"},
		},
	}
}

// authRequest is one authorization request in progress.
type authRequest struct {
	URL, State, Nonce, Verifier string
}

func (rp *relyingParty) newAuthRequest(opts ...oauth2.AuthCodeOption) authRequest {
	a := authRequest{State: randomString(rp.t), Nonce: randomString(rp.t), Verifier: oauth2.GenerateVerifier()}
	opts = append(opts, oidc.Nonce(a.Nonce), oauth2.S256ChallengeOption(a.Verifier))
	a.URL = rp.conf.AuthCodeURL(a.State, opts...)
	return a
}

// signIn runs one authorization-code flow with PKCE through b's pages as u
// and redeems the code at the token endpoint; a failure ends the test.
func (rp *relyingParty) signIn(ctx context.Context, b *browser, u user) *oauth2.Token {
	rp.t.Helper()
	req := rp.newAuthRequest()
	res := b.authorize(ctx, req.URL, rp.conf.RedirectURL, u)
	if res.Error != "" || res.Code == "" {
		rp.t.Fatalf("login as %q for %s: %+v", u.Login, rp.conf.ClientID, res)
	}
	tok, err := rp.conf.Exchange(ctx, res.Code, oauth2.VerifierOption(req.Verifier))
	if err != nil {
		rp.t.Fatalf("code exchange for %s: %v", rp.conf.ClientID, err)
	}
	return tok
}

func randomString(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// oauthErrorCode returns the OAuth error code of a failed token request.
func oauthErrorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}
