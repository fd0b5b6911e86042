package provider

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"slices"
	"strings"
)

// idTokenFacts are the authentication facts an ID token repeats.
type idTokenFacts struct {
	authTime int64
	amr      []string // the login's methods; nil: a password (acr.go)
	nonce    string   // only on the code exchange (OIDC Core §12.2: not on refresh)
	sid      string
	scopes   []string // granted; their claims go in only for ClaimsInIDToken clients
}

// signIDToken builds the ID token of OIDC Core §2 for a code exchange
// (§3.1.3.6) or a refresh (§12.2). Scope claims are copied in only for a
// client that asks (ClaimsInIDToken); otherwise, with an access token
// issued, they are served by userinfo (§5.4).
func (p *Provider) signIDToken(client *Client, acc *Account, ac idTokenFacts, accessToken string) (string, error) {
	now := p.now()
	alg := p.idTokenAlg(client)
	claims := map[string]any{
		"iss":       p.cfg.Issuer,
		"sub":       acc.Subject,
		"aud":       client.ID,
		"exp":       now.Add(p.cfg.Lifetimes.IDToken).Unix(),
		"iat":       now.Unix(),
		"auth_time": ac.authTime,
		"at_hash":   halfHash(alg, accessToken),
	}
	// OIDC Core §2 acr and amr (RFC 8176 values): what the login achieved,
	// whatever acr_values asked, so the relying party can decide.
	amr := amrOrPassword(ac.amr)
	claims["acr"], claims["amr"] = acrOf(amr), amr
	if ac.nonce != "" {
		claims["nonce"] = ac.nonce
	}
	if ac.sid != "" {
		claims["sid"] = ac.sid
	}
	if client.ClaimsInIDToken {
		// The same claims userinfo returns for these scopes; none of them
		// is a claim set above (scopeClaims holds only OIDC Core §5.1 ones).
		for name, v := range claimsForScopes(acc, ac.scopes) {
			if _, set := claims[name]; !set {
				claims[name] = v
			}
		}
	}
	// aud is the single client id, so azp is not needed (§2 requires it only
	// for multiple audiences).
	return p.cfg.Signer.SignJWTWithAlg(alg, claims, "JWT")
}

// idTokenAlg is the client's registered ID token alg, else RS256 when a key
// has it, else the active key's.
func (p *Provider) idTokenAlg(client *Client) string {
	if client.IDTokenSignedResponseAlg != "" {
		return client.IDTokenSignedResponseAlg
	}
	// OIDC Dynamic Client Registration §2: id_token_signed_response_alg
	// defaults to RS256, so a client that names none gets RS256 whenever a
	// key of that algorithm is configured, whichever key is listed first.
	if slices.Contains(p.cfg.Signer.Algorithms(), "RS256") {
		return "RS256"
	}
	return p.cfg.Signer.Algorithm()
}

// checkIDTokenAlg: a client may ask for any alg a configured key has.
func (p *Provider) checkIDTokenAlg(alg string) error {
	if algs := p.cfg.Signer.Algorithms(); alg != "" && !slices.Contains(algs, alg) {
		return fmt.Errorf("id_token_signed_response_alg must be one of %s (the algorithms of the configured signing keys)", strings.Join(algs, ", "))
	}
	return nil
}

// halfHash is at_hash / c_hash (OIDC Core §3.1.3.6): the left half of the
// hash of the ASCII value, with the hash of the JWS alg. EdDSA (Ed25519) uses
// SHA-512, as the OpenID Foundation's errata and major providers do.
func halfHash(alg, value string) string {
	var h hash.Hash
	switch {
	case strings.HasSuffix(alg, "384"):
		h = sha512.New384()
	case strings.HasSuffix(alg, "512"), alg == "EdDSA":
		h = sha512.New()
	default:
		h = sha256.New()
	}
	h.Write([]byte(value))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
