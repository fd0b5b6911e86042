package provider

import "testing"

// Names that read the same have one skeleton; names that read differently
// keep theirs apart.
func TestNameSkeletonFoldsLookAlikes(t *testing.T) {
	t.Parallel()
	same := [][2]string{
		{"Web App", "web app"},
		{"Web App", " Web \t App\n"},
		{"Web App", "Ｗｅｂ　Ａｐｐ"},           // fullwidth, ideographic space
		{"Web App", "W\u0435b \u0410pp"}, // Cyrillic
		{"Web App", "Web\u200b \u2060App\u200e"},
		{"Web App", "Wéb Äpp"},
		{"Office", "Oﬃce"}, // ligature
		{"PayPal", "PayPaI"},
		{"PayPal", "PayPa1"},
		{"Modern", "Modem"},
		{"Straße", "STRASSE"}, // full case folding
		{"Google", "G00gle"},
	}
	for _, c := range same {
		if a, b := nameSkeleton(c[0]), nameSkeleton(c[1]); a != b {
			t.Errorf("%q → %q and %q → %q differ", c[0], a, c[1], b)
		}
	}
	different := [][2]string{{"Web App", "Web Apps"}, {"Web App", "WebApp"}, {"Kitchen", "Kitchens"}, {"TV", "TW"}}
	for _, c := range different {
		if nameSkeleton(c[0]) == nameSkeleton(c[1]) {
			t.Errorf("%q and %q share the skeleton %q", c[0], c[1], nameSkeleton(c[0]))
		}
	}
	for _, invisible := range []string{"\u200b", " \u200d ", "\u0301"} {
		if s := nameSkeleton(invisible); s != "" {
			t.Errorf("%q has the visible skeleton %q", invisible, s)
		}
	}
}
