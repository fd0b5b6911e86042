package provider

import (
	"context"
	"errors"
	"time"
)

// parStore keeps pushed authorization requests (RFC 9126) by the hash of
// their request_uri handle, under the pushing client's own grant id so that
// deleting the client removes them.
type parStore struct{ records[authRequest] }

func (p *Provider) pushedRequests() parStore {
	return parStore{records[authRequest]{p, KindPushedAuthorizationRequest}}
}

// save stores the pushed request. Not durable: a lost one only makes the
// client push again.
func (s parStore) save(ctx context.Context, id string, req *authRequest, clientID string, exp time.Time) error {
	if err := s.put(ctx, id, "", clientGrantID(clientID), *req, exp, false); err != nil {
		return err
	}
	s.p.events.Emit(ctx, Event{Name: EventPushedAuthorizationRequestSaved, ClientID: clientID})
	return nil
}

// take uses the pushed request id once: it is consumed and deleted
// whatever happens next (used reports that it was). ErrNotFound when it is
// unknown, expired or was already used. clientID is the client naming it,
// for the events.
func (s parStore) take(ctx context.Context, id, clientID string) (req *authRequest, used bool, err error) {
	rec, err := s.consume(ctx, id)
	switch {
	case errors.Is(err, ErrAlreadyConsumed), err == nil && s.p.expired(rec):
		return nil, false, ErrNotFound
	case err != nil:
		return nil, false, err
	}
	if err := s.delete(ctx, id); err == nil {
		s.destroyed(ctx, clientID, "")
	}
	req = new(authRequest)
	if err := decodeInto(rec.Payload, req); err != nil {
		return nil, true, err
	}
	return req, true, nil
}

// destroyed is pushed_authorization_request.destroyed, for take and for a
// deleted client's pushed requests.
func (s parStore) destroyed(ctx context.Context, clientID, grantID string) {
	s.p.events.Emit(ctx, Event{Name: EventPushedAuthorizationRequestDestroyed, ClientID: clientID, GrantID: grantID})
}
