package provider

import (
	"fmt"
	"net/url"
	"strings"
)

// validateRedirectURI checks a registered redirect URI: absolute, no fragment
// (RFC 6749 §3.1.2), and not a scheme that executes in the browser.
func validateRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("redirect URI %q does not parse", raw)
	}
	if !u.IsAbs() {
		return fmt.Errorf("redirect URI %q must be absolute", raw)
	}
	if u.Fragment != "" || u.RawFragment != "" || containsByte(raw, '#') {
		return fmt.Errorf("redirect URI %q must not contain a fragment", raw)
	}
	switch strings.ToLower(u.Scheme) {
	case "javascript", "data", "vbscript", "file", "about", "blob", "filesystem":
		return fmt.Errorf("redirect URI %q uses a forbidden scheme", raw)
	case "http", "https":
		if u.Host == "" {
			return fmt.Errorf("redirect URI %q has no host", raw)
		}
	}
	return nil
}

func containsByte(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}
