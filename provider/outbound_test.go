package provider

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestIsPublicIP(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"93.184.216.34": true, "2606:4700::1111": true, "8.8.8.8": true,
		"127.0.0.1": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "fe80::1": false, "fd00::1": false, "0.0.0.0": false, "::": false,
		"100.64.0.1": false, "100.127.255.254": false, "100.128.0.1": true, "224.0.0.1": false,
		// "This network", IETF protocol assignments, benchmarking, reserved
		// and broadcast.
		"0.1.2.3": false, "192.0.0.1": false, "192.0.0.170": false, "192.0.1.1": true,
		"198.18.0.1": false, "198.19.255.254": false, "198.17.255.255": true, "198.20.0.1": true,
		"240.0.0.1": false, "255.255.255.255": false, "239.255.255.255": false, "223.255.255.254": true,
		// NAT64 and 6to4 embed an IPv4 address the gateway will reach, private or not.
		"64:ff9b::7f00:1": false, "64:ff9b::a00:1": false, "64:ff9b::5db8:d822": false,
		"64:ff9b:1::1": false, "64:ff9b:1:ffff::1": false, "64:ff9b:2::1": true,
		"2002:7f00:1::1": false, "2002:c0a8:101::1": false, "2003::1": true,
		// Deprecated site-local, and IPv4-mapped private addresses.
		"fec0::1": false, "feff::1": false, "::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "::ffff:93.184.216.34": true,
	} {
		if got := isPublicIP(net.ParseIP(addr)); got != want {
			t.Errorf("isPublicIP(%s) = %v, want %v", addr, got, want)
		}
	}
}

// The refusal comes from the address check itself (not from TLS or a
// closed port): a plain-HTTP loopback server that is up is still refused,
// while the operator's client reaches it.
func TestPublicOnlyClientRefusesLoopback(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	defer srv.Close()
	_, err := publicOnlyClient.Get(srv.URL)
	if err == nil || !errors.Is(err, errPrivateAddress) {
		t.Fatalf("loopback fetch for a registered client: %v, want errPrivateAddress", err)
	}
	p := &Provider{}
	resp, err := p.outboundClient(&Client{}).Get(srv.URL)
	if err != nil {
		t.Fatalf("configured client: %v", err)
	}
	resp.Body.Close()
}
