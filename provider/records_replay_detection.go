package provider

import (
	"context"
	"strconv"
	"time"
)

// replayStore remembers the jti of every client assertion (RFC 7523 §3:
// single use) until the assertion expires, under the client's own grant id
// so that deleting the client removes them.
type replayStore struct{ records[struct{}] }

func (p *Provider) replayDetection() replayStore {
	return replayStore{records[struct{}]{p, KindReplayDetection}}
}

// remember records the client's jti until exp. Create has exactly one
// winner: ErrAlreadyExists means the assertion was used before.
func (s replayStore) remember(ctx context.Context, clientID, jti string, exp time.Time) error {
	return s.create(ctx, Record{Kind: KindReplayDetection, ID: secretID(clientID + "\x00" + jti), GrantID: clientGrantID(clientID), ExpiresAt: exp}, clientID)
}

// rememberTOTPStep marks the TOTP code of step as used by accountID until
// exp, when the step can no longer be accepted (RFC 6238 §5.2: a code is
// accepted once). It has no grant: it outlives nothing. clientID is the
// client whose sign-in used it, for the event.
func (s replayStore) rememberTOTPStep(ctx context.Context, accountID string, step int64, exp time.Time, clientID string) error {
	// The leading NUL keeps these ids apart from the assertions' (a client
	// id is never empty, nor starts with NUL).
	id := secretID("\x00totp\x00" + accountID + "\x00" + strconv.FormatInt(step, 10))
	return s.create(ctx, Record{Kind: KindReplayDetection, ID: id, ExpiresAt: exp}, clientID)
}

// create writes a marker; Create has exactly one winner, so
// ErrAlreadyExists means the proof was used before.
func (s replayStore) create(ctx context.Context, rec Record, clientID string) error {
	rec.Payload = []byte{}
	if err := s.p.cfg.Store.Create(ctx, rec, true); err != nil {
		return err
	}
	s.p.events.Emit(ctx, Event{Name: EventReplayDetectionSaved, ClientID: clientID})
	return nil
}

// destroyed is replay_detection.destroyed, for a deleted client's markers.
func (s replayStore) destroyed(ctx context.Context, clientID, grantID string) {
	s.p.events.Emit(ctx, Event{Name: EventReplayDetectionDestroyed, ClientID: clientID, GrantID: grantID})
}
