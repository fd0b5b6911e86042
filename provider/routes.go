package provider

import "net/http"

func (p *Provider) init() error {
	p.mux = map[string]http.HandlerFunc{}
	return nil
}

func (p *Provider) recoverServerError(w http.ResponseWriter, r *http.Request, h http.HandlerFunc) {
	h(w, r)
}

func (p *Provider) serveInteraction(w http.ResponseWriter, r *http.Request) {
	http.NotFound(w, r)
}

func validateRedirectURI(string) error { return nil }
