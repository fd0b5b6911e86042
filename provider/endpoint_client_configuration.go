package provider

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
)

// serveClientConfiguration is the client configuration endpoint (RFC 7592):
// GET reads, PUT replaces, DELETE removes, each with the registration access
// token. An unknown client and a wrong token look the same (401, §2.1).
func (p *Provider) serveClientConfiguration(w http.ResponseWriter, r *http.Request) {
	clientID := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, p.prefix), PathRegistration+"/")
	fail := map[string]endpointFailure{http.MethodGet: p.registrationReadError, http.MethodPut: p.registrationUpdateError, http.MethodDelete: p.registrationDeleteError}[r.Method]
	if fail == nil {
		w.Header().Set("Allow", "GET, PUT, DELETE")
		p.registrationReadError(w, r, methodNotAllowed("GET", "PUT", "DELETE"), "")
		return
	}
	sc, ratID, e := p.authorizeRegistration(r, clientID)
	if e != nil {
		if e.Code == ErrCodeInvalidToken {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+p.cfg.Issuer+`", error="invalid_token"`)
		}
		fail(w, r, e, "")
		return
	}
	switch r.Method {
	case http.MethodGet:
		p.writeClientInformation(w, http.StatusOK, sc, "", "")
	case http.MethodPut:
		p.updateClient(w, r, sc, ratID)
	case http.MethodDelete:
		if err := p.deleteClient(r, sc, ratID); err != nil {
			fail(w, r, errServer(err), sc.ID)
			return
		}
		p.emit(r, Event{Name: EventRegistrationDeleteSuccess, ClientID: sc.ID})
		noStore(w.Header())
		w.WriteHeader(http.StatusNoContent)
	}
}

func (p *Provider) authorizeRegistration(r *http.Request, clientID string) (*storedClient, string, *Error) {
	invalid := newError(http.StatusUnauthorized, ErrCodeInvalidToken, "the registration access token is invalid")
	tok, ok := bearerFromHeader(r)
	if !ok || clientID == "" || len(clientID) > maxParamLen {
		return nil, "", invalid
	}
	ratID := secretID(tok)
	rat, err := p.registrationAccessTokens().load(r.Context(), ratID)
	if errors.Is(err, ErrNotFound) {
		return nil, "", invalid
	} else if err != nil {
		return nil, "", errServer(err)
	}
	if subtle.ConstantTimeCompare([]byte(rat.ClientID), []byte(clientID)) != 1 {
		return nil, "", invalid
	}
	sc, err := p.storedClients().load(r.Context(), clientID)
	if errors.Is(err, ErrNotFound) {
		return nil, "", invalid
	}
	if err != nil {
		return nil, "", errServer(err)
	}
	// A client whose deletion did not complete can only be deleted again.
	if sc.Deleted && r.Method != http.MethodDelete {
		return nil, "", invalid
	}
	return sc, ratID, nil
}

