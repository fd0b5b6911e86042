package formflow

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// fakeProvider redirects an authorization request to a login page, the
// login to a consent page and the consent to the client, checking the CSRF
// token of each form (a cookie and a hidden input must agree, as in the
// provider) and counting the posts.
func fakeProvider(t *testing.T) (*httptest.Server, *[]string) {
	t.Helper()
	var posts []string
	mux := http.NewServeMux()
	page := func(w http.ResponseWriter, action string) {
		http.SetCookie(w, &http.Cookie{Name: "csrf", Value: "c-" + action, Path: "/"})
		fmt.Fprintf(w, `<form method="post" action="%s"><input type="hidden" name="csrf_token" value="c-%s"><input type="hidden" name="step" value="%s"></form>`, action, action, action)
	}
	checked := func(w http.ResponseWriter, r *http.Request) bool {
		c, err := r.Cookie("csrf")
		if err != nil || r.PostFormValue("csrf_token") != c.Value {
			http.Error(w, "csrf", http.StatusForbidden)
			return false
		}
		posts = append(posts, r.URL.Path+"?"+r.PostForm.Encode())
		return true
	}
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/interaction/u1", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /interaction/u1", func(w http.ResponseWriter, r *http.Request) { page(w, "u1/login") })
	mux.HandleFunc("POST /interaction/u1/login", func(w http.ResponseWriter, r *http.Request) {
		if checked(w, r) {
			http.Redirect(w, r, "/interaction/u2", http.StatusSeeOther)
		}
	})
	mux.HandleFunc("GET /interaction/u2", func(w http.ResponseWriter, r *http.Request) { page(w, "/interaction/u2/consent") })
	mux.HandleFunc("POST /interaction/u2/consent", func(w http.ResponseWriter, r *http.Request) {
		if checked(w, r) {
			http.Redirect(w, r, "https://rp.example/cb?code=the-code", http.StatusSeeOther)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &posts
}

func TestAuthorizeWalksTheInteractionPagesToTheClient(t *testing.T) {
	srv, posts := fakeProvider(t)
	var seen []string
	r, err := New(nil).Authorize(srv.URL+"/authorize", srv.URL+"/interaction/", 4, func(page Response, form Form) (url.Values, error) {
		seen = append(seen, form.Action)
		if strings.HasSuffix(form.Action, "/login") {
			return url.Values{"login": {"alice"}, "step": {"answered"}}, nil
		}
		return url.Values{"decision": {"allow"}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusSeeOther || r.Location() != "https://rp.example/cb?code=the-code" {
		t.Fatalf("walk ended with %d to %q, want the redirect to the client", r.Status, r.Location())
	}
	if want := []string{"u1/login", "/interaction/u2/consent"}; strings.Join(seen, " ") != strings.Join(want, " ") {
		t.Errorf("answered forms %v, want %v", seen, want)
	}
	// The hidden inputs are posted; an answer's field replaces a hidden one.
	want := []string{
		"/interaction/u1/login?csrf_token=c-u1%2Flogin&login=alice&step=answered",
		"/interaction/u2/consent?csrf_token=c-%2Finteraction%2Fu2%2Fconsent&decision=allow&step=%2Finteraction%2Fu2%2Fconsent",
	}
	if strings.Join(*posts, " ") != strings.Join(want, " ") {
		t.Errorf("posted\n %v\nwant\n %v", *posts, want)
	}
}

func TestAuthorizeStopsOnAnAnswerErrorAndAfterMaxPages(t *testing.T) {
	srv, _ := fakeProvider(t)
	refuse := errors.New("unexpected page")
	if _, err := New(nil).Authorize(srv.URL+"/authorize", srv.URL+"/interaction/", 4, func(Response, Form) (url.Values, error) {
		return nil, refuse
	}); !errors.Is(err, refuse) {
		t.Errorf("answer's error: got %v", err)
	}
	r, err := New(nil).Authorize(srv.URL+"/authorize", srv.URL+"/interaction/", 1, func(Response, Form) (url.Values, error) {
		return url.Values{}, nil
	})
	if err == nil || !strings.Contains(r.Location(), "/interaction/u2") {
		t.Errorf("one page allowed, two shown: %d %q, %v; want an error at the second", r.Status, r.Location(), err)
	}
}
