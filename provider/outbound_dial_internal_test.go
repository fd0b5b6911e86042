package provider

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// fakeDNS answers every A query with 127.0.0.1 (and AAAA with nothing): a
// public-looking name that resolves to a private address, as a hostile
// registrant's DNS can make it.
func fakeDNS(t *testing.T) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			hdr, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: hdr.ID, Response: true, Authoritative: true})
			b.EnableCompression()
			b.StartQuestions()
			b.Question(q)
			b.StartAnswers()
			if q.Type == dnsmessage.TypeA {
				b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}})
			}
			msg, err := b.Finish()
			if err == nil {
				pc.WriteTo(msg, from)
			}
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// The dialer checks the address it connects to, after DNS: a name that
// resolves to a private address is refused unless the operator listed that
// name or a network holding the address; listing another host or network
// does not help.
func TestRegisteredClientDialHonoursAllowList(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	resolver := fakeDNS(t)
	byName := (&url.URL{Scheme: "http", Host: net.JoinHostPort("rp.example.com", strconv.Itoa(port)), Path: "/bcl"}).String()
	for _, tc := range []struct {
		name  string
		allow []string
		url   string
		ok    bool
	}{
		{"default, name resolving to loopback", nil, byName, false},
		{"default, loopback literal", nil, srv.URL, false},
		{"another host and network listed", []string{"app", "10.0.0.0/8", "127.0.0.2"}, byName, false},
		{"the name listed", []string{"RP.example.com."}, byName, true},
		{"the network listed, by name", []string{"127.0.0.0/8"}, byName, true},
		{"the address listed, literal", []string{"127.0.0.1"}, srv.URL, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			allow, err := parsePrivateAllowList(tc.allow)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := newPublicOnlyClient(allow, resolver).Get(tc.url)
			if tc.ok {
				if err != nil {
					t.Fatalf("GET %s: %v", tc.url, err)
				}
				resp.Body.Close()
				return
			}
			if err == nil {
				resp.Body.Close()
			}
			if !errors.Is(err, errPrivateAddress) {
				t.Fatalf("GET %s: %v, want errPrivateAddress", tc.url, err)
			}
		})
	}
}
