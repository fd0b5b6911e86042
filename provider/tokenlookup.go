package provider

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"time"
)

// tokenInfo is what introspection and revocation learn about a token.
type tokenInfo struct {
	refresh   bool
	jwt       bool
	recID     string // store key of an opaque access or refresh token
	jti       string
	clientID  string
	accountID string
	scopes    []string
	audience  string
	grantID   string // known for stored tokens
	gidRef    string // grant reference of a JWT
	issuedAt  int64
	expiresAt int64
	authTime  int64    // of the user's login; 0 when unknown
	amr       []string // of the user's login; nil for a client's own token or an older record
}

// tokenRef gives stored opaque tokens a jti for introspection that reveals
// neither the token nor its storage key.
func tokenRef(recID string) string {
	h := sha256.Sum256([]byte("jti:" + recID))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

const maxTokenLen = 8 << 10

// lookupToken finds a live token of this provider. The hint (RFC 7662 §2.1,
// RFC 7009 §2.1) only decides which kind is tried first: it is honoured, not
// trusted. It returns nil for unknown, expired, revoked or foreign tokens.
func (p *Provider) lookupToken(ctx context.Context, token, hint string) (*tokenInfo, error) {
	info, err := p.findToken(ctx, token, hint)
	if info == nil || err != nil {
		return info, err
	}
	// A token outlives nothing it depends on: a deleted client's tokens are
	// dead (RFC 7592 §2.3) even where the cascade could not reach them.
	if _, err := p.clients.Client(ctx, info.clientID); errors.Is(err, ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return info, nil
}

// lookupAccessToken is lookupToken for resource endpoints (userinfo): only
// access tokens, opaque or JWT, and never a refresh token.
func (p *Provider) lookupAccessToken(ctx context.Context, token string) (*tokenInfo, error) {
	if token == "" || len(token) > maxTokenLen {
		return nil, nil
	}
	var info *tokenInfo
	var err error
	if strings.Count(token, ".") == 2 {
		info, err = p.lookupJWT(ctx, token)
	} else {
		info, err = p.lookupStored(ctx, secretID(token), false)
	}
	if info == nil || err != nil {
		return info, err
	}
	if _, err := p.clients.Client(ctx, info.clientID); errors.Is(err, ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return info, nil
}

func (p *Provider) findToken(ctx context.Context, token, hint string) (*tokenInfo, error) {
	if token == "" || len(token) > maxTokenLen {
		return nil, nil
	}
	if strings.Count(token, ".") == 2 {
		return p.lookupJWT(ctx, token)
	}
	id := secretID(token)
	order := []bool{false, true} // access first
	if hint == "refresh_token" {
		order = []bool{true, false}
	}
	for _, refresh := range order {
		info, err := p.lookupStored(ctx, id, refresh)
		if info != nil || err != nil {
			return info, err
		}
	}
	return nil, nil
}

func (p *Provider) lookupStored(ctx context.Context, id string, refresh bool) (*tokenInfo, error) {
	info := &tokenInfo{refresh: refresh, recID: id, jti: tokenRef(id)}
	if refresh {
		rt, rec, err := p.refreshTokens().get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if !rec.ConsumedAt.IsZero() {
			return nil, nil // rotated away: no longer a valid token
		}
		// A refresh token minted while its grant was being revoked could
		// survive the cascade; it must not outlive its grant.
		if ok, err := p.grants().stands(ctx, rec.GrantID); !ok || err != nil {
			return nil, err
		}
		info.grantID = rec.GrantID
		info.clientID, info.accountID, info.scopes, info.audience = rt.ClientID, rt.AccountID, rt.Scopes, rt.Resource
		info.issuedAt, info.expiresAt, info.authTime, info.amr = rt.IssuedAt, rec.ExpiresAt.Unix(), rt.AuthTime, rt.AMR
		return info, nil
	}
	at, rec, err := p.accessTokens().get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	info.grantID = rec.GrantID
	// A user token minted while its grant was being revoked can escape the
	// cascade (DeleteByGrant is not atomic with concurrent writers); it must
	// not outlive its grant. Client tokens hang on the client instead.
	if at.AccountID != "" && at.GrantID != "" {
		if ok, err := p.grants().stands(ctx, at.GrantID); !ok || err != nil {
			return nil, err
		}
	}
	info.clientID, info.accountID, info.scopes, info.audience = at.ClientID, at.AccountID, at.Scopes, at.Audience
	info.issuedAt, info.expiresAt, info.authTime, info.amr = at.IssuedAt, at.ExpiresAt, at.AuthTime, at.AMR
	return info, nil
}

// lookupJWT accepts only an RFC 9068 access token this issuer signed that is
// unexpired, not revoked by jti, and whose grant (if any) still stands.
func (p *Provider) lookupJWT(ctx context.Context, token string) (*tokenInfo, error) {
	claims, err := p.cfg.Signer.VerifyJWT(token, "at+jwt")
	if err != nil {
		return nil, nil // not ours, or tampered
	}
	str := func(k string) string { s, _ := claims[k].(string); return s }
	num := func(k string) int64 { f, _ := claims[k].(float64); return int64(f) }
	info := &tokenInfo{jwt: true, jti: str("jti"), clientID: str("client_id"), gidRef: str("gid"), issuedAt: num("iat"), expiresAt: num("exp"), audience: str("aud"), authTime: num("auth_time")}
	if str("iss") != p.cfg.Issuer || info.jti == "" || info.clientID == "" || info.expiresAt <= p.now().Unix() {
		return nil, nil
	}
	if sub := str("sub"); sub != info.clientID || info.gidRef != "" {
		info.accountID = sub
	}
	if sc := str("scope"); sc != "" {
		info.scopes = strings.Fields(sc)
	}
	if amr, ok := claims["amr"].([]any); ok {
		for _, m := range amr {
			if s, ok := m.(string); ok {
				info.amr = append(info.amr, s)
			}
		}
	}
	if revoked, err := p.revokedJTIs().revoked(ctx, info.jti); revoked || err != nil {
		return nil, err
	}
	if info.gidRef != "" {
		grantID, err := p.grants().byRef(ctx, info.gidRef)
		if errors.Is(err, ErrNotFound) {
			return nil, nil // the grant was revoked: so are its tokens
		}
		if err != nil {
			return nil, err
		}
		info.grantID = grantID
	}
	return info, nil
}

func (i *tokenInfo) expiry() time.Time { return time.Unix(i.expiresAt, 0) }
