package provider

import (
	"context"
	"errors"
	"time"
)

// authCode is what an authorization code stands for.
type authCode struct {
	ClientID      string   `json:"client_id"`
	RedirectURI   string   `json:"redirect_uri"`
	AccountID     string   `json:"sub"`
	Scopes        []string `json:"scopes"`
	Nonce         string   `json:"nonce,omitempty"`
	CodeChallenge string   `json:"code_challenge,omitempty"`
	AuthTime      int64    `json:"auth_time"`
	SID           string   `json:"sid,omitempty"`
	GrantID       string   `json:"grant_id"`
	// AMR of the session's authentication (acr.go). Written last; a code
	// from before it has none: a password login.
	AMR []string `json:"amr,omitempty"`
}

func (c authCode) MarshalBinary() ([]byte, error) {
	w := newBinWriter()
	for _, s := range []string{c.ClientID, c.RedirectURI, c.AccountID, c.Nonce, c.CodeChallenge, c.SID, c.GrantID} {
		w.str(s)
	}
	w.strs(c.Scopes)
	w.int(c.AuthTime)
	w.trailingStrs(c.AMR)
	return w.b, nil
}

func (c *authCode) UnmarshalBinary(b []byte) error {
	r := newBinReader(b)
	*c = authCode{ClientID: r.str(), RedirectURI: r.str(), AccountID: r.str(), Nonce: r.str(), CodeChallenge: r.str(), SID: r.str(), GrantID: r.str()}
	c.Scopes, c.AuthTime = r.strs(), r.int()
	c.AMR = r.trailingStrs()
	return r.done()
}

// codeStore keeps authorization codes, by hash, until redeemed (RFC 6749
// §4.1.2: single use).
type codeStore struct{ records[authCode] }

func (p *Provider) codes() codeStore { return codeStore{records[authCode]{p, KindAuthorizationCode}} }

// save stores the code with value hash id under its grant. Not durable: a
// code lost in a crash only makes the user sign in again.
func (s codeStore) save(ctx context.Context, id string, ac authCode, exp time.Time) error {
	if err := s.put(ctx, id, "", ac.GrantID, ac, exp, false); err != nil {
		return err
	}
	s.p.events.Emit(ctx, Event{Name: EventAuthorizationCodeSaved, ClientID: ac.ClientID, GrantID: ac.GrantID})
	return nil
}

// redeem consumes the code for the client presenting it. A code presented
// again answers ErrAlreadyConsumed with the grant it was issued under, so
// the caller can revoke what it gave out; an expired code is ErrNotFound.
func (s codeStore) redeem(ctx context.Context, id, clientID string) (ac authCode, grantID string, err error) {
	rec, err := s.consume(ctx, id)
	switch {
	case errors.Is(err, ErrAlreadyConsumed):
		return ac, rec.GrantID, err
	case err != nil:
		return ac, "", err
	case s.p.expired(rec):
		return ac, "", ErrNotFound
	}
	if err := decodeInto(rec.Payload, &ac); err != nil {
		return ac, "", err
	}
	s.p.events.Emit(ctx, Event{Name: EventAuthorizationCodeConsumed, ClientID: clientID, GrantID: ac.GrantID})
	return ac, ac.GrantID, nil
}

// destroy deletes the code (one that is in the wrong hands).
func (s codeStore) destroy(ctx context.Context, id, grantID, clientID string) {
	if err := s.delete(ctx, id); err == nil {
		s.destroyed(ctx, clientID, grantID)
	}
}

// destroyed is authorization_code.destroyed, for destroy and for a revoked
// grant's codes.
func (s codeStore) destroyed(ctx context.Context, clientID, grantID string) {
	s.p.events.Emit(ctx, Event{Name: EventAuthorizationCodeDestroyed, ClientID: clientID, GrantID: grantID})
}
