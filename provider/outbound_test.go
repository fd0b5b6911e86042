package provider

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestIsPublicIP(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.216.34": true, "2606:4700::1111": true, "8.8.8.8": true,
		"127.0.0.1": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "fe80::1": false, "fd00::1": false, "0.0.0.0": false, "::": false,
		"100.64.0.1": false, "100.127.255.254": false, "100.128.0.1": true, "224.0.0.1": false,
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
