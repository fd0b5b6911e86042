package provider

import (
	"net/http"
	"net/url"
)

func (p *Provider) init() error {
	u, _ := url.Parse(p.cfg.Issuer)
	p.secureCookies = u.Scheme == "https"
	if p.cfg.Cookies.Secure != nil {
		p.secureCookies = *p.cfg.Cookies.Secure
	}
	pg, err := loadPages(p.cfg.TemplatesDir)
	if err != nil {
		return err
	}
	p.pages = pg
	p.throttle = newLoginThrottle(p.cfg.Throttle)
	if p.discovery, err = p.buildDiscovery(); err != nil {
		return err
	}
	p.mux = map[string]http.HandlerFunc{
		PathDiscovery:     p.serveDiscovery,
		PathJWKS:          p.serveJWKS,
		PathAuthorization: p.serveAuthorization,
		PathToken:         p.serveToken,
		PathUserinfo:      p.serveUserinfo,
		PathIntrospection: p.serveIntrospection,
		PathRevocation:    p.serveRevocation,
	}
	return nil
}
