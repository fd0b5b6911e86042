package provider

import (
	"context"
	"time"
)

// interaction is a pending login or consent step of one authorization request.
type interaction struct {
	UID         string      `json:"uid"`
	Request     authRequest `json:"request"`
	Prompt      string      `json:"prompt"`
	CSRF        string      `json:"-"`       // form token derived from the binding cookie per request (interactionCSRF), never stored
	BindingID   string      `json:"binding"` // secretID of the browser-binding cookie
	LoginDone   bool        `json:"login_done,omitempty"`
	ConsentDone bool        `json:"consent_done,omitempty"`
	AccountID   string      `json:"sub,omitempty"`
	AuthTime    int64       `json:"auth_time,omitempty"`
	// SecondFactorFor is the account whose password this interaction has
	// just checked and whose TOTP code it now asks for; empty when the code
	// steps up the browser's current session instead (page_second_factor.go).
	SecondFactorFor string `json:"otp_sub,omitempty"`
	// SealedUserCode is the device flow's user code, for the consent page
	// to show; sealed under the binding cookie (sealUserCode).
	SealedUserCode []byte `json:"user_code,omitempty"`
	// LoginName and Notice carry a failed login across the POST-redirect-GET
	// to the login page: the name typed (never the password) and the
	// catalogue key of the message (login.error.<Notice>).
	LoginName string    `json:"login_name,omitempty"`
	Notice    string    `json:"notice,omitempty"`
	ExpiresAt time.Time `json:"-"`
	// wait goes into a throttled page's message; shown, never stored.
	wait time.Duration
}

func (in *interaction) noticeWait() time.Duration { return in.wait }

// interactionStore keeps pending login and consent steps by uid.
type interactionStore struct{ records[interaction] }

func (p *Provider) interactions() interactionStore {
	return interactionStore{records[interaction]{p, KindInteraction}}
}

// save writes the interaction. Not durable: a lost one only makes the user
// start the sign-in again.
func (s interactionStore) save(ctx context.Context, in *interaction, clientID string) error {
	if err := s.put(ctx, in.UID, "", "", *in, in.ExpiresAt, false); err != nil {
		return err
	}
	s.p.events.Emit(ctx, Event{Name: EventInteractionSaved, ClientID: clientID})
	return nil
}

// load returns the live interaction uid. The expiry is the record's, not
// the payload's: an interaction saved again (a failed login, the consent
// step) keeps its original deadline instead of losing it.
func (s interactionStore) load(ctx context.Context, uid string) (*interaction, error) {
	in, rec, err := s.get(ctx, uid)
	in.ExpiresAt = rec.ExpiresAt
	return &in, err
}

// destroy deletes the interaction.
func (s interactionStore) destroy(ctx context.Context, uid, clientID string) {
	if err := s.delete(ctx, uid); err == nil {
		s.p.events.Emit(ctx, Event{Name: EventInteractionDestroyed, ClientID: clientID})
	}
}
