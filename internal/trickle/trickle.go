// Package trickle is a test client that sends a request body one byte at a
// time, as a slow-loris attacker would, to show that a server cuts such a
// request off instead of holding its connection for minutes.
package trickle

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Result is what the server answered and how much of the body it had got.
type Result struct {
	Status int
	Body   []byte
	// Sent is how many body bytes were written before the answer came.
	Sent int64
}

// Post opens a connection to addr (host:port), declares a body of bodyLen
// bytes and writes it one byte every interval until the server answers or
// the body is complete. It stops writing as soon as an answer is read.
func Post(addr, path, contentType string, bodyLen int, interval time.Duration) (Result, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return Result{}, err
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		path, addr, contentType, bodyLen); err != nil {
		return Result{}, err
	}
	var sent atomic.Int64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for range bodyLen {
			select {
			case <-stop:
				return
			case <-time.After(interval):
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
		return Result{Sent: sent.Load()}, fmt.Errorf("no response after %d of %d bytes: %w", sent.Load(), bodyLen, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return Result{Status: resp.StatusCode, Body: body, Sent: sent.Load()}, err
}
