package provider

import (
	"errors"
	"net/http"
)

var (
	errDeviceForeign = errors.New("device code of another client")
	errDeviceUsed    = errors.New("device code already redeemed")
)

// exchangeDeviceCode is the device_code grant (RFC 8628 §3.4, §3.5). Polling
// state (last poll, interval) and redemption are decided in one
// read-modify-write, so a device polling from two threads still gets its
// tokens once.
func (p *Provider) exchangeDeviceCode(r *http.Request, client *Client, form params) (*tokenResponse, string, error) {
	ctx := r.Context()
	raw := form.get("device_code")
	if raw == "" {
		return nil, "", errInvalidRequest("missing required parameter device_code")
	}
	id := secretID(raw)
	now := p.now()
	var slow bool
	dg, err := p.deviceCodes().poll(ctx, id, client.ID, func(dg *deviceGrant, redeemed bool) (bool, error) {
		slow = false
		switch {
		case dg.ClientID != client.ID:
			return false, errDeviceForeign
		case redeemed:
			return false, errDeviceUsed
		}
		switch dg.Status {
		case deviceStatusPending:
			if dg.LastPoll != 0 && now.Unix()-dg.LastPoll < dg.Interval {
				// §3.5: polling too fast; the interval grows by 5 seconds.
				slow = true
				dg.Interval += 5
			}
			dg.LastPoll = now.Unix()
		case deviceStatusApproved:
			return true, nil
		}
		return false, nil
	})
	switch {
	case errors.Is(err, errDeviceExpired):
		return nil, "", newError(http.StatusBadRequest, ErrCodeExpiredToken, "the device code has expired")
	case errors.Is(err, ErrNotFound), errors.Is(err, errDeviceForeign):
		return nil, "", errInvalidGrant("the device code is invalid")
	case errors.Is(err, errDeviceUsed):
		return nil, "", errInvalidGrant("the device code has already been used")
	case err != nil:
		return nil, "", errServer(err)
	}
	switch dg.Status {
	case deviceStatusPending:
		if slow {
			return nil, "", newError(http.StatusBadRequest, ErrCodeSlowDown, "polling too fast; wait longer between requests")
		}
		return nil, "", newError(http.StatusBadRequest, ErrCodeAuthorizationPending, "the user has not yet decided")
	case deviceStatusDenied:
		p.destroyDeviceCode(r, id, client.ID, "")
		return nil, "", newError(http.StatusBadRequest, ErrCodeAccessDenied, "the user denied the request")
	}
	defer p.destroyDeviceCode(r, id, client.ID, dg.GrantID)
	acc, err := p.cfg.Accounts.Account(ctx, dg.AccountID)
	if errors.Is(err, ErrNotFound) {
		return nil, "", errInvalidGrant("the user no longer exists")
	}
	if err != nil {
		return nil, "", errServer(err)
	}
	resp, err := p.issueTokens(r, issued{client: client, account: acc, granted: dg.Scopes, scopes: dg.Scopes,
		grantID: dg.GrantID, sid: dg.SID, authTime: dg.AuthTime, amr: dg.AMR, refresh: refreshIfWanted})
	return resp, dg.GrantID, err
}

func (p *Provider) destroyDeviceCode(r *http.Request, id, clientID, grantID string) {
	p.pending.deviceCodes.release(id)
	p.deviceCodes().destroy(r.Context(), id, clientID, grantID)
}
