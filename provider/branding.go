package provider

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Branding is what an operator can change on the pages without copying the
// templates: the service's name, a logo and the primary colour.
type Branding struct {
	// Name of the service, shown on every page and in the titles. Default:
	// the issuer's host name.
	Name string
	// LogoURL is a path on this site ("/logo.svg") or an https URL; the
	// pages' Content-Security-Policy then allows images from that origin.
	LogoURL string
	// PrimaryColor colours the main buttons: "#rgb" or "#rrggbb". Button
	// text is black or white, whichever contrasts more.
	PrimaryColor string
}

const maxBrandNameLen = 100

// hexColor is the only colour syntax accepted: it goes into a stylesheet, so
// nothing but these characters can ever reach it.
var hexColor = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// cspHost is what a logo's host may look like: it is written into the CSP.
var cspHost = regexp.MustCompile(`^[A-Za-z0-9.-]+(:[0-9]{1,5})?$`)

// Validate checks the branding; the Caddyfile adapter reports its errors
// with the line they came from.
func (b Branding) Validate() error {
	_, err := b.validate()
	return err
}

// validate checks the branding and returns the origin to allow in img-src
// ("" for a logo on this site).
func (b *Branding) validate() (imgOrigin string, err error) {
	if len(b.Name) > maxBrandNameLen {
		return "", fmt.Errorf("branding name is longer than %d bytes", maxBrandNameLen)
	}
	if strings.ContainsAny(b.Name, "\r\n\t") {
		return "", fmt.Errorf("branding name must be one line")
	}
	if b.PrimaryColor != "" && !hexColor.MatchString(b.PrimaryColor) {
		return "", fmt.Errorf("branding primary_color must be #rgb or #rrggbb, got %q", b.PrimaryColor)
	}
	if b.LogoURL == "" {
		return "", nil
	}
	u, err := url.Parse(b.LogoURL)
	if err != nil || u.User != nil || u.Fragment != "" || strings.ContainsAny(b.LogoURL, " \"'<>\\;,") {
		return "", fmt.Errorf("branding logo_url %q is not a usable URL", b.LogoURL)
	}
	switch {
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(b.LogoURL, "//"):
		return "", nil
	case u.Scheme == "https" && cspHost.MatchString(u.Host):
		return "https://" + u.Host, nil
	}
	return "", fmt.Errorf("branding logo_url must be a path on this site (/logo.svg) or an https URL, got %q", b.LogoURL)
}

// stylesheet is brand.css: the primary colour as CSS custom properties that
// oidcaddy.css uses. A stylesheet served from this origin, not inline style,
// so the CSP can keep style-src 'self'.
func (b *Branding) stylesheet() []byte {
	if b.PrimaryColor == "" {
		return []byte("/* no primary_color configured */\n")
	}
	r, g, bl := parseHexColor(b.PrimaryColor)
	bg := relativeLuminance(r, g, bl)
	// WCAG 2.x contrast of white and of black text on the colour.
	onPrimary := "#ffffff"
	if (bg+0.05)/(0+0.05) > (1+0.05)/(bg+0.05) {
		onPrimary = "#000000"
	}
	// Loaded after oidcaddy.css, so it wins over both schemes' defaults.
	return fmt.Appendf(nil, ":root {\n  --primary: %s;\n  --on-primary: %s;\n}\n", b.PrimaryColor, onPrimary)
}

// version is a short hash of the stylesheet for its URL, so a changed
// colour is not hidden by a cached brand.css.
func (b *Branding) version() string {
	sum := sha256.Sum256(b.stylesheet())
	return hex.EncodeToString(sum[:4])
}

func parseHexColor(s string) (r, g, b uint8) {
	s = strings.TrimPrefix(s, "#")
	if len(s) == 3 {
		s = string([]byte{s[0], s[0], s[1], s[1], s[2], s[2]})
	}
	v, _ := strconv.ParseUint(s, 16, 32)
	return uint8(v >> 16), uint8(v >> 8), uint8(v)
}

// relativeLuminance is WCAG 2.x's, of an sRGB colour.
func relativeLuminance(r, g, b uint8) float64 {
	lin := func(c uint8) float64 {
		v := float64(c) / 255
		if v <= 0.03928 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}
