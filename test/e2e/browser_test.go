package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// browser is an http.Client with a cookie jar that performs the provider's
// interactive login the way a user's browser would: it follows redirects,
// fills in the login form, answers the consent form, and stops at the
// relying party's redirect_uri.
type browser struct {
	t      *testing.T
	client *http.Client
	// stopAt is the redirect_uri of the flow in progress.
	stopAt string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t}
	b.client = &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if b.stopAt != "" && strings.HasPrefix(req.URL.String(), b.stopAt) {
				return http.ErrUseLastResponse
			}
			if len(via) >= 10 {
				return fmt.Errorf("stopped after %d redirects", len(via))
			}
			return nil
		},
	}
	return b
}

// loginResult is where the provider sent the browser in the end.
type loginResult struct {
	Code, State string
	// Error and ErrorDescription are set when the provider redirected back
	// with an OAuth error.
	Error, ErrorDescription string
	// Pages lists the interaction pages shown on the way ("login",
	// "consent").
	Pages []string
}

func (r loginResult) saw(page string) bool {
	for _, p := range r.Pages {
		if p == page {
			return true
		}
	}
	return false
}

// user is what the browser's user types and clicks.
type user struct {
	Login, Password string
	// Decision is the consent button pressed: "allow" or "deny".
	Decision string
	// OTP types the code of the second-factor page; nil: a user who
	// expects no such page (meeting one fails the test).
	OTP func() string
}

// authorize opens authURL and plays the user until the provider redirects
// to redirectURI.
func (b *browser) authorize(ctx context.Context, authURL, redirectURI string, u user) loginResult {
	b.t.Helper()
	b.stopAt = redirectURI
	defer func() { b.stopAt = "" }()

	var res loginResult
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for step := 0; step < 6; step++ {
		resp, err := b.client.Do(req)
		if err != nil {
			b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()

		if loc := resp.Header.Get("Location"); isRedirect(resp.StatusCode) && strings.HasPrefix(loc, redirectURI) {
			back, err := url.Parse(loc)
			if err != nil {
				b.t.Fatal(err)
			}
			q := back.Query()
			res.Code, res.State = q.Get("code"), q.Get("state")
			res.Error, res.ErrorDescription = q.Get("error"), q.Get("error_description")
			return res
		}
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			b.t.Fatalf("%s %s: unexpected %s (%s):\n%s", req.Method, req.URL, resp.Status, resp.Header.Get("Content-Type"), body)
		}
		forms, err := parseForms(resp.Request.URL, body)
		if err != nil {
			b.t.Fatalf("parsing %s: %v", resp.Request.URL, err)
		}
		switch f := pickForm(forms); {
		case f == nil:
			b.t.Fatalf("page %s has no login or consent form:\n%s", resp.Request.URL, body)
		case strings.HasSuffix(f.Action.Path, "/login"):
			res.Pages = append(res.Pages, "login")
			f.Values.Set("login", u.Login)
			f.Values.Set("password", u.Password)
			req = f.request(ctx, b.t)
		case strings.HasSuffix(f.Action.Path, "/otp"):
			res.Pages = append(res.Pages, "otp")
			if u.OTP == nil {
				b.t.Fatalf("%s was asked for a one-time code", u.Login)
			}
			f.Values.Set("otp", u.OTP())
			req = f.request(ctx, b.t)
		case strings.HasSuffix(f.Action.Path, "/consent"):
			res.Pages = append(res.Pages, "consent")
			if !f.hasButton("decision", u.Decision) {
				b.t.Fatalf("consent form has no decision=%q button: %+v", u.Decision, f.Buttons)
			}
			f.Values.Set("decision", u.Decision)
			req = f.request(ctx, b.t)
		}
	}
	b.t.Fatalf("no redirect to %s after several pages (%v)", redirectURI, res.Pages)
	return res
}

func isRedirect(status int) bool { return status >= 300 && status < 400 }

// form is one parsed HTML form: its absolute action, the values of its
// hidden and text inputs, and its named submit buttons.
type form struct {
	Method  string
	Action  *url.URL
	Values  url.Values
	Buttons []button
}

type button struct{ Name, Value string }

func (f *form) hasButton(name, value string) bool {
	for _, b := range f.Buttons {
		if b.Name == name && b.Value == value {
			return true
		}
	}
	return false
}

func (f *form) request(ctx context.Context, t *testing.T) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.Action.String(), strings.NewReader(f.Values.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// pickForm chooses the form the user acts on: the login or consent form,
// not e.g. the page's cancel form.
func pickForm(forms []*form) *form {
	for _, f := range forms {
		if strings.EqualFold(f.Method, http.MethodPost) &&
			(strings.HasSuffix(f.Action.Path, "/login") || strings.HasSuffix(f.Action.Path, "/otp") || strings.HasSuffix(f.Action.Path, "/consent")) {
			return f
		}
	}
	return nil
}

// parseForms reads every <form> of an HTML page generically, so the test
// depends on the form contract (action, field names), not on the markup.
func parseForms(page *url.URL, body []byte) ([]*form, error) {
	doc, err := html.Parse(strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	var forms []*form
	var current *form
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				action, err := page.Parse(attr(n, "action"))
				if err != nil {
					action = page
				}
				current = &form{Method: attr(n, "method"), Action: action, Values: url.Values{}}
				forms = append(forms, current)
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
				current = nil
				return
			case "input":
				if current != nil && attr(n, "name") != "" {
					switch strings.ToLower(attr(n, "type")) {
					case "submit", "button", "image", "reset":
					default:
						current.Values.Set(attr(n, "name"), attr(n, "value"))
					}
				}
			case "button":
				if current != nil && attr(n, "name") != "" {
					current.Buttons = append(current.Buttons, button{attr(n, "name"), attr(n, "value")})
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return forms, nil
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}
