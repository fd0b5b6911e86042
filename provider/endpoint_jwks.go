package provider

import (
	"net/http"
	"strings"
)

// serveJWKS publishes the signing keys' public halves as a JWK Set (RFC 7517
// §5), the document OIDC Discovery 1.0 §3 names as jwks_uri.
func (p *Provider) serveJWKS(w http.ResponseWriter, r *http.Request) {
	if cors(w, r) {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		p.endpointError(w, r, EventJwksError, methodNotAllowed("GET"), "")
		return
	}
	jwks := p.cfg.Signer.PublicJWKS()
	if len(jwks) == 0 || !strings.HasPrefix(strings.TrimSpace(string(jwks)), "{") {
		p.endpointError(w, r, EventJwksError, errServer(errNoJWKS), "")
		return
	}
	writeCacheable(w, "application/jwk-set+json", jwks)
}

var errNoJWKS = errorString("the signer published no key set")

type errorString string

func (e errorString) Error() string { return string(e) }
