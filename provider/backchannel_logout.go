package provider

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

const backchannelTimeout = 5 * time.Second

// backchannelLogout posts a logout token (OIDC Back-Channel Logout 1.0 §2.4)
// to each client of the session, concurrently, waiting at most a few seconds
// in all: a slow relying party must not hold the user's logout hostage.
func (p *Provider) backchannelLogout(r *http.Request, s *session) {
	// Not the request's context: it is cancelled when the browser goes away
	// (a closed tab), and the relying parties must hear of the logout anyway.
	// The timeout still bounds the whole fan-out.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), backchannelTimeout)
	defer cancel()
	var targets []*Client
	for clientID := range s.Grants {
		if c, err := p.clients.Client(ctx, clientID); err == nil && c.BackchannelLogoutURI != "" {
			targets = append(targets, c)
		}
	}
	if len(targets) == 0 {
		return
	}
	var wg sync.WaitGroup
	for _, c := range targets {
		wg.Go(func() {
			if err := p.sendLogoutToken(ctx, c, s); err != nil {
				p.emit(r, Event{Name: EventBackchannelError, ClientID: c.ID, ErrorCode: ErrCodeServerError, ErrorDescription: err.Error()})
				return
			}
			p.emit(r, Event{Name: EventBackchannelSuccess, ClientID: c.ID})
		})
	}
	wg.Wait()
}

type backchannelError string

func (e backchannelError) Error() string { return string(e) }

func (p *Provider) sendLogoutToken(ctx context.Context, c *Client, s *session) error {
	now := p.now()
	claims := map[string]any{
		"iss": p.cfg.Issuer, "aud": c.ID, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(), "jti": newHandle(),
		"sub": s.AccountID, "sid": s.SID,
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	}
	// Back-Channel Logout 1.0 §2.4: signed with the keys and algorithm the
	// client's ID tokens use, which is what its verifier accepts.
	tok, err := p.cfg.Signer.SignJWTWithAlg(p.idTokenAlg(c), claims, "logout+jwt")
	if err != nil {
		return backchannelError("signing the logout token failed")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BackchannelLogoutURI, strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		return backchannelError("the client's backchannel_logout_uri is not usable")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.outboundClient(c).Do(req)
	if err != nil {
		return backchannelError("the client's backchannel_logout_uri did not answer")
	}
	resp.Body.Close()
	// §2.8: 200 (or 204) means the client logged the session out.
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return backchannelError("the client's backchannel_logout_uri answered " + resp.Status)
	}
	return nil
}
