package provider

import (
	"context"
	"errors"
	"time"
)

// regAccessToken is what a registration access token stands for.
type regAccessToken struct {
	ClientID string `json:"client_id"`
}

// initialAccessToken is a minted initial access token.
type initialAccessToken struct {
	SingleUse bool `json:"single_use,omitempty"`
}

// initialAccessTokenStore keeps minted initial access tokens (RFC 7591 §3)
// by hash.
type initialAccessTokenStore struct{ records[initialAccessToken] }

func (p *Provider) initialAccessTokens() initialAccessTokenStore {
	return initialAccessTokenStore{records[initialAccessToken]{p, KindInitialAccessToken}}
}

// save stores a minted token, durably: the operator has handed it out.
func (s initialAccessTokenStore) save(ctx context.Context, id string, iat initialAccessToken, exp time.Time) error {
	if err := s.put(ctx, id, "", "", iat, exp, true); err != nil {
		return err
	}
	s.p.events.Emit(ctx, Event{Name: EventInitialAccessTokenSaved})
	return nil
}

// load returns the live token with hash id.
func (s initialAccessTokenStore) load(ctx context.Context, id string) (initialAccessToken, error) {
	iat, _, err := s.get(ctx, id)
	return iat, err
}

// use spends a single-use token atomically, so two registrations cannot
// share it; ErrNotFound when it is gone or was spent.
func (s initialAccessTokenStore) use(ctx context.Context, id string) error {
	if _, err := s.consume(ctx, id); errors.Is(err, ErrAlreadyConsumed) || errors.Is(err, ErrNotFound) {
		return ErrNotFound
	} else if err != nil {
		return err
	}
	if err := s.delete(ctx, id); err == nil {
		s.p.events.Emit(ctx, Event{Name: EventInitialAccessTokenDestroyed})
	}
	return nil
}

// registrationAccessTokenStore keeps registration access tokens (RFC 7592
// §1) by hash, one per client (the client id is the record's UID).
type registrationAccessTokenStore struct{ records[regAccessToken] }

func (p *Provider) registrationAccessTokens() registrationAccessTokenStore {
	return registrationAccessTokenStore{records[regAccessToken]{p, KindRegistrationAccessToken}}
}

// save stores the client's token; it expires with the client while the
// client is unused (expires), else never. Durable: the client holds the
// only copy.
func (s registrationAccessTokenStore) save(ctx context.Context, id, clientID string, expires time.Time) error {
	if err := s.put(ctx, id, clientID, "", regAccessToken{ClientID: clientID}, expires, true); err != nil {
		return err
	}
	s.p.events.Emit(ctx, Event{Name: EventRegistrationAccessTokenSaved, ClientID: clientID})
	return nil
}

// load returns the live token with hash id.
func (s registrationAccessTokenStore) load(ctx context.Context, id string) (regAccessToken, error) {
	rat, _, err := s.get(ctx, id)
	return rat, err
}

// destroy deletes the token with hash id (rotated away, or its client
// deleted).
func (s registrationAccessTokenStore) destroy(ctx context.Context, id, clientID string) {
	if err := s.delete(ctx, id); err == nil {
		s.p.events.Emit(ctx, Event{Name: EventRegistrationAccessTokenDestroyed, ClientID: clientID})
	}
}

// keep drops the expiry of the client's token, once the client is used.
// Update, not Put: a token rotated away meanwhile must stay gone.
func (s registrationAccessTokenStore) keep(ctx context.Context, clientID string) error {
	rat, err := s.p.cfg.Store.GetByUID(ctx, KindRegistrationAccessToken, clientID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := s.p.cfg.Store.Update(ctx, KindRegistrationAccessToken, rat.ID, func(rec *Record) error {
		rec.ExpiresAt = time.Time{}
		return nil
	}); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}
