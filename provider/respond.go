package provider

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
)

// readAllLimited reads at most limit bytes; the MaxBytesReader in front turns
// anything larger into an *http.MaxBytesError. A declared Content-Length
// sizes the buffer (token requests are a few hundred bytes).
func readAllLimited(r io.Reader, limit, declared int64) ([]byte, error) {
	var buf bytes.Buffer
	if declared > 0 && declared <= limit {
		buf.Grow(int(declared) + 1)
	}
	_, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	return buf.Bytes(), err
}

// noStore marks a response as containing credentials (RFC 6749 §5.1, RFC
// 6750 §5.3): it must not be cached anywhere.
func noStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only provider-built values reach here; a marshal failure is a bug.
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// writeError writes the RFC 6749 §5.2 JSON error.
func writeError(w http.ResponseWriter, e *Error) {
	noStore(w.Header())
	// RFC 9110 §15.6.4: a 503 says when to retry. Refusals that know their
	// wait (throttles, limits) have set it already; a storage outage is
	// re-probed every second.
	if e.Status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.Status, errorBody{Error: e.Code, ErrorDescription: e.Description})
}

// endpointFailure answers an endpoint's error and emits its error event:
// the one function of that endpoint that names the event.
type endpointFailure func(w http.ResponseWriter, r *http.Request, err error, clientID string)

// endpointError reports an error of a JSON endpoint: the catalogue's
// endpoint event for handled errors, server_error for internal ones, then
// the JSON body.
func (p *Provider) endpointError(w http.ResponseWriter, r *http.Request, event EventName, err error, clientID string) {
	e := asError(err)
	p.emitError(r, event, e, clientID)
	writeError(w, e)
}

// emitError emits server_error for internal failures (5xx) and the
// endpoint's own .error event for everything the protocol handled.
func (p *Provider) emitError(r *http.Request, event EventName, e *Error, clientID string) {
	ev := Event{Name: event, ClientID: clientID, ErrorCode: e.Code, ErrorDescription: e.Description}
	// A deliberate refusal for capacity (temporarily_unavailable without an
	// internal cause: a limit was reached) is the endpoint's own error, as
	// for a busy login; a fault behind a 5xx is a server_error.
	capacity := e.Code == ErrCodeTemporarilyUnavailable && e.cause == nil
	if e.Status >= 500 && !capacity {
		if r.Context().Err() != nil {
			// The client went away and the store gave up on its behalf: not
			// a server fault, and not something to page anyone about.
			return
		}
		ev.Cause = e.cause
		p.serverError(r, ev)
		return
	}
	if ev.Name == "" {
		return // an endpoint the catalogue has no error event for
	}
	p.events.Emit(r.Context(), ev)
}

// serverError is the one emission point of server_error: an internal
// failure (ev's fields; its name is set here), whatever endpoint or page it
// happened behind.
func (p *Provider) serverError(r *http.Request, ev Event) {
	ev.Name = EventServerError
	p.emit(r, ev)
}

func (p *Provider) emit(r *http.Request, ev Event) { p.events.Emit(r.Context(), ev) }

// recoverServerError turns a panic in an endpoint into a 500 server_error
// response and event instead of a crash. The panic value is reported only
// when the runtime raised it: a value our own code panicked with is not
// echoed anywhere, in case it ever held request data.
func (p *Provider) recoverServerError(w http.ResponseWriter, r *http.Request, h http.HandlerFunc) {
	defer func() {
		rec := recover()
		if rec == nil {
			return
		}
		if rec == http.ErrAbortHandler {
			panic(rec)
		}
		what := fmt.Sprintf("%T", rec)
		if re, ok := rec.(runtime.Error); ok {
			what = re.Error()
		}
		cause := fmt.Errorf("recovered panic (%s) at %s\n%s", what, r.URL.Path, stackOnly())
		p.serverError(r, Event{ErrorCode: ErrCodeServerError, Cause: cause})
		writeError(w, errServer(cause))
	}()
	h(w, r)
}

// stackOnly keeps the function and file lines of the stack and drops the
// argument words, which could be pointers into request data.
func stackOnly() string {
	lines := strings.Split(string(debug.Stack()), "\n")
	var b strings.Builder
	for _, l := range lines {
		if i := strings.LastIndex(l, "("); i > 0 && !strings.HasPrefix(l, "\t") {
			l = l[:i]
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// methodNotAllowed answers a wrong HTTP method with 405 and an Allow header;
// the body is the OAuth invalid_request error so clients can parse it.
func methodNotAllowed(allowed ...string) *Error {
	return newError(http.StatusMethodNotAllowed, ErrCodeInvalidRequest, "method not allowed, use "+strings.Join(allowed, " or "))
}

// cors allows browser-based relying parties (public clients) to call the
// JSON endpoints. No credentials are involved, so a wildcard is safe.
func cors(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Origin") == "" {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}
