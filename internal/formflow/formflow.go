// Package formflow is the browser of tests that walk the provider's HTML
// pages (login, consent, device, logout): a client that keeps cookies and
// stops at every redirect, so that each step of a flow can be asserted; the
// reading of a page's POST forms (action and hidden inputs, the CSRF token
// among them); and the walk of an authorization request through the
// interaction pages up to the redirect back to the client.
//
// It is plain Go, net/http and golang.org/x/net/html: the provider's and the
// telemetry's tests both use it, and neither may depend on Caddy.
package formflow

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// CSRFField is the name of the hidden input that carries a page's CSRF token.
const CSRFField = "csrf_token"

// Response is an HTTP response read to the end.
type Response struct {
	URL    string // of the request
	Status int
	Header http.Header
	Body   string
}

// Location is the response's Location header resolved against the URL of
// the request, or "" when there is none.
func (r Response) Location() string {
	loc := r.Header.Get("Location")
	if loc == "" {
		return ""
	}
	return Resolve(r.URL, loc)
}

// Resolve resolves ref (an absolute URL, or a path such as a form's action)
// against base; it returns ref unchanged when either does not parse.
func Resolve(base, ref string) string {
	b, err := url.Parse(base)
	if err != nil {
		return ref
	}
	r, err := url.Parse(ref)
	if err != nil {
		return ref
	}
	return b.ResolveReference(r).String()
}

// StopAtRedirects is an http.Client CheckRedirect that hands every redirect
// back to the caller instead of following it.
func StopAtRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Do sends req with c and reads the whole response.
func Do(c *http.Client, req *http.Request) (Response, error) {
	resp, err := c.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, fmt.Errorf("reading the response to %s %s: %w", req.Method, req.URL, err)
	}
	return Response{URL: req.URL.String(), Status: resp.StatusCode, Header: resp.Header, Body: string(body)}, nil
}

// Browser is a user agent with a cookie jar that does not follow redirects.
type Browser struct {
	Client *http.Client
}

// New returns a Browser keeping its cookies in jar, or in a jar of its own
// when jar is nil.
func New(jar http.CookieJar) *Browser {
	if jar == nil {
		jar, _ = cookiejar.New(nil) // never fails without options
	}
	return &Browser{Client: &http.Client{Jar: jar, CheckRedirect: StopAtRedirects}}
}

// Do sends req and reads the whole response.
func (b *Browser) Do(req *http.Request) (Response, error) { return Do(b.Client, req) }

// Get fetches u.
func (b *Browser) Get(u string) (Response, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return Response{}, err
	}
	return b.Do(req)
}

// PostForm posts v to u as application/x-www-form-urlencoded, as a browser
// submits a form.
func (b *Browser) PostForm(u string, v url.Values) (Response, error) {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(v.Encode()))
	if err != nil {
		return Response{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.Do(req)
}

// Form is one POST form of a page.
type Form struct {
	Action string     // as the page writes it, HTML entities decoded
	Hidden url.Values // the form's hidden inputs
}

// CSRFToken is the form's CSRF token ("" when it has none).
func (f Form) CSRFToken() string { return f.Hidden.Get(CSRFField) }

// Forms returns the POST forms of an HTML page in document order.
func Forms(page string) []Form {
	var forms []Form
	var open *Form
	z := html.NewTokenizer(strings.NewReader(page))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return forms // io.EOF: the end of the page
		case html.StartTagToken, html.SelfClosingTagToken:
			t := z.Token()
			switch t.Data {
			case "form":
				if strings.EqualFold(attr(t, "method"), "post") {
					forms = append(forms, Form{Action: attr(t, "action"), Hidden: url.Values{}})
					open = &forms[len(forms)-1]
				} else {
					open = nil
				}
			case "input":
				if open != nil && strings.EqualFold(attr(t, "type"), "hidden") && attr(t, "name") != "" {
					open.Hidden.Add(attr(t, "name"), attr(t, "value"))
				}
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "form" {
				open = nil
			}
		}
	}
}

func attr(t html.Token, name string) string {
	for _, a := range t.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// ErrNoForm says a page has no POST form with an action and a CSRF token.
var ErrNoForm = errors.New("no POST form with a CSRF token on the page")

// FirstForm returns the first POST form of an interaction page, which must
// have an action and a CSRF token.
func FirstForm(page string) (Form, error) {
	forms := Forms(page)
	if len(forms) == 0 || forms[0].Action == "" || forms[0].CSRFToken() == "" {
		return Form{}, ErrNoForm
	}
	return forms[0], nil
}

// Answer fills in one interaction page: given the page and its first POST
// form, it returns the fields to submit. They are posted to the form's
// action together with the form's hidden inputs (a returned field replaces
// a hidden one of the same name). An error ends the walk.
type Answer func(page Response, form Form) (url.Values, error)

// Authorize sends the authorization request authURL and follows the
// provider's redirects to its interaction pages (the URLs starting with
// interactionPrefix), answering each page's first form with answer, for at
// most maxPages pages. It returns the first response that is not a 303 to
// an interaction page: normally the authorization response, a redirect to
// the client.
func (b *Browser) Authorize(authURL, interactionPrefix string, maxPages int, answer Answer) (Response, error) {
	r, err := b.Get(authURL)
	if err != nil {
		return Response{}, err
	}
	for pages := 0; r.Status == http.StatusSeeOther && strings.HasPrefix(r.Location(), interactionPrefix); pages++ {
		if pages == maxPages {
			return r, fmt.Errorf("still on the interaction pages after %d of them, at %s", maxPages, r.Location())
		}
		page, err := b.Get(r.Location())
		if err != nil {
			return Response{}, err
		}
		form, err := FirstForm(page.Body)
		if err != nil {
			return page, fmt.Errorf("interaction page %s (status %d): %w", page.URL, page.Status, err)
		}
		fields, err := answer(page, form)
		if err != nil {
			return page, err
		}
		post := url.Values{}
		for k, v := range form.Hidden {
			post[k] = v
		}
		for k, v := range fields {
			post[k] = v
		}
		if r, err = b.PostForm(Resolve(page.URL, form.Action), post); err != nil {
			return Response{}, err
		}
	}
	return r, nil
}
