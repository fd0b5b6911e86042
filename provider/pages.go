package provider

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

//go:embed templates/*.html templates/*.css templates/*.js templates/messages/*.json
var builtinTemplates embed.FS

// PathAssets serves the pages' stylesheets and the form_post script: pages
// carry no inline script or style, so the CSP can forbid both.
const PathAssets = "/assets/"

// brandStylesheet is the generated stylesheet with the operator's colour.
const brandStylesheet = "brand.css"

type pages struct {
	login, consent, errorPage, formPost, logout, device, secondFactor *template.Template
	assets                                                            map[string][]byte
	text                                                              catalogues
	brand                                                             Branding
	// csp is the pages' Content-Security-Policy; it names the logo's origin
	// when the logo is on another site.
	csp string
	// issuerOrigin is scheme://host of the issuer: gate pages, served on
	// protected sites, load the assets from there (gateCSP allows it).
	issuerOrigin, gateCSP string
}

// loadPages parses the built-in templates, replacing each with a file of the
// same name from dir when present, and loads the message catalogues (the
// built-in ones and those in dir/messages).
func loadPages(dir string, brand Branding, issuer string) (*pages, error) {
	parse := func(name string) (*template.Template, error) {
		if dir != "" {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err == nil {
				t, err := template.New(name).Parse(string(b))
				if err != nil {
					return nil, fmt.Errorf("template %s: %w", filepath.Join(dir, name), err)
				}
				return t, nil
			}
			if !os.IsNotExist(err) {
				return nil, fmt.Errorf("template %s: %w", filepath.Join(dir, name), err)
			}
		}
		return template.ParseFS(builtinTemplates, "templates/"+name)
	}
	imgOrigin, err := brand.validate()
	if err != nil {
		return nil, err
	}
	if brand.Name == "" {
		if u, err := url.Parse(issuer); err == nil {
			brand.Name = u.Hostname()
		}
	}
	pg := &pages{assets: map[string][]byte{}, brand: brand}
	pg.csp = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:" + strings.TrimRight(" "+imgOrigin, " ") + "; frame-ancestors 'none'; base-uri 'none'"
	if u, err := url.Parse(issuer); err == nil && cspHost.MatchString(u.Host) {
		pg.issuerOrigin = strings.ToLower(u.Scheme + "://" + u.Host)
		// Gate pages run no script and post no form.
		pg.gateCSP = "default-src 'none'; style-src " + pg.issuerOrigin + "; img-src " + pg.issuerOrigin + " data:" + strings.TrimRight(" "+imgOrigin, " ") +
			"; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
	}
	for name, dst := range map[string]**template.Template{"login.html": &pg.login, "consent.html": &pg.consent, "error.html": &pg.errorPage, "form_post.html": &pg.formPost, "logout.html": &pg.logout, "device.html": &pg.device, "otp.html": &pg.secondFactor} {
		if *dst, err = parse(name); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{"oidcaddy.css", "form_post.js"} {
		b, err := builtinTemplates.ReadFile("templates/" + name)
		if err != nil {
			return nil, err
		}
		pg.assets[name] = b
	}
	if dir != "" {
		if b, err := os.ReadFile(filepath.Join(dir, "oidcaddy.css")); err == nil {
			pg.assets["oidcaddy.css"] = b
		}
	}
	pg.assets[brandStylesheet] = brand.stylesheet()
	if pg.text, err = loadCatalogues(builtinTemplates, dir); err != nil {
		return nil, err
	}
	return pg, nil
}

// pageHeaders: pages are never cached, never framed (clickjacking of the
// consent button), and may load only this provider's assets (and the logo).
// Their language follows Accept-Language.
func (pg *pages) headers(h http.Header, csp string) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Add("Vary", "Accept-Language")
	noStore(h)
}

// pageData is what every page gets besides its own fields. The old field
// names stay, so templates written before translations and branding
// existed still render.
func (p *Provider) pageData(r *http.Request, data map[string]any) (map[string]any, translator) {
	t := p.pages.text.translator(p.pages.text.negotiate(r.Header.Get("Accept-Language")))
	if data == nil {
		data = map[string]any{}
	}
	data["T"], data["Lang"] = t, t.Lang()
	p.pages.setAssets(data, p.ownPages())
	return data, t
}

// pageSite is where a page is served: the provider's own site, or a site
// protected by a gate (page_gate.go).
type pageSite struct {
	assetsURL string // prefix of the stylesheets' URLs
	logoURL   string
	csp       string
}

