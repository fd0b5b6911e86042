package provider

import (
	"fmt"
	"net/url"
	"strings"
)

// The rules for the URLs an operator configures for a client. Registered
// clients' URLs are checked at registration instead (checkWebURI and the
// outbound allow-list), which also refuse private hosts unless allowed.

// CheckJWKSURI: keys decide who the client is, so they are fetched over
// https only (RFC 7591 §2 jwks_uri; OIDC Core §10.1.1).
func CheckJWKSURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("jwks_uri must be an absolute https URL without fragment, got %q", raw)
	}
	return nil
}

// CheckBackchannelLogoutURI: https, or http on a loopback host, without
// fragment (Back-Channel Logout 1.0 §2.2).
func CheckBackchannelLogoutURI(raw string) error {
	u, err := url.Parse(raw)
	bad := err != nil || u.Host == "" || u.Fragment != "" || strings.Contains(raw, "#")
	if !bad {
		switch u.Scheme {
		case "https":
		case "http":
			bad = !isLoopback(u.Hostname())
		default:
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("backchannel_logout_uri must be an absolute https URL (http only on a loopback host) without fragment, got %q", raw)
	}
	return nil
}
