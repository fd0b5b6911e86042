package provider

import (
	"context"
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
	rec := Record{Kind: KindReplayDetection, ID: secretID(clientID + "\x00" + jti), GrantID: clientGrantID(clientID), Payload: []byte{}, ExpiresAt: exp}
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
