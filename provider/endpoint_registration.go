package provider

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"
	"time"
)

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
	if err := p.initialAccessTokens().save(ctx, secretID(tok), initialAccessToken{SingleUse: singleUse}, p.now().Add(ttl)); err != nil {
		return "", err
	}
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
	iats := p.initialAccessTokens()
	iat, err := iats.load(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		return invalid
	}
	if err != nil {
		return errServer(err)
	}
	if !iat.SingleUse {
		return nil
	}
	if err := iats.use(r.Context(), id); errors.Is(err, ErrNotFound) {
		return invalid
	} else if err != nil {
		return errServer(err)
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
	if err := p.registrationAccessTokens().save(r.Context(), secretID(tok), clientID, expires); err != nil {
		return "", err
	}
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
