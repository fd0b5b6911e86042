package provider

import (
	"errors"
	"net/http"
	"os"
	"time"
)

// defaultBodyReadTimeout is Config.BodyReadTimeout's default: far more than
// any form or registration document needs on a slow mobile link.
const defaultBodyReadTimeout = 10 * time.Second

var errBodyTimeout = newError(http.StatusRequestTimeout, ErrCodeInvalidRequest, "the request body did not arrive in time")

// readBody reads a form or JSON request body, at most MaxBodyBytes of it
// and for at most BodyReadTimeout: without a deadline a client sending one
// byte every few seconds holds a connection and a handler goroutine for as
// long as it likes (Caddy sets no body read timeout by default). The
// deadline is set on the connection (wall-clock time, not the provider's
// clock) and cleared after the read, so it bounds this body only; the next
// request on the connection gets the server's own timeouts again. Where the
// writer cannot set deadlines (a test recorder, an exotic wrapper) the body
// is read without one.
func (p *Provider) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *Error) {
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(p.cfg.BodyReadTimeout)); err == nil {
		defer rc.SetReadDeadline(time.Time{})
	}
	buf, err := readAllLimited(http.MaxBytesReader(w, r.Body, p.cfg.MaxBodyBytes), p.cfg.MaxBodyBytes, r.ContentLength)
	if err == nil {
		return buf, nil
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, errBodyTooLarge
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The rest of the body is still on its way; the connection cannot
		// carry another request.
		w.Header().Set("Connection", "close")
		return nil, errBodyTimeout
	default:
		return nil, errInvalidRequest("could not read the request body")
	}
}
