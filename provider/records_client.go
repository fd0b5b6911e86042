package provider

import (
	"context"
	"errors"
	"time"
)

// storedClient is a dynamically registered client as kept in the Store. The
// secret is a hash, except for client_secret_jwt where it is sealed.
type storedClient struct {
	ID           string         `json:"client_id"`
	Metadata     clientMetadata `json:"metadata"`
	SecretHash   []byte         `json:"secret_hash,omitempty"`
	SealedSecret []byte         `json:"sealed_secret,omitempty"`
	IssuedAt     int64          `json:"issued_at"`
	// Grants lists the grant ids issued to the client before grants were
	// indexed by client (Record.Owner, grantStore.ofClient). It is no longer
	// written: a record written by an older version still has it, and
	// deleting the client (RFC 7592 §2.3) revokes those grants too.
	Grants []string `json:"grants,omitempty"`
	// Deleted marks a client being deleted: a grant saved after the mark
	// is revoked by its own login (checkClientOutlivesGrant), and the
	// client is not found any more.
	Deleted bool `json:"deleted,omitempty"`
	// AuthMethodDefaulted: the registration omitted token_endpoint_auth_method,
	// so the metadata holds the RFC 7591 §2 default (client_secret_basic) and
	// the client may use either secret method (Client.AuthMethodDefaulted).
	AuthMethodDefaulted bool `json:"auth_method_defaulted,omitempty"`
	// UnusedUntil (unix s) is when the client expires unless it obtains a
	// token first (RegistrationConfig.UnusedClientTTL); 0 once it has.
	UnusedUntil int64 `json:"unused_until,omitempty"`
}

// clientRecordStore keeps dynamically registered clients (RFC 7591) by
// client id.
type clientRecordStore struct{ records[storedClient] }

func (p *Provider) storedClients() clientRecordStore {
	return clientRecordStore{records[storedClient]{p, KindClient}}
}

// load returns the live stored client, also one marked Deleted.
func (s clientRecordStore) load(ctx context.Context, id string) (*storedClient, error) {
	sc, _, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	return &sc, nil
}

// save writes the client; it expires while unused (unusedExpiry). Durable:
// a registered client must survive a crash (its owner holds the only copy
// of its secret).
func (s clientRecordStore) save(ctx context.Context, sc *storedClient) error {
	return s.put(ctx, sc.ID, "", "", *sc, sc.unusedExpiry(), true)
}

// change is an atomic read-modify-write of the stored client id (fn may run
// more than once); it returns the client as written.
func (s clientRecordStore) change(ctx context.Context, id string, fn func(sc *storedClient) error) (storedClient, error) {
	return s.update(ctx, id, func(sc *storedClient, _ *Record) error { return fn(sc) })
}

// markUsed makes the client permanent: no more expiry. It returns the
// UnusedUntil it had (0: it was permanent already).
func (s clientRecordStore) markUsed(ctx context.Context, id string) (int64, error) {
	var was int64
	_, err := s.update(ctx, id, func(sc *storedClient, rec *Record) error {
		was = sc.UnusedUntil
		if was == 0 {
			return nil
		}
		sc.UnusedUntil, rec.ExpiresAt = 0, time.Time{}
		return nil
	})
	return was, err
}

// remove deletes the stored client.
func (s clientRecordStore) remove(ctx context.Context, id string) error {
	return s.delete(ctx, id)
}

// clientCountStore keeps the one registeredClientCount record.
type clientCountStore struct{ records[registeredClientCount] }

func (p *Provider) clientCount() clientCountStore {
	return clientCountStore{records[registeredClientCount]{p, KindRegistrationCount}}
}

// change applies fn to the stored count, creating it when missing. fn may
// run more than once; it returns an error to refuse.
func (s clientCountStore) change(ctx context.Context, fn func(c *registeredClientCount) error) error {
	for range 3 {
		_, err := s.update(ctx, registrationCountID, func(c *registeredClientCount, _ *Record) error { return fn(c) })
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		b, err := encodePayload(&registeredClientCount{})
		if err != nil {
			return err
		}
		if err := s.p.cfg.Store.Create(ctx, Record{Kind: KindRegistrationCount, ID: registrationCountID, Payload: b}, true); err != nil && !errors.Is(err, ErrAlreadyExists) {
			return err
		}
	}
	return errors.New("registration count: record keeps vanishing")
}
