package provider

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// privateAllowList is the operator's exception to the public-only rule for
// registered clients' URLs (RegistrationConfig.AllowPrivateHosts): host
// names that may be reached whatever they resolve to, and networks whose
// addresses may be reached whatever name led there.
type privateAllowList struct {
	hosts    []string // lower case, without a trailing dot
	networks []netip.Prefix
}

// CheckAllowPrivateHosts validates RegistrationConfig.AllowPrivateHosts, so
// that the Caddy module can report a bad entry with its file and line.
func CheckAllowPrivateHosts(entries []string) error {
	_, err := parsePrivateAllowList(entries)
	return err
}

// parsePrivateAllowList reads entries of three forms: a host name
// ("app", "internal.example"), an IP address ("10.1.2.3"), or a network
// in CIDR notation ("10.0.0.0/8", "fd00::/8").
func parsePrivateAllowList(entries []string) (*privateAllowList, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	l := &privateAllowList{}
	for _, e := range entries {
		if strings.Contains(e, "/") {
			pfx, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("allow_private_hosts: %q is not a network in CIDR notation (e.g. 10.0.0.0/8)", e)
			}
			if pfx.Bits() == 0 {
				// Would switch the protection off for every address.
				return nil, fmt.Errorf("allow_private_hosts: %q allows every address; list the private networks the applications use", e)
			}
			l.networks = append(l.networks, pfx.Masked())
			continue
		}
		if a, err := netip.ParseAddr(e); err == nil {
			a = a.Unmap()
			l.networks = append(l.networks, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		host := normalizeHost(e)
		if !isHostName(host) {
			return nil, fmt.Errorf("allow_private_hosts: %q is neither a host name, an IP address nor a network (no scheme, port or wildcard)", e)
		}
		if !slices.Contains(l.hosts, host) {
			l.hosts = append(l.hosts, host)
		}
	}
	return l, nil
}

// normalizeHost makes host names comparable: DNS names are
// case-insensitive, and "app." is "app".
func normalizeHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// isHostName accepts DNS names made of letters, digits, hyphens and dots
// (RFC 1123 §2.1), with no empty label.
func isHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// allowsHost reports whether a URL's host is listed by name, or is an IP
// address inside a listed network.
func (l *privateAllowList) allowsHost(host string) bool {
	if l == nil {
		return false
	}
	host = normalizeHost(host)
	if slices.Contains(l.hosts, host) {
		return true
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return l.allowsAddr(a)
	}
	return false
}

// allowsAddr reports whether a dialled address is inside a listed network.
func (l *privateAllowList) allowsAddr(a netip.Addr) bool {
	if l == nil {
		return false
	}
	a = a.Unmap()
	for _, p := range l.networks {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// isPrivateHost reports whether a URL's host names a non-public place
// without any DNS lookup: a non-public IP literal, or localhost. Other names
// are checked when dialled.
func isPrivateHost(host string) bool {
	host = normalizeHost(host)
	if host == "localhost" || strings.HasSuffix(host, ".localhost") { // RFC 6761 §6.3
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && !isPublicIP(ip)
}