func (p *Provider) ownPages() pageSite {
	return pageSite{assetsURL: p.assetsURL(), logoURL: p.pages.brand.LogoURL, csp: p.pages.csp}
}

func (pg *pages) setAssets(data map[string]any, site pageSite) {
	data["AssetsURL"] = site.assetsURL
	data["Brand"] = map[string]string{"Name": pg.brand.Name, "LogoURL": site.logoURL}
	data["BrandCSS"] = site.assetsURL + brandStylesheet + "?v=" + pg.brand.version()
}

func (p *Provider) render(w http.ResponseWriter, r *http.Request, t *template.Template, status int, data map[string]any) {
	p.renderOn(w, r, t, status, data, p.ownPages())
}

func (p *Provider) renderOn(w http.ResponseWriter, r *http.Request, t *template.Template, status int, data map[string]any, site pageSite) {
	data, tr := p.pageData(r, data)
	p.pages.setAssets(data, site)
	w.Header().Set("Content-Language", tr.Lang())
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		// An operator's template failed: fall back to a plain message, and
		// never a half-written page. It is a server_error like any internal
		// failure, so the alerts see broken sign-in pages; the cause names
		// the template and the position in it (template errors name fields
		// and types, not the values of the page).
		p.serverError(r, Event{ErrorCode: ErrCodeServerError, Cause: fmt.Errorf("rendering page template %s: %w", t.Name(), err)})
		p.pages.headers(w.Header(), site.csp)
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte("<!DOCTYPE html><title>Error</title><p>The sign-in page could not be rendered.</p>"))
		return
	}
	p.pages.headers(w.Header(), site.csp)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (p *Provider) assetsURL() string { return p.prefix + PathAssets }

// clientName is how a page names a client: its name, else its id.
func clientName(c *Client) string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

func (p *Provider) renderInteraction(w http.ResponseWriter, r *http.Request, in *interaction, client *Client, status int) {
	base := p.prefix + PathInteraction + in.UID
	_, t := p.pageData(r, nil)
	data := map[string]any{"ClientName": clientName(client), "CSRF": in.CSRF, "AbortAction": base + "/abort"}
	if in.Notice != "" {
		data["Message"] = t.Format("login.error."+in.Notice, "wait", t.Duration(in.noticeWait()))
	}
	if in.Prompt == promptConsent {
		scopes := make([]string, 0, len(in.Request.Scopes))
		for _, s := range in.Request.Scopes {
			scopes = append(scopes, t.Get("scope."+s))
		}
		data["Scopes"], data["Action"] = scopes, base+"/consent"
		data["SwitchAction"] = base + "/switch"
		if acc := p.consentAccount(r, in); acc != "" {
			data["Account"] = acc
		}
		p.consentRequester(r, in, client, data)
		p.render(w, r, p.pages.consent, status, data)
		return
	}
	if in.Prompt == promptSecondFactor {
		data["Action"] = base + "/otp"
		p.render(w, r, p.pages.secondFactor, status, data)
		return
	}
	login := in.LoginName
	if login == "" {
		login = in.Request.LoginHint
	}
	data["Action"], data["LoginHint"] = base+"/login", login
	p.render(w, r, p.pages.login, status, data)
}

// renderFormPost is OAuth 2.0 Form Post Response Mode: the response is an
// auto-submitting form to the redirect URI.
func (p *Provider) renderFormPost(w http.ResponseWriter, r *http.Request, redirectURI string, v url.Values) {
	fields := make(map[string]string, len(v))
	for k := range v {
		fields[k] = v.Get(k)
	}
	// The redirect URI matched a registered one exactly, and registration and
	// configuration refuse schemes that run code (javascript:, data:, …), so
	// it is trusted here; html/template would otherwise replace a native
	// app's private-use scheme (com.example.app:/cb) and break the flow.
	p.render(w, r, p.pages.formPost, http.StatusOK, map[string]any{"Action": template.URL(redirectURI), "Fields": fields})
}

func (p *Provider) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Path[len(p.prefix)+len(PathAssets):]
	b, ok := p.pages.assets[name]
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	ct := "text/css; charset=utf-8"
	if filepath.Ext(name) == ".js" {
		ct = "text/javascript; charset=utf-8"
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	writeCacheable(w, ct, b)
}
