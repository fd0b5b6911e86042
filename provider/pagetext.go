package provider

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The pages' words live in message catalogues, one JSON file per language
// (templates/messages/<lang>.json: a flat object of key → text, with named
// placeholders such as {client}). English is the reference: every key it has
// must exist in every built-in catalogue (TestMessageCataloguesAreComplete),
// and a key an operator's catalogue lacks falls back to English.
//
// An operator adds a language, or rewords one, by putting <lang>.json in the
// messages folder of the `templates` directory; its keys are laid over the
// built-in catalogue of that language, if any.

const defaultLanguage = "en"

// languageTag is the file-name form of a BCP 47 tag this provider accepts:
// lower-case letters, digits and hyphens ("en", "pt-br").
var languageTag = regexp.MustCompile(`^[a-z]{2,3}(-[a-z0-9]{2,8})*$`)

// catalogues holds every language's messages, English included.
type catalogues map[string]map[string]string

func loadCatalogues(builtin fs.FS, dir string) (catalogues, error) {
	cats := catalogues{}
	read := func(fsys fs.FS, path, name string) error {
		lang := strings.ToLower(strings.TrimSuffix(name, ".json"))
		if !languageTag.MatchString(lang) {
			return fmt.Errorf("message catalogue %s: the file name must be a language tag such as de.json or pt-br.json", path)
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return fmt.Errorf("message catalogue %s: %w", path, err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("message catalogue %s: %w", path, err)
		}
		if cats[lang] == nil {
			cats[lang] = map[string]string{}
		}
		for k, v := range m {
			cats[lang][k] = v
		}
		return nil
	}
	entries, err := fs.ReadDir(builtin, "templates/messages")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if err := read(builtin, "templates/messages/"+e.Name(), e.Name()); err != nil {
			return nil, err
		}
	}
	if dir != "" {
		own := filepath.Join(dir, "messages")
		entries, err := os.ReadDir(own)
		if err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("message catalogues %s: %w", own, err)
		}
		for _, e := range entries {
			if e.IsDir() || filepath.Ext(e.Name()) != ".json" {
				continue
			}
			if err := read(os.DirFS(own), e.Name(), e.Name()); err != nil {
				return nil, fmt.Errorf("%w (in %s)", err, own)
			}
		}
	}
	if cats[defaultLanguage] == nil {
		return nil, fmt.Errorf("message catalogues: English (en.json) is missing")
	}
	// A placeholder English does not fill would show as "{name}" on the
	// page: refuse it at load, when the operator can still fix it. Keys
	// English lacks are fine (an operator's own templates may use them).
	for _, lang := range cats.languages() {
		for key, text := range cats[lang] {
			en, ok := cats[defaultLanguage][key]
			if !ok {
				continue
			}
			for _, ph := range placeholderPattern.FindAllString(text, -1) {
				if !strings.Contains(en, ph) {
					return nil, fmt.Errorf("message catalogue %s.json: %q uses %s, which the page does not fill (English: %q)", lang, key, ph, en)
				}
			}
		}
	}
	return cats, nil
}

// placeholderPattern is a {name} in a message.
var placeholderPattern = regexp.MustCompile(`\{[a-z_]+\}`)

// negotiate picks the language of a page from Accept-Language (RFC 9110
// §12.5.4): the highest q-value first, the order of the header among equals;
// "de-CH" is served by "de" when there is no "de-ch"; "*" and no match mean
// English.
func (c catalogues) negotiate(acceptLanguage string) string {
	type choice struct {
		tag   string
		q     float64
		index int
	}
	var choices []choice
	for i, part := range strings.Split(acceptLanguage, ",") {
		if i >= 32 { // a hostile header does not make us sort forever
			break
		}
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		if tag == "" || q == 0 {
			continue
		}
		choices = append(choices, choice{tag, q, i})
	}
	sort.SliceStable(choices, func(a, b int) bool { return choices[a].q > choices[b].q })
	for _, ch := range choices {
		if ch.tag == "*" {
			return defaultLanguage
		}
		for tag := ch.tag; tag != ""; {
			if _, ok := c[tag]; ok {
				return tag
			}
			i := strings.LastIndexByte(tag, '-')
			if i < 0 {
				break
			}
			tag = tag[:i]
		}
	}
	return defaultLanguage
}

// languages lists the available languages, for documentation and tests.
func (c catalogues) languages() []string {
	langs := make([]string, 0, len(c))
	for l := range c {
		langs = append(langs, l)
	}
	slices.Sort(langs)
	return langs
}

// translator gives a page its words in one language. Templates use it as
// {{.T.Get "key"}}, {{.T.Format "key" "name" value …}} (plain text, escaped
// by html/template) and {{.T.Em "key" "name" value …}} (the values set in
// <strong>, everything escaped).
type translator struct {
	lang     string
	msgs     map[string]string
	fallback map[string]string
}

func (c catalogues) translator(lang string) translator {
	return translator{lang: lang, msgs: c[lang], fallback: c[defaultLanguage]}
}

// Lang is the page's language tag, for <html lang>.
func (t translator) Lang() string { return t.lang }

// Get returns the text of key; an unknown key shows as itself, so a typo in a
// template is visible rather than silent.
func (t translator) Get(key string) string {
	if s, ok := t.msgs[key]; ok {
		return s
	}
	if s, ok := t.fallback[key]; ok {
		return s
	}
	return key
}

// Format fills the {name} placeholders of key with the given name/value pairs.
func (t translator) Format(key string, pairs ...any) string {
	s := t.Get(key)
	for i := 0; i+1 < len(pairs); i += 2 {
		s = strings.ReplaceAll(s, "{"+fmt.Sprint(pairs[i])+"}", fmt.Sprint(pairs[i+1]))
	}
	return s
}

// Em is Format with each value in <strong>: the message and the values are
// escaped first, so neither a catalogue nor a client's name can inject markup.
func (t translator) Em(key string, pairs ...any) template.HTML {
	s := template.HTMLEscapeString(t.Get(key))
	for i := 0; i+1 < len(pairs); i += 2 {
		v := "<strong>" + template.HTMLEscapeString(fmt.Sprint(pairs[i+1])) + "</strong>"
		s = strings.ReplaceAll(s, "{"+template.HTMLEscapeString(fmt.Sprint(pairs[i]))+"}", v)
	}
	return template.HTML(s)
}

// Duration says how long to wait, rounded up to whole seconds or minutes.
func (t translator) Duration(d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second)
	if s < 60 {
		if s <= 1 {
			return t.Get("duration.one_second")
		}
		return t.Format("duration.seconds", "n", s)
	}
	m := (s + 59) / 60
	if m == 1 {
		return t.Get("duration.one_minute")
	}
	return t.Format("duration.minutes", "n", m)
}
