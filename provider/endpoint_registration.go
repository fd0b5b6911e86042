package provider

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"slices"
	"strings"
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

// clientGrantID is the grant id under which a registered client's own
// (client_credentials) tokens are stored, so deleting the client removes them.
func clientGrantID(clientID string) string { return "client:" + clientID }

func (p *Provider) registrationEnabled() bool {
	pol := p.cfg.Registration.Policy
	return pol == RegistrationOpen || pol == RegistrationInitialAccessToken
}

// MintInitialAccessToken creates an initial access token for client
// registration (RFC 7591 §3), for operators (the Caddy admin route). The
// token is returned once and stored only as a hash.
func (p *Provider) MintInitialAccessToken(ctx context.Context, ttl time.Duration, singleUse bool) (string, error) {
	if ttl <= 0 {
		return "", errors.New("an initial access token needs a positive lifetime")
	}
	tok := newSecret()
	if err := p.put(ctx, KindInitialAccessToken, secretID(tok), "", "", initialAccessToken{SingleUse: singleUse}, p.now().Add(ttl), true); err != nil {
		return "", err
	}
	p.events.Emit(ctx, Event{Name: EventInitialAccessTokenSaved})
	return tok, nil
}

// checkInitialAccessToken enforces the registration policy. A single-use
// token is consumed atomically, so two registrations cannot share it.
func (p *Provider) checkInitialAccessToken(r *http.Request) *Error {
	if p.cfg.Registration.Policy != RegistrationInitialAccessToken {
		return nil
	}
	tok, ok := bearerFromHeader(r)
	invalid := newError(http.StatusUnauthorized, ErrCodeInvalidToken, "a valid initial access token is required")
	if !ok {
		return invalid
	}
	sum := sha256.Sum256([]byte(tok))
	for _, h := range p.staticIATs {
		if subtle.ConstantTimeCompare(sum[:], h[:]) == 1 {
			return nil
		}
	}
	id := secretID(tok)
	var iat initialAccessToken
	rec, err := p.load(r.Context(), KindInitialAccessToken, id, &iat)
	if errors.Is(err, ErrNotFound) {
		return invalid
	}
	if err != nil {
		return errServer(err)
	}
	if !iat.SingleUse {
		return nil
	}
	if _, err := p.cfg.Store.Consume(r.Context(), KindInitialAccessToken, id, p.now()); errors.Is(err, ErrAlreadyConsumed) || errors.Is(err, ErrNotFound) {
		return invalid
	} else if err != nil {
		return errServer(err)
	}
	if err := p.cfg.Store.Delete(r.Context(), KindInitialAccessToken, rec.ID); err == nil {
		p.emit(r, Event{Name: EventInitialAccessTokenDestroyed})
	}
	return nil
}

func bearerFromHeader(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || len(tok) > maxTokenLen {
		return "", false
	}
	return tok, true
}

// readJSONBody enforces Content-Type application/json and the size cap.
func (p *Provider) readJSONBody(w http.ResponseWriter, r *http.Request) ([]byte, *Error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, errInvalidRequest("Content-Type must be application/json")
	}
	return p.readBody(w, r)
}

