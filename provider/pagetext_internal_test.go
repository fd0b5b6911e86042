package provider

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// Every built-in catalogue has exactly the keys English has, with the same
// placeholders, so no page ever shows a half-translated sentence or a
// missing value.
func TestMessageCataloguesAreComplete(t *testing.T) {
	t.Parallel()
	cats, err := loadCatalogues(builtinTemplates, "")
	if err != nil {
		t.Fatal(err)
	}
	en := cats[defaultLanguage]
	if len(cats) < 3 {
		t.Fatalf("languages %v: want English and at least two more", cats.languages())
	}
	for _, s := range supportedScopes {
		if en["scope."+s] == "" {
			t.Errorf("no consent text scope.%s", s)
		}
	}
	for lang, msgs := range cats {
		for key, text := range en {
			tr, ok := msgs[key]
			if !ok || strings.TrimSpace(tr) == "" {
				t.Errorf("%s.json lacks %q", lang, key)
				continue
			}
			want, got := placeholderPattern.FindAllString(text, -1), placeholderPattern.FindAllString(tr, -1)
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(want, got) {
				t.Errorf("%s.json %q has placeholders %v, English has %v", lang, key, got, want)
			}
		}
		for key := range msgs {
			if _, ok := en[key]; !ok {
				t.Errorf("%s.json has %q, which English does not", lang, key)
			}
		}
	}
}

func TestAcceptLanguageNegotiation(t *testing.T) {
	t.Parallel()
	cats := catalogues{"en": {}, "de": {}, "fr": {}, "pt-br": {}}
	for header, want := range map[string]string{
		"":                                 "en",
		"de":                               "de",
		"de-CH":                            "de",
		"DE-at, en;q=0.5":                  "de",
		"fr-CA;q=0.9, de;q=0.8":            "fr",
		"en;q=0.4, fr;q=0.9, de;q=0.8":     "fr",
		"de;q=0.5, fr;q=0.5":               "de", // equal q: the header's order
		"xx, de;q=0.1":                     "de",
		"xx, yy":                           "en",
		"*":                                "en",
		"de;q=0, fr":                       "fr",
		"de;q=abc, fr;q=0.2":               "fr", // a malformed entry is skipped
		"pt-BR":                            "pt-br",
		"pt":                               "en", // no plain "pt"
		"it;q=1.5, fr;q=0.1":               "fr",
		strings.Repeat("xx, ", 100) + "de": "en", // only the first 32 entries count
	} {
		if got := cats.negotiate(header); got != want {
			t.Errorf("Accept-Language %q: %s, want %s", header, got, want)
		}
	}
}

func TestTranslatorEscapesAndFormats(t *testing.T) {
	t.Parallel()
	tr := catalogues{"en": {"k": "Sign in to {client} & go", "duration.seconds": "{n} seconds", "duration.one_minute": "1 minute", "duration.minutes": "{n} minutes"}}.translator("en")
	if got := string(tr.Em("k", "client", "<b>x</b>")); got != "Sign in to <strong>&lt;b&gt;x&lt;/b&gt;</strong> &amp; go" {
		t.Errorf("Em: %s", got)
	}
	if got := tr.Format("k", "client", "App"); got != "Sign in to App & go" {
		t.Errorf("Format: %s", got)
	}
	if got := tr.Get("missing.key"); got != "missing.key" {
		t.Errorf("unknown key: %s", got)
	}
	for d, want := range map[time.Duration]string{10 * time.Second: "10 seconds", 60 * time.Second: "1 minute", 61 * time.Second: "2 minutes"} {
		if got := tr.Duration(d); got != want {
			t.Errorf("Duration(%s) = %s, want %s", d, got, want)
		}
	}
}

// The way back from an error page is the client's client_uri, or for a
// configured client the origin of a web redirect URI; never anything for a
// registered client without client_uri, and never a non-web scheme.
func TestClientHomeURI(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		client Client
		want   string
	}{
		{Client{ClientURI: "https://app.example/home"}, "https://app.example/home"},
		{Client{RedirectURIs: []string{"https://app.example/cb?x=1"}}, "https://app.example/"},
		{Client{RedirectURIs: []string{"com.example.app:/cb", "http://localhost:8080/cb"}}, "http://localhost:8080/"},
		{Client{RedirectURIs: []string{"com.example.app:/cb"}}, ""},
		{Client{RedirectURIs: []string{"https://app.example/cb"}, dynamic: true}, ""},
		{Client{ClientURI: "https://app.example/", RedirectURIs: []string{"https://other.example/cb"}, dynamic: true}, "https://app.example/"},
		{Client{ClientURI: "javascript:alert(1)"}, ""},
	} {
		if got := clientHomeURI(&c.client); got != c.want {
			t.Errorf("%+v: %q, want %q", c.client, got, c.want)
		}
	}
}