// updateClient is RFC 7592 §2.2: the request carries the full metadata,
// which replaces the old; values the server assigns may not be sent.
func (p *Provider) updateClient(w http.ResponseWriter, r *http.Request, sc *storedClient, ratID string) {
	body, e := p.readJSONBody(w, r)
	if e != nil {
		p.registrationUpdateError(w, r, e, sc.ID)
		return
	}
	var assigned struct {
		ClientID     *string `json:"client_id"`
		ClientSecret *string `json:"client_secret"`
		RAT          *string `json:"registration_access_token"`
		RCU          *string `json:"registration_client_uri"`
		IssuedAt     any     `json:"client_id_issued_at"`
		ExpiresAt    any     `json:"client_secret_expires_at"`
	}
	if err := json.Unmarshal(body, &assigned); err != nil {
		p.registrationUpdateError(w, r, errInvalidClientMetadata("the metadata document is not a valid JSON object"), sc.ID)
		return
	}
	switch {
	case assigned.ClientID == nil || *assigned.ClientID != sc.ID:
		p.registrationUpdateError(w, r, errInvalidRequest("client_id must be present and match the client"), sc.ID)
		return
	case assigned.RAT != nil || assigned.RCU != nil || assigned.IssuedAt != nil || assigned.ExpiresAt != nil:
		p.registrationUpdateError(w, r, errInvalidRequest("registration_access_token, registration_client_uri, client_id_issued_at and client_secret_expires_at must not be sent"), sc.ID)
		return
	case assigned.ClientSecret != nil:
		h := sha256.Sum256([]byte(*assigned.ClientSecret))
		if subtle.ConstantTimeCompare(h[:], sc.SecretHash) != 1 {
			p.registrationUpdateError(w, r, errInvalidRequest("client_secret does not match"), sc.ID)
			return
		}
	}
	m, e := p.parseClientMetadata(body)
	if e == nil {
		e = p.checkClientName(m.ClientName)
	}
	if e != nil {
		p.registrationUpdateError(w, r, e, sc.ID)
		return
	}
	// A change of authentication method that needs a new kind of secret gets
	// a fresh one (RFC 7592 §2.2 lets the server issue a new secret). It is
	// made here because the store may run the update function more than once.
	fresh := storedClient{ID: sc.ID, Metadata: *m}
	freshSecret, err := p.issueClientSecret(&fresh)
	if err != nil {
		p.registrationUpdateError(w, r, errServer(err), sc.ID)
		return
	}
	defaulted := authMethodOmitted(body) // RFC 7592 §2.2: the update replaces all metadata
	// Read-modify-write: what the store holds now, not what was read when
	// the request was authorized, so a concurrent change (the client's
	// first token clearing UnusedUntil) is kept.
	var secret, oldJWKSURI string
	updated, err := p.storedClients().change(r.Context(), sc.ID, func(cur *storedClient) error {
		if cur.Deleted {
			return ErrNotFound
		}
		oldMethod := cur.Metadata.TokenEndpointAuthMethod
		oldJWKSURI, secret = cur.Metadata.JWKSURI, ""
		if m.TokenEndpointAuthMethod != oldMethod && (cur.SecretHash == nil || m.TokenEndpointAuthMethod == AuthMethodClientSecretJWT || m.TokenEndpointAuthMethod == AuthMethodNone || m.TokenEndpointAuthMethod == AuthMethodPrivateKeyJWT) {
			cur.SecretHash, cur.SealedSecret, secret = fresh.SecretHash, fresh.SealedSecret, freshSecret
		}
		cur.Metadata, cur.AuthMethodDefaulted = *m, defaulted
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		// Deleted since the request was authorized.
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+p.cfg.Issuer+`", error="invalid_token"`)
		p.registrationUpdateError(w, r, newError(http.StatusUnauthorized, ErrCodeInvalidToken, "the registration access token is invalid"), sc.ID)
		return
	}
	if err != nil {
		p.registrationUpdateError(w, r, errServer(err), sc.ID)
		return
	}
	p.clients.forget(sc.ID)
	if oldJWKSURI != "" && oldJWKSURI != m.JWKSURI {
		p.jwksCache.evict(oldJWKSURI)
	}
	sc = &updated
	var rat string
	if p.cfg.Registration.RotateRegistrationAccessToken {
		if rat, err = p.newRegistrationAccessToken(r, sc.ID, sc.unusedExpiry()); err != nil {
			p.registrationUpdateError(w, r, errServer(err), sc.ID)
			return
		}
		p.registrationAccessTokens().destroy(r.Context(), ratID, sc.ID)
	}
	p.emit(r, Event{Name: EventRegistrationUpdateSuccess, ClientID: sc.ID})
	p.writeClientInformation(w, http.StatusOK, sc, secret, rat)
}

// deleteClient removes the client, its registration access token, every
// grant it holds (with their codes and tokens) and its own tokens.
func (p *Provider) deleteClient(r *http.Request, sc *storedClient, ratID string) error {
	ctx := r.Context()
	// Mark the client deleted first, then revoke the grants indexed under
	// it: a grant saved after the mark is revoked by its own login
	// (checkClientOutlivesGrant), one saved before is listed here, so none
	// escapes revocation. Grants lists what records written before the
	// index kept on the client itself.
	grants, unusedUntil, wasLive := sc.Grants, sc.UnusedUntil, false
	_, err := p.storedClients().change(ctx, sc.ID, func(cur *storedClient) error {
		wasLive, unusedUntil = !cur.Deleted, cur.UnusedUntil
		cur.Deleted, grants = true, cur.Grants
		return nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := p.storedClients().remove(ctx, sc.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	p.clients.forget(sc.ID)
	if wasLive {
		if err := p.releaseClientPlace(ctx, unusedUntil); err != nil {
			return err
		}
	}
	if sc.Metadata.JWKSURI != "" {
		p.jwksCache.evict(sc.Metadata.JWKSURI)
	}
	p.registrationAccessTokens().destroy(ctx, ratID, sc.ID)
	for _, g := range append(slices.Clone(grants), clientGrantID(sc.ID)) {
		if err := p.grants().revoke(ctx, g, sc.ID); err != nil {
			return err
		}
	}
	return p.grants().ofClient(ctx, sc.ID, func(grantID string) error {
		return p.grants().revoke(ctx, grantID, sc.ID)
	})
}

// The client configuration endpoint's error events, one function each
// (registration_read.error also answers a wrong method).
func (p *Provider) registrationReadError(w http.ResponseWriter, r *http.Request, err error, clientID string) {
	p.endpointError(w, r, EventRegistrationReadError, err, clientID)
}

func (p *Provider) registrationUpdateError(w http.ResponseWriter, r *http.Request, err error, clientID string) {
	p.endpointError(w, r, EventRegistrationUpdateError, err, clientID)
}

func (p *Provider) registrationDeleteError(w http.ResponseWriter, r *http.Request, err error, clientID string) {
	p.endpointError(w, r, EventRegistrationDeleteError, err, clientID)
}