// serveRegistration is the client registration endpoint (RFC 7591 §3).
func (p *Provider) serveRegistration(w http.ResponseWriter, r *http.Request) {
	const ev = EventRegistrationCreateError
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		p.endpointError(w, r, ev, methodNotAllowed("POST"), "")
		return
	}
	if e := p.checkInitialAccessToken(r); e != nil {
		if e.Code == ErrCodeInvalidToken {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+p.cfg.Issuer+`", error="invalid_token"`)
		}
		p.endpointError(w, r, ev, e, "")
		return
	}
	// Anyone may call an open endpoint: a per-address rate bounds how fast
	// one caller fills the store (initial access token holders are the
	// operator's own).
	if p.cfg.Registration.Policy == RegistrationOpen {
		if ok, wait := p.registrationRate.allow(p.clientIP(r), p.now()); !ok {
			w.Header().Set("Retry-After", retryAfter(max(wait, time.Second)))
			p.endpointError(w, r, ev, errRegistrationRate(), "")
			return
		}
	}
	body, e := p.readJSONBody(w, r)
	if e != nil {
		p.endpointError(w, r, ev, e, "")
		return
	}
	m, e := p.parseClientMetadata(body)
	if e == nil {
		e = p.checkClientName(m.ClientName)
	}
	if e != nil {
		p.endpointError(w, r, ev, e, "")
		return
	}
	now := p.now()
	sc := &storedClient{ID: newHandle(), Metadata: *m, IssuedAt: now.Unix(), UnusedUntil: now.Add(p.cfg.Registration.UnusedClientTTL).Unix(),
		AuthMethodDefaulted: authMethodOmitted(body)}
	secret, err := p.issueClientSecret(sc)
	if err != nil {
		p.endpointError(w, r, ev, errServer(err), "")
		return
	}
	if err := p.reserveClientPlace(r.Context(), sc.UnusedUntil); errors.Is(err, errCountFull) {
		// The oldest unused clients expire within a bucket or so; a
		// registrant cannot do better than try again in an hour.
		w.Header().Set("Retry-After", "3600")
		p.endpointError(w, r, ev, errRegistrationFull(), "")
		return
	} else if err != nil {
		p.endpointError(w, r, ev, errServer(err), "")
		return
	}
	if err := p.saveStoredClient(r.Context(), sc); err != nil {
		p.releaseClientPlace(r.Context(), sc.UnusedUntil)
		p.endpointError(w, r, ev, errServer(err), "")
		return
	}
	rat, err := p.newRegistrationAccessToken(r, sc.ID, sc.unusedExpiry())
	if err != nil {
		p.endpointError(w, r, ev, errServer(err), sc.ID)
		return
	}
	p.emit(r, Event{Name: EventRegistrationCreateSuccess, ClientID: sc.ID})
	p.writeClientInformation(w, http.StatusCreated, sc, secret, rat)
}

// issueClientSecret gives a confidential client a new secret, stored as a
// hash (or sealed, for client_secret_jwt), and returns it for the response.
func (p *Provider) issueClientSecret(sc *storedClient) (string, error) {
	sc.SecretHash, sc.SealedSecret = nil, nil
	switch sc.Metadata.TokenEndpointAuthMethod {
	case AuthMethodNone, AuthMethodPrivateKeyJWT:
		return "", nil
	}
	secret := newSecret()
	h := sha256.Sum256([]byte(secret))
	sc.SecretHash = h[:]
	if sc.Metadata.TokenEndpointAuthMethod == AuthMethodClientSecretJWT {
		sealed, err := p.seal([]byte(secret), sc.ID)
		if err != nil {
			return "", err
		}
		sc.SealedSecret = sealed
	}
	return secret, nil
}

// newRegistrationAccessToken stores a client's token; it expires with the
// client while the client is unused (expires), else never.
func (p *Provider) newRegistrationAccessToken(r *http.Request, clientID string, expires time.Time) (string, error) {
	tok := newSecret()
	// UID = client id: one registration access token per client.
	if err := p.put(r.Context(), KindRegistrationAccessToken, secretID(tok), clientID, "", regAccessToken{ClientID: clientID}, expires, true); err != nil {
		return "", err
	}
	p.emit(r, Event{Name: EventRegistrationAccessTokenSaved, ClientID: clientID})
	return tok, nil
}

// writeClientInformation is the client information response (RFC 7591 §3.2.1,
// RFC 7592 §3): the metadata plus what the server assigned.
func (p *Provider) writeClientInformation(w http.ResponseWriter, status int, sc *storedClient, secret, rat string) {
	b, _ := json.Marshal(sc.Metadata)
	var out map[string]any
	json.Unmarshal(b, &out)
	if sc.Metadata.ResponseTypes == nil {
		// Registered before an explicit empty list was kept: a machine
		// client, whose response_types is [] (RFC 7591 §2).
		out["response_types"] = []string{}
	}
	out["client_id"] = sc.ID
	out["client_id_issued_at"] = sc.IssuedAt
	out["registration_client_uri"] = p.cfg.Issuer + PathRegistration + "/" + sc.ID
	if secret != "" {
		out["client_secret"] = secret
	}
	if sc.SecretHash != nil {
		out["client_secret_expires_at"] = 0 // never (RFC 7591 §3.2.1)
	}
	if rat != "" {
		out["registration_access_token"] = rat
	}
	noStore(w.Header())
	writeJSON(w, status, out)
}

