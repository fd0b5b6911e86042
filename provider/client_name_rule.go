package provider

import (
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// A client that registers itself (RFC 7591) may not take the name that a
// configured client shows on the consent page: under open registration
// anyone could otherwise get a consent page that reads exactly like the
// operator's own application (RFC 7591 §5 asks servers to guard against
// impersonation through client_name; RFC 8628 §5.4 is the device flow's
// version of the attack). Consent pages mark self-registered clients in
// any case (consentRequester), which also covers a client configured after
// a look-alike registered.
//
// Names are compared by skeleton (nameSkeleton), so near copies count as
// the same name.

// checkClientName refuses a registered client's name that looks like a
// configured client's or the service's own, or that shows nothing readable.
func (p *Provider) checkClientName(name string) *Error {
	if name == "" {
		return nil // the page then shows the client id, which is random
	}
	sk := nameSkeleton(name)
	if sk == "" {
		return errInvalidClientMetadata("client_name must contain visible characters")
	}
	taken := errInvalidClientMetadata("client_name is, or looks like, the name of this service or of an application configured on it; choose another name")
	// The service's own name (the pages' brand) would read as the operator
	// asking: "Example Login asks to ...".
	if p.pages != nil && p.pages.brand.Name != "" && nameSkeleton(p.pages.brand.Name) == sk {
		return taken
	}
	lister, ok := p.cfg.Clients.(clientLister)
	if !ok {
		return nil
	}
	for _, c := range lister.listClients() {
		if nameSkeleton(clientName(c)) == sk {
			// Which configured client it resembles is not said: the
			// caller may be probing the configuration.
			return taken
		}
	}
	return nil
}

// clientLister is a ClientStore that can list its clients; StaticClients
// (the configured clients) is one.
type clientLister interface {
	listClients() []*Client
}

func (s StaticClients) listClients() []*Client {
	out := make([]*Client, 0, len(s))
	for _, c := range s {
		out = append(out, c)
	}
	return out
}

// nameSkeleton reduces a name to what a reader can tell apart, in the
// spirit of the Unicode confusable skeleton (UTS #39 §4) but with the
// standard library and golang.org/x/text only:
//   - compatibility decomposition (NFKD): fullwidth and mathematical letters
//     become plain ones, ligatures are split, accents become separate marks;
//   - combining marks, format characters (zero-width space and joiners,
//     direction marks) and control characters are dropped;
//   - full Unicode case folding;
//   - Cyrillic and Greek letters that look like Latin ones become those,
//     and so do 0 (o), 1, i, | (l), rn (m) and vv (w);
//   - every run of white space becomes one space, and the ends are trimmed.
//
// It over-matches on purpose ("Mail" and "Mall" share a skeleton): a
// registration refused for a name that only looks like a configured one
// costs the registrant a rename, one let through costs users their accounts.
func nameSkeleton(name string) string {
	var b strings.Builder
	space := false
	for _, r := range cases.Fold().String(norm.NFKD.String(name)) {
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Cc):
			continue
		}
		if l, ok := lookAlikes[r]; ok {
			r = l
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return strings.NewReplacer("rn", "m", "vv", "w").Replace(b.String())
}

// lookAlikes maps case-folded characters to the Latin letter they are
// usually mistaken for (from UTS #39 confusables.txt, the common ones).
var lookAlikes = map[rune]rune{
	'0': 'o', '1': 'l', 'i': 'l', '|': 'l', 'ı': 'l',
	// Cyrillic
	'а': 'a', 'в': 'b', 'е': 'e', 'і': 'l', 'ј': 'j', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c',
	'т': 't', 'у': 'y', 'х': 'x', 'ѕ': 's', 'ԁ': 'd', 'ԛ': 'q', 'ԝ': 'w', 'һ': 'h', 'ӏ': 'l', 'ү': 'y', 'ь': 'b',
	// Greek
	'α': 'a', 'β': 'b', 'ε': 'e', 'η': 'n', 'ι': 'l', 'κ': 'k', 'μ': 'm', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't',
	'υ': 'u', 'χ': 'x', 'ζ': 'z', 'ϲ': 'c',
	// Latin
	'ɡ': 'g', 'ɑ': 'a',
}
