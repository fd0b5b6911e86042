package provider

import (
	"crypto/sha256"
	"net/http"
	"net/url"
)

func (p *Provider) init() error {
	u, _ := url.Parse(p.cfg.Issuer)
	p.secureCookies = u.Scheme == "https"
	if p.cfg.Cookies.Secure != nil {
		p.secureCookies = *p.cfg.Cookies.Secure
	}
	pg, err := loadPages(p.cfg.TemplatesDir, p.cfg.Branding, p.cfg.Issuer)
	if err != nil {
		return err
	}
	p.pages = pg
	p.throttle = newLoginThrottle(p.cfg.Throttle)
	if storeIsShared(p.cfg.Store) {
		p.throttle.shared = &sharedThrottle{store: p.cfg.Store, cfg: p.cfg.Throttle}
	}
	p.clients = &clientRegistry{p: p, shared: storeIsShared(p.cfg.Store)}
	if storeIsShared(p.cfg.Store) && len(p.cfg.SecretKey) == 32 {
		// Instances share the secret key (caddymodule: key_encryption_secret),
		// so they can share the keys that seal refresh successors too.
		p.successors.shared = p.sharedSuccessorKey
	}
	if p.privateAllow, err = parsePrivateAllowList(p.cfg.Registration.AllowPrivateHosts); err != nil {
		return err
	}
	p.registeredClientHTTP = publicOnlyClient
	if p.privateAllow != nil {
		p.registeredClientHTTP = newPublicOnlyClient(p.privateAllow, nil)
	}
	// Config.Validate has checked the policy and the tokens' length.
	for _, t := range p.cfg.Registration.InitialAccessTokens {
		p.staticIATs = append(p.staticIATs, sha256.Sum256([]byte(t)))
	}
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
		PathPAR:           p.servePAR,
		PathEndSession:    p.serveEndSession,
		PathDeviceAuth:    p.serveDeviceAuthorization,
		PathDevice:        p.serveDeviceVerification,
	}
	if p.registrationEnabled() {
		p.mux[PathRegistration] = p.serveRegistration
	}
	return nil
}
