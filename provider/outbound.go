package provider

import (
	"context"
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
// resolves (or re-resolves) to a private address is refused too. The operator
// may allow listed private hosts and networks (RegistrationConfig.
// AllowPrivateHosts), for applications on a private network next to the
// provider.

var errPrivateAddress = errors.New("refusing to connect to a non-public address for a registered client")

// publicOnlyClient is the HTTP client for registered clients' URLs when the
// operator allows no private host.
var publicOnlyClient = newPublicOnlyClient(nil, nil)

// newPublicOnlyClient builds the HTTP client for registered clients' URLs:
// it connects only to public addresses, or to what allow lets through (a
// listed host name, whatever it resolves to, or an address in a listed
// network). resolver is for tests; nil means the default resolver.
func newPublicOnlyClient(allow *privateAllowList, resolver *net.Resolver) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		// addr is the URL's host and port, before resolution: the name
		// the operator may have listed.
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, errPrivateAddress
		}
		hostListed := allow.allowsHost(host)
		d := &net.Dialer{
			Timeout:  5 * time.Second,
			Resolver: resolver,
			// The address actually dialled, after DNS resolution.
			Control: func(_, address string, _ syscall.RawConn) error {
				ap, err := netip.ParseAddrPort(address)
				if err != nil {
					return errPrivateAddress
				}
				if hostListed || isPublicIP(net.IP(ap.Addr().AsSlice())) || allow.allowsAddr(ap.Addr()) {
					return nil
				}
				return errPrivateAddress
			},
		}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			Proxy:                 nil, // a proxy would hide the real destination from the check
			DialContext:           dial,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 5 * time.Second,
			MaxIdleConnsPerHost:   2,
		},
	}
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
		return p.registeredClientHTTP
	}
	return p.httpClient()
}
