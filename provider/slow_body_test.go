package provider_test

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

	"github.com/oidcaddy/oidcaddy/provider"
)

// A client that trickles its request body (here 1 byte every 50 ms of a
// declared 200) must not hold the connection and a handler for as long as
// it likes: the provider stops reading after Config.BodyReadTimeout and
// answers 408 with an RFC 6749 §5.2 error body while the client is still
// sending. Both the form endpoints and the JSON registration endpoint.
func TestSlowRequestBodyIsCutOff(t *testing.T) {
	// In parallel with the other waiting tests: it waits out body read deadlines,
	// which costs wall time, not work.
	t.Parallel()
	h := newHarness(t, openRegistration, func(c *provider.Config) { c.BodyReadTimeout = 300 * time.Millisecond })
	for _, tc := range []struct{ path, contentType string }{
		{"/token", "application/x-www-form-urlencoded"},
		{"/token/introspection", "application/x-www-form-urlencoded"},
		{"/register", "application/json"},
	} {
		t.Run(strings.Trim(tc.path, "/"), func(t *testing.T) {
			const bodyLen = 200
			conn, err := net.Dial("tcp", strings.TrimPrefix(h.srv.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
				tc.path, strings.TrimPrefix(h.srv.URL, "http://"), tc.contentType, bodyLen)
			var sent atomic.Int64
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				for range bodyLen {
					select {
					case <-stop:
						return
					case <-time.After(50 * time.Millisecond):
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
				t.Errorf("the server waited for the whole trickled body (%d bytes) before answering", n)
			}
			if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), `"error":"invalid_request"`) {
				t.Errorf("slow body: %d %s, want 408 invalid_request", resp.StatusCode, body)
			}
		})
	}
}
