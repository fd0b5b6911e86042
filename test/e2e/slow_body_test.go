package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestSlowRequestBodyIsCutOff trickles a token request body into the real
// Caddy, one byte every 100 ms of a declared 200: the provider's read
// deadline must reach the connection through Caddy's response writer
// wrappers, so the request is answered 408 while the client is still
// sending, instead of being read for 20 s.
func TestSlowRequestBodyIsCutOff(t *testing.T) {
	cfg := newSiteConfig(t)
	cfg.ExtraClients = "\t\tbody_read_timeout 1s\n"
	srv := startCaddy(t, cfg)
	host := strings.TrimPrefix(srv.cfg.Issuer(), "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const bodyLen = 200
	fmt.Fprintf(conn, "POST /token HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", host, bodyLen)
	var sent atomic.Int64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for range bodyLen {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := conn.Write([]byte("a")); err != nil {
				return
			}
			sent.Add(1)
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	close(stop)
	<-done
	if err != nil {
		t.Fatalf("no response: %v (sent %d of %d bytes)", err, sent.Load(), bodyLen)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := sent.Load(); n >= bodyLen {
		t.Errorf("Caddy waited for the whole trickled body (%d bytes) before answering", n)
	}
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), `"error":"invalid_request"`) {
		t.Errorf("slow body: %d %s, want 408 invalid_request", resp.StatusCode, body)
	}
}
