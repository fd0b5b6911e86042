package provider

import (
	"net/http"
	"net/url"
	"strings"
)

// The gate's own pages on a protected site are the provider's error page,
// so a person who may not see a page, or whose sign-in did not complete,
// reads what happened and what to do in their language and the operator's
// branding, on a page that assistive technology can navigate (a language,
// a main landmark, a heading). They are served from the protected origin:
// the stylesheets and a logo given as a path are the issuer's, loaded from
// its origin, which their CSP allows instead of 'self'.

// GatePage is one of the gate's pages.
type GatePage int

const (
	// GatePageDenied (403): the user is signed in, but no rule lets them
	// see the page. It offers to sign out (GateLogoutPath) to use another
	// account.
	GatePageDenied GatePage = iota
	// GatePageLoginFailed (400): the callback could not finish the sign-in
	// (expired, used, or started in another browser). It leads back to the
	// site's home, which starts a new sign-in.
	GatePageLoginFailed
	// GatePageNeedsSecondFactor (403): a rule wants two-factor sign-in
	// (acr mfa) and the user has no second factor: signing in again would
	// not help, so the page says what would.
	GatePageNeedsSecondFactor
)

// RenderGatePage writes page for a request to the protected origin
// (scheme://host[:port]).
func (p *Provider) RenderGatePage(w http.ResponseWriter, r *http.Request, page GatePage, origin string) {
	_, t := p.pageData(r, nil)
	kind, status := "gate_denied", http.StatusForbidden
	switch page {
	case GatePageLoginFailed:
		kind, status = "gate_login", http.StatusBadRequest
	case GatePageNeedsSecondFactor:
		kind = "gate_second_factor"
	}
	data := map[string]any{"Title": t.Get("error." + kind + ".title"), "Help": t.Get("error." + kind + ".help")}
	switch page {
	case GatePageDenied, GatePageNeedsSecondFactor:
		data["SignOutURL"] = GateLogoutPath
	case GatePageLoginFailed:
		if u, err := url.Parse(origin); err == nil && u.Host != "" {
			data["BackURL"], data["ClientName"] = u.Scheme+"://"+u.Host+"/", u.Host
		}
	}
	p.renderOn(w, r, p.pages.errorPage, status, data, p.gatePages())
}

func (p *Provider) gatePages() pageSite {
	logo := p.pages.brand.LogoURL
	if strings.HasPrefix(logo, "/") {
		logo = p.pages.issuerOrigin + logo // a path on the issuer's site
	}
	return pageSite{assetsURL: p.pages.issuerOrigin + p.assetsURL(), logoURL: logo, csp: p.pages.gateCSP}
}
