package provider

import (
	"mime"
	"net/http"
	"net/url"
	"unicode/utf8"
)

// params are the request parameters after strict parsing: one value each.
type params map[string]string

func (p params) get(k string) string { return p[k] }

// parseParams applies the rules every endpoint shares (RFC 6749 §3.1 and
// §3.2): parameters sent without a value are treated as omitted, and a
// parameter must not appear more than once. Values must be valid UTF-8.
func parseParams(v url.Values) (params, *Error) {
	out := make(params, len(v))
	for k, vals := range v {
		if !utf8.ValidString(k) {
			return nil, errInvalidRequest("parameter names must be valid UTF-8")
		}
		var val string
		n := 0
		for _, s := range vals {
			if s == "" {
				continue
			}
			n++
			val = s
		}
		if n > 1 {
			return nil, errInvalidRequest("parameter " + safeParamName(k) + " is included more than once")
		}
		if n == 0 {
			continue
		}
		if !utf8.ValidString(val) {
			return nil, errInvalidRequest("parameter " + safeParamName(k) + " is not valid UTF-8")
		}
		out[k] = val
	}
	return out, nil
}

// safeParamName keeps attacker-chosen names short and printable in error
// descriptions (RFC 6749 §5.2 limits error_description to %x20-21 / %x23-5B /
// %x5D-7E).
func safeParamName(k string) string {
	if len(k) > 40 {
		k = k[:40]
	}
	b := []byte(k)
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b[i] = '?'
		}
	}
	return string(b)
}

var errBodyTooLarge = newError(http.StatusRequestEntityTooLarge, ErrCodeInvalidRequest, "request body too large")

// readForm reads an application/x-www-form-urlencoded body, capped at the
// configured size. Query parameters are not merged in: RFC 6749 §3.2 sends
// token requests in the body, and mixing sources invites confusion attacks.
func (p *Provider) readForm(w http.ResponseWriter, r *http.Request) (params, *Error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil, errInvalidRequest("Content-Type application/x-www-form-urlencoded is required")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, errInvalidRequest("Content-Type must be application/x-www-form-urlencoded")
	}
	buf, perr := p.readBody(w, r)
	if perr != nil {
		return nil, perr
	}
	v, err := url.ParseQuery(string(buf))
	if err != nil {
		return nil, errInvalidRequest("malformed form body")
	}
	return parseParams(v)
}

// readQuery parses the URL query strictly (a malformed escape is an error,
// not a silently dropped parameter).
func readQuery(r *http.Request) (params, *Error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errInvalidRequest("malformed query string")
	}
	return parseParams(v)
}

// readGetOrPost reads the parameters of a front-channel endpoint that takes
// both methods (OIDC Core §3.1.2.1, RP-Initiated Logout §2): the query for
// GET, the form body for POST.
func (p *Provider) readGetOrPost(w http.ResponseWriter, r *http.Request) (params, *Error) {
	switch r.Method {
	case http.MethodGet:
		return readQuery(r)
	case http.MethodPost:
		return p.readForm(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		return nil, methodNotAllowed("GET", "POST")
	}
}
