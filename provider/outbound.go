package provider

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Outbound requests go to URLs a client chose: its jwks_uri and its
// back-channel logout URI. For clients the operator configured, that is the
// operator's choice; for clients that registered themselves (RFC 7591) it is
// anyone's, so those requests may only reach public addresses. The check runs
// on the address actually dialled, after DNS resolution, so a name that
// resolves (or re-resolves) to a private address is refused too.

var errPrivateAddress = errors.New("refusing to connect to a non-public address for a registered client")

// publicOnlyClient is the HTTP client for registered clients' URLs.
var publicOnlyClient = &http.Client{
	Timeout:       5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport: &http.Transport{
		Proxy: nil, // a proxy would hide the real destination from the check
		DialContext: (&net.Dialer{
			Timeout: 5 * time.Second,
			Control: func(_, address string, _ syscall.RawConn) error {
				host, _, err := net.SplitHostPort(address)
				if err != nil {
					return errPrivateAddress
				}
				ip := net.ParseIP(host)
				if ip == nil || !isPublicIP(ip) {
					return errPrivateAddress
				}
				return nil
			},
		}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 5 * time.Second,
		MaxIdleConnsPerHost:   2,
	},
}

// nonPublicPrefixes are the special-purpose ranges (IANA registries, RFC
// 6890) that net.IP's predicates do not cover but that must not be reached
// for a registered client.
var nonPublicPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"; 0.x.y.z can reach the local host
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT, shared address space
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking; often internal in practice
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and 255.255.255.255 broadcast
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64: the gateway reaches the embedded IPv4, private or not
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2002::/16"),      // 6to4: embeds an arbitrary IPv4 address
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local, still routed inside some networks
}

func isPublicIP(ip net.IP) bool {
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	a = a.Unmap() // ::ffff:a.b.c.d is a.b.c.d
	for _, p := range nonPublicPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// outboundClient picks the HTTP client for requests to a client's URLs.
func (p *Provider) outboundClient(c *Client) *http.Client {
	if c.dynamic {
		return publicOnlyClient
	}
	return p.httpClient()
}
