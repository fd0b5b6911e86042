package provider

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// grantRef is the grant's public reference: the gid claim of JWT access
// tokens, and the grant record's UID. It is a hash so tokens do not carry the
// internal handle, yet introspection can still find whether the grant lives.
func grantRef(grantID string) string {
	h := sha256.Sum256([]byte("grant:" + grantID))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

// revokeGrant removes everything issued under a grant in one store operation
// (codes, access and refresh tokens, JWT revocation markers, the consent
// itself) and emits grant.revoked once, then a destroyed event per record.
func (p *Provider) revokeGrant(r *http.Request, grantID, clientID string) error {
	if grantID == "" {
		return nil
	}
	p.emit(r, Event{Name: EventGrantRevoked, ClientID: clientID, GrantID: grantID})
	removed, err := p.cfg.Store.DeleteByGrant(r.Context(), grantID)
	for _, rec := range removed {
		p.emitDestroyed(r, rec, clientID)
	}
	return err
}

// emitDestroyed names the destroyed event of a removed record.
func (p *Provider) emitDestroyed(r *http.Request, rec Record, clientID string) {
	var name EventName
	switch rec.Kind {
	case KindAuthorizationCode:
		name = EventAuthorizationCodeDestroyed
	case KindRefreshToken:
		name = EventRefreshTokenDestroyed
	case KindAccessToken:
		name = EventAccessTokenDestroyed
		var at accessToken
		if decodeInto(rec.Payload, &at) == nil && at.clientCredentials() {
			name = EventClientCredentialsDestroyed
		}
	case KindReplayDetection:
		name = EventReplayDetectionDestroyed
	case KindPushedAuthorizationRequest:
		name = EventPushedAuthorizationRequestDestroyed
	default:
		return // grants and markers have no destroyed event of their own
	}
	p.emit(r, Event{Name: name, ClientID: clientID, GrantID: rec.GrantID})
}
