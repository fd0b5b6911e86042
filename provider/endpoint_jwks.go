package provider

import (
	"net/http"
	"strings"
)

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
