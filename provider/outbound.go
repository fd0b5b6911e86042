package provider

import (
	"errors"
	"net"
	"net/http"
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

func isPublicIP(ip net.IP) bool {
	return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() ||
		// 100.64.0.0/10 (carrier-grade NAT) is not covered by IsPrivate.
		(ip.To4() != nil && ip.To4()[0] == 100 && ip.To4()[1]&0xc0 == 64))
}

// outboundClient picks the HTTP client for requests to a client's URLs.
func (p *Provider) outboundClient(c *Client) *http.Client {
	if c.dynamic {
		return publicOnlyClient
	}
	return p.httpClient()
}
