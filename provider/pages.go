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
)

//go:embed templates/*.html templates/*.css templates/*.js
var builtinTemplates embed.FS

// PathAssets serves the pages' stylesheet and the form_post script: pages
// carry no inline script or style, so the CSP can forbid both.
const PathAssets = "/assets/"

type pages struct {
	login, consent, errorPage, formPost, logout, device *template.Template
	assets                                              map[string][]byte
}

// loadPages parses the built-in templates, replacing each with a file of the
// same name from dir when present.
func loadPages(dir string) (*pages, error) {
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
	pg := &pages{assets: map[string][]byte{}}
	var err error
	for name, dst := range map[string]**template.Template{"login.html": &pg.login, "consent.html": &pg.consent, "error.html": &pg.errorPage, "form_post.html": &pg.formPost, "logout.html": &pg.logout, "device.html": &pg.device} {
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
	return pg, nil
}

// pageHeaders: pages are never cached, never framed (clickjacking of the
// consent button), and may load only this provider's assets.
func pageHeaders(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	noStore(h)
}

func (p *Provider) render(w http.ResponseWriter, t *template.Template, status int, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		// An operator's template failed: fall back to a plain message, and
		// never a half-written page.
		pageHeaders(w.Header())
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte("<!DOCTYPE html><title>Error</title><p>The sign-in page could not be rendered.</p>"))
		return
	}
	pageHeaders(w.Header())
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (p *Provider) assetsURL() string { return p.prefix + PathAssets }

func (p *Provider) renderError(w http.ResponseWriter, e *Error) {
	p.render(w, p.pages.errorPage, e.Status, map[string]any{"Code": e.Code, "Description": e.Description, "AssetsURL": p.assetsURL()})
}

func (p *Provider) renderInteraction(w http.ResponseWriter, r *http.Request, in *interaction, client *Client, message string, status int) {
	base := p.prefix + PathInteraction + in.UID
	name := client.Name
	if name == "" {
		name = client.ID
	}
	data := map[string]any{"ClientName": name, "CSRF": in.CSRF, "Message": message, "AssetsURL": p.assetsURL(), "AbortAction": base + "/abort"}
	if in.Prompt == promptConsent {
		scopes := make([]string, 0, len(in.Request.Scopes))
		for _, s := range in.Request.Scopes {
			scopes = append(scopes, scopeDescriptions[s])
		}
		data["Scopes"], data["Action"] = scopes, base+"/consent"
		p.render(w, p.pages.consent, status, data)
		return
	}
	data["Action"], data["LoginHint"] = base+"/login", in.Request.LoginHint
	p.render(w, p.pages.login, status, data)
}

// renderFormPost is OAuth 2.0 Form Post Response Mode: the response is an
// auto-submitting form to the redirect URI.
func (p *Provider) renderFormPost(w http.ResponseWriter, redirectURI string, v url.Values) {
	fields := make(map[string]string, len(v))
	for k := range v {
		fields[k] = v.Get(k)
	}
	// The redirect URI matched a registered one exactly, and registration and
	// configuration refuse schemes that run code (javascript:, data:, …), so
	// it is trusted here; html/template would otherwise replace a native
	// app's private-use scheme (com.example.app:/cb) and break the flow.
	p.render(w, p.pages.formPost, http.StatusOK, map[string]any{"Action": template.URL(redirectURI), "Fields": fields, "AssetsURL": p.assetsURL()})
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