// serveClientConfiguration is the client configuration endpoint (RFC 7592):
// GET reads, PUT replaces, DELETE removes, each with the registration access
// token. An unknown client and a wrong token look the same (401, §2.1).
func (p *Provider) serveClientConfiguration(w http.ResponseWriter, r *http.Request) {
	clientID := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, p.prefix), PathRegistration+"/")
	ev := map[string]EventName{http.MethodGet: EventRegistrationReadError, http.MethodPut: EventRegistrationUpdateError, http.MethodDelete: EventRegistrationDeleteError}[r.Method]
	if ev == "" {
		w.Header().Set("Allow", "GET, PUT, DELETE")
		p.endpointError(w, r, EventRegistrationReadError, methodNotAllowed("GET", "PUT", "DELETE"), "")
		return
	}
	sc, ratID, e := p.authorizeRegistration(r, clientID)
	if e != nil {
		if e.Code == ErrCodeInvalidToken {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+p.cfg.Issuer+`", error="invalid_token"`)
		}
		p.endpointError(w, r, ev, e, "")
		return
	}
	switch r.Method {
	case http.MethodGet:
		p.writeClientInformation(w, http.StatusOK, sc, "", "")
	case http.MethodPut:
		p.updateClient(w, r, sc, ratID)
	case http.MethodDelete:
		if err := p.deleteClient(r, sc, ratID); err != nil {
			p.endpointError(w, r, ev, errServer(err), sc.ID)
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
	var rat regAccessToken
	if _, err := p.load(r.Context(), KindRegistrationAccessToken, ratID, &rat); errors.Is(err, ErrNotFound) {
		return nil, "", invalid
	} else if err != nil {
		return nil, "", errServer(err)
	}
	if subtle.ConstantTimeCompare([]byte(rat.ClientID), []byte(clientID)) != 1 {
		return nil, "", invalid
	}
	var sc storedClient
	_, err := p.load(r.Context(), KindClient, clientID, &sc)
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
	return &sc, ratID, nil
}

// updateClient is RFC 7592 §2.2: the request carries the full metadata,
// which replaces the old; values the server assigns may not be sent.
func (p *Provider) updateClient(w http.ResponseWriter, r *http.Request, sc *storedClient, ratID string) {
	const ev = EventRegistrationUpdateError
	body, e := p.readJSONBody(w, r)
	if e != nil {
		p.endpointError(w, r, ev, e, sc.ID)
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
		p.endpointError(w, r, ev, errInvalidClientMetadata("the metadata document is not a valid JSON object"), sc.ID)
		return
	}
	switch {
	case assigned.ClientID == nil || *assigned.ClientID != sc.ID:
		p.endpointError(w, r, ev, errInvalidRequest("client_id must be present and match the client"), sc.ID)
		return
	case assigned.RAT != nil || assigned.RCU != nil || assigned.IssuedAt != nil || assigned.ExpiresAt != nil:
		p.endpointError(w, r, ev, errInvalidRequest("registration_access_token, registration_client_uri, client_id_issued_at and client_secret_expires_at must not be sent"), sc.ID)
		return
	case assigned.ClientSecret != nil:
		h := sha256.Sum256([]byte(*assigned.ClientSecret))
		if subtle.ConstantTimeCompare(h[:], sc.SecretHash) != 1 {
			p.endpointError(w, r, ev, errInvalidRequest("client_secret does not match"), sc.ID)
			return
		}
	}
	m, e := p.parseClientMetadata(body)
	if e == nil {
		e = p.checkClientName(m.ClientName)
	}
	if e != nil {
		p.endpointError(w, r, ev, e, sc.ID)
		return
	}
	// A change of authentication method that needs a new kind of secret gets
	// a fresh one (RFC 7592 §2.2 lets the server issue a new secret). It is
	// made here because the store may run the update function more than once.
	fresh := storedClient{ID: sc.ID, Metadata: *m}
	freshSecret, err := p.issueClientSecret(&fresh)
	if err != nil {
		p.endpointError(w, r, ev, errServer(err), sc.ID)
		return
	}
	defaulted := authMethodOmitted(body) // RFC 7592 §2.2: the update replaces all metadata
	// Read-modify-write: what the store holds now, not what was read when
	// the request was authorized, so grants recorded on the client meanwhile
	// (rememberGrant) are kept.
	var updated storedClient
	var secret, oldJWKSURI string
	_, err = p.cfg.Store.Update(r.Context(), KindClient, sc.ID, func(rec *Record) error {
		var cur storedClient
		if err := decodeInto(rec.Payload, &cur); err != nil {
			return err
		}
		if cur.Deleted {
			return ErrNotFound
		}
		oldMethod := cur.Metadata.TokenEndpointAuthMethod
		oldJWKSURI, secret = cur.Metadata.JWKSURI, ""
		if m.TokenEndpointAuthMethod != oldMethod && (cur.SecretHash == nil || m.TokenEndpointAuthMethod == AuthMethodClientSecretJWT || m.TokenEndpointAuthMethod == AuthMethodNone || m.TokenEndpointAuthMethod == AuthMethodPrivateKeyJWT) {
			cur.SecretHash, cur.SealedSecret, secret = fresh.SecretHash, fresh.SealedSecret, freshSecret
		}
		cur.Metadata, cur.AuthMethodDefaulted = *m, defaulted
		b, err := encodePayload(&cur)
		if err != nil {
			return err
		}
		rec.Payload, updated = b, cur
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		// Deleted since the request was authorized.
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+p.cfg.Issuer+`", error="invalid_token"`)
		p.endpointError(w, r, ev, newError(http.StatusUnauthorized, ErrCodeInvalidToken, "the registration access token is invalid"), sc.ID)
		return
	}
	if err != nil {
		p.endpointError(w, r, ev, errServer(err), sc.ID)
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
			p.endpointError(w, r, ev, errServer(err), sc.ID)
			return
		}
		if err := p.cfg.Store.Delete(r.Context(), KindRegistrationAccessToken, ratID); err == nil {
			p.emit(r, Event{Name: EventRegistrationAccessTokenDestroyed, ClientID: sc.ID})
		}
	}
	p.emit(r, Event{Name: EventRegistrationUpdateSuccess, ClientID: sc.ID})
	p.writeClientInformation(w, http.StatusOK, sc, secret, rat)
}

