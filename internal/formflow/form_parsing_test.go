package formflow

import (
	"errors"
	"net/url"
	"reflect"
	"testing"
)

// A page shaped like the provider's login page: the first POST form is the
// login, a second one cancels; a search form uses GET.
const loginPage = `<!DOCTYPE html><html><body>
<form action="/search"><input type="hidden" name="q" value="not-this"></form>
<form method="post" action="/interaction/abc/login?x=1&amp;y=2" aria-describedby="form-error">
  <input type="hidden" name="csrf_token" value="tok&amp;en-1">
  <input id="login" name="login" type="text" value="alice">
  <input type="hidden" name="extra" value="a"><input type="hidden" name="extra" value="b">
  <input type="password" name="password">
  <button type="submit" name="decision" value="allow">Go</button>
</form>
<form method="POST" action="/interaction/abc/abort" class="secondary">
  <input value="tok-2" name="csrf_token" type="HIDDEN"/>
</form>
<input type="hidden" name="outside" value="no form">
</body></html>`

func TestFormsReadsPostFormsWithTheirHiddenInputs(t *testing.T) {
	forms := Forms(loginPage)
	want := []Form{
		{Action: "/interaction/abc/login?x=1&y=2", Hidden: url.Values{"csrf_token": {"tok&en-1"}, "extra": {"a", "b"}}},
		{Action: "/interaction/abc/abort", Hidden: url.Values{"csrf_token": {"tok-2"}}},
	}
	if !reflect.DeepEqual(forms, want) {
		t.Fatalf("Forms:\n got %#v\nwant %#v", forms, want)
	}
	first, err := FirstForm(loginPage)
	if err != nil || first.Action != want[0].Action || first.CSRFToken() != "tok&en-1" {
		t.Fatalf("FirstForm = %#v, %v; want the login form with its decoded CSRF token", first, err)
	}
}

func TestFirstFormRefusesPagesWithoutAUsableForm(t *testing.T) {
	for name, page := range map[string]string{
		"no form":          `<html><body><p>Something went wrong</p></body></html>`,
		"only a GET form":  `<form action="/x"><input type="hidden" name="csrf_token" value="t"></form>`,
		"no CSRF token":    `<form method="post" action="/x"><input type="hidden" name="other" value="t"></form>`,
		"no action":        `<form method="post"><input type="hidden" name="csrf_token" value="t"></form>`,
		"token after form": `<form method="post" action="/x"></form><input type="hidden" name="csrf_token" value="t">`,
	} {
		if f, err := FirstForm(page); !errors.Is(err, ErrNoForm) {
			t.Errorf("%s: FirstForm = %#v, %v; want ErrNoForm", name, f, err)
		}
	}
}

func TestResolve(t *testing.T) {
	for _, c := range []struct{ base, ref, want string }{
		{"http://127.0.0.1:5/authorize?a=b", "/interaction/u1", "http://127.0.0.1:5/interaction/u1"},
		{"http://127.0.0.1:5/oidc/interaction/u1", "u1/login", "http://127.0.0.1:5/oidc/interaction/u1/login"},
		{"http://127.0.0.1:5/x", "https://rp.example/cb?code=c", "https://rp.example/cb?code=c"},
	} {
		if got := Resolve(c.base, c.ref); got != c.want {
			t.Errorf("Resolve(%q, %q) = %q, want %q", c.base, c.ref, got, c.want)
		}
	}
}
