package provider

import (
	"net/http"
	"net/url"
)

// Error pages speak to the person in front of them: a heading that says what
// happened, a sentence that says what to do, a way back to the application
// when it is known, and the OAuth error code only in small print for whoever
// they ask for help.

// Kinds of error page; each has the catalogue keys error.<kind>.title and
// error.<kind>.help.
const (
	pageExpired       = "expired"        // the interaction is gone or bound to another browser
	pageFormExpired   = "form_expired"   // a stale CSRF token
	pageNotFound      = "not_found"      // no such page
	pageDeviceExpired = "device_expired" // a device code used up or expired
	pageUnknownClient = "unknown_client"
	pageDenied        = "denied"
	pageServer        = "server"
	pageUnavailable   = "unavailable"
	pageBadRequest    = "bad_request" // anything else an application got wrong
)

// withPage returns a copy of e that shows as the given kind of error page.
func withPage(e *Error, kind string) *Error {
	c := *e
	c.page = kind
	return &c
}

func errFormExpired() *Error {
	return withPage(newError(http.StatusForbidden, ErrCodeInvalidRequest, "the form has expired; reload the page and try again"), pageFormExpired)
}

func errNoSuchPage() *Error {
	return withPage(newError(http.StatusNotFound, ErrCodeInvalidRequest, "no such page"), pageNotFound)
}

func errorPageKind(e *Error) string {
	if e.page != "" {
		return e.page
	}
	switch e.Code {
	case ErrCodeInvalidClient, ErrCodeUnauthorizedClient:
		return pageUnknownClient
	case ErrCodeAccessDenied:
		return pageDenied
	case ErrCodeServerError:
		return pageServer
	case ErrCodeTemporarilyUnavailable:
		return pageUnavailable
	case ErrCodeExpiredToken:
		return pageDeviceExpired
	}
	// A page address opened the wrong way (a GET of a form's target) is, to
	// a person, a page that is not there.
	if e.Status == http.StatusNotFound || e.Status == http.StatusMethodNotAllowed {
		return pageNotFound
	}
	return pageBadRequest
}

// renderError shows an error page when no client is known.
func (p *Provider) renderError(w http.ResponseWriter, r *http.Request, e *Error) {
	p.renderClientError(w, r, e, nil)
}

// renderClientError shows an error page; when the client is known, it
// offers the way back to it (see clientHomeURI).
func (p *Provider) renderClientError(w http.ResponseWriter, r *http.Request, e *Error, client *Client) {
	_, t := p.pageData(r, nil)
	kind := errorPageKind(e)
	data := map[string]any{
		"Code": e.Code, "Description": e.Description,
		"Title": t.Get("error." + kind + ".title"), "Help": t.Get("error." + kind + ".help"),
	}
	if client != nil {
		data["ClientName"] = clientName(client)
		if home := clientHomeURI(client); home != "" {
			data["BackURL"] = home
		}
	}
	p.render(w, r, p.pages.errorPage, e.Status, data)
}

// clientHomeURI is where "return to the application" leads: the client's
// client_uri (validated at registration), else, for a client the operator
// configured, the origin of its first web redirect URI. Never the
// redirect_uri of the failed request: that is exactly what could not be
// trusted.
func clientHomeURI(c *Client) string {
	if c.ClientURI != "" {
		if u, err := url.Parse(c.ClientURI); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil {
			return u.String()
		}
	}
	if c.dynamic {
		return ""
	}
	for _, ru := range c.RedirectURIs {
		u, err := url.Parse(ru)
		if err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil {
			return u.Scheme + "://" + u.Host + "/"
		}
	}
	return ""
}