// deleteClient removes the client, its registration access token, every
// grant it holds (with their codes and tokens) and its own tokens.
func (p *Provider) deleteClient(r *http.Request, sc *storedClient, ratID string) error {
	ctx := r.Context()
	// Mark the client deleted and take its grants in one step: a grant
	// recorded after this fails (rememberGrant), one recorded before is in
	// the list, so none escapes revocation.
	grants, unusedUntil, wasLive := sc.Grants, sc.UnusedUntil, false
	_, err := p.cfg.Store.Update(ctx, KindClient, sc.ID, func(rec *Record) error {
		var cur storedClient
		if err := decodeInto(rec.Payload, &cur); err != nil {
			return err
		}
		wasLive, unusedUntil = !cur.Deleted, cur.UnusedUntil
		cur.Deleted, grants = true, cur.Grants
		b, err := encodePayload(&cur)
		rec.Payload = b
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := p.cfg.Store.Delete(ctx, KindClient, sc.ID); err != nil && !errors.Is(err, ErrNotFound) {
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
	if err := p.cfg.Store.Delete(ctx, KindRegistrationAccessToken, ratID); err == nil {
		p.emit(r, Event{Name: EventRegistrationAccessTokenDestroyed, ClientID: sc.ID})
	}
	for _, g := range append(slices.Clone(grants), clientGrantID(sc.ID)) {
		if err := p.revokeGrant(r, g, sc.ID); err != nil {
			return err
		}
	}
	return nil
}

// authMethodOmitted reports whether a registration or update request left
// token_endpoint_auth_method out (or empty), so that the RFC 7591 §2 default
// applies: such a client accepts either secret method, one that named its
// method is held to it. The body has already been parsed and validated.
func authMethodOmitted(body []byte) bool {
	var m struct {
		Method string `json:"token_endpoint_auth_method"`
	}
	// A type error cannot happen: parseClientMetadata accepted the body.
	_ = json.Unmarshal(body, &m)
	return m.Method == ""
}
