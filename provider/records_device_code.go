package provider

import (
	"context"
	"errors"
	"time"
)

// deviceGrant is what a device code stands for while the user decides.
type deviceGrant struct {
	ClientID  string   `json:"client_id"`
	Scopes    []string `json:"scopes"`
	Status    string   `json:"status"`
	AccountID string   `json:"sub,omitempty"`
	AuthTime  int64    `json:"auth_time,omitempty"`
	AMR       []string `json:"amr,omitempty"`
	SID       string   `json:"sid,omitempty"`
	GrantID   string   `json:"grant_id,omitempty"`
	LastPoll  int64    `json:"last_poll,omitempty"`
	Interval  int64    `json:"interval"`
}

// deviceCodeStore keeps device codes by hash, findable by the hash of their
// user code (the record's UID, userCodeID).
type deviceCodeStore struct{ records[deviceGrant] }

func (p *Provider) deviceCodes() deviceCodeStore {
	return deviceCodeStore{records[deviceGrant]{p, KindDeviceCode}}
}

// errDeviceExpired: the device code exists but has expired by the
// provider's clock (the device gets expired_token, not invalid_grant).
var errDeviceExpired = errors.New("device code expired")

// save stores a new device code. Not durable: a lost one only makes the
// device start again.
func (s deviceCodeStore) save(ctx context.Context, id, userCodeID string, dg deviceGrant, exp time.Time) error {
	if err := s.put(ctx, id, userCodeID, "", dg, exp, false); err != nil {
		return err
	}
	s.p.events.Emit(ctx, Event{Name: EventDeviceCodeSaved, ClientID: dg.ClientID})
	return nil
}

// userCodeFree reports whether no live device code holds the user code with
// hash userCodeID.
func (s deviceCodeStore) userCodeFree(ctx context.Context, userCodeID string) (bool, error) {
	rec, err := s.p.cfg.Store.GetByUID(ctx, KindDeviceCode, userCodeID)
	if errors.Is(err, ErrNotFound) || (err == nil && s.p.expired(rec)) {
		return true, nil
	}
	return false, err
}

// byUserCode returns the live device code holding the user code with hash
// userCodeID, and the code's own id.
func (s deviceCodeStore) byUserCode(ctx context.Context, userCodeID string) (deviceGrant, string, error) {
	dg, rec, err := s.getByUID(ctx, userCodeID)
	return dg, rec.ID, err
}

// decide records the user's decision on the pending device code id; an
// approval ties the code to the grant. errDeviceNotPending when it was
// decided or expired meanwhile.
func (s deviceCodeStore) decide(ctx context.Context, id string, approve bool, sess *session, grantID string) error {
	_, err := s.update(ctx, id, func(dg *deviceGrant, rec *Record) error {
		if dg.Status != deviceStatusPending || s.p.expired(*rec) {
			return errDeviceNotPending
		}
		dg.Status = deviceStatusDenied
		if approve {
			dg.Status, dg.AccountID, dg.AuthTime, dg.AMR, dg.SID, dg.GrantID = deviceStatusApproved, sess.AccountID, sess.AuthTime, sess.AMR, sess.SID, grantID
			rec.GrantID = grantID // the device code belongs to the grant from now on
		}
		return nil
	})
	return err
}

// poll is the device grant's one read-modify-write of the code id: fn sees
// the live code and whether it was redeemed, may change its polling state,
// and says whether to redeem it now (device_code.consumed for clientID).
// errDeviceExpired when it expired. The code read (and changed) is returned
// with any error.
func (s deviceCodeStore) poll(ctx context.Context, id, clientID string, fn func(dg *deviceGrant, redeemed bool) (redeem bool, err error)) (deviceGrant, error) {
	now := s.p.now()
	var redeemed bool
	dg, err := s.update(ctx, id, func(dg *deviceGrant, rec *Record) error {
		redeemed = false
		if s.p.expired(*rec) {
			return errDeviceExpired
		}
		redeem, err := fn(dg, !rec.ConsumedAt.IsZero())
		if err != nil {
			return err
		}
		if redeem {
			rec.ConsumedAt, redeemed = now, true
		}
		return nil
	})
	if err == nil && redeemed {
		s.p.events.Emit(ctx, Event{Name: EventDeviceCodeConsumed, ClientID: clientID, GrantID: dg.GrantID})
	}
	return dg, err
}

// destroy deletes the device code.
func (s deviceCodeStore) destroy(ctx context.Context, id, clientID, grantID string) {
	if err := s.delete(ctx, id); err == nil {
		s.p.events.Emit(ctx, Event{Name: EventDeviceCodeDestroyed, ClientID: clientID, GrantID: grantID})
	}
}
