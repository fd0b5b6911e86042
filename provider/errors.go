package provider

import (
	"errors"
	"net/http"
)

// OAuth 2.0 / OIDC error codes (RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1,
// OIDC Core §3.1.2.6).
const (
	ErrCodeInvalidRequest           = "invalid_request"
	ErrCodeInvalidClient            = "invalid_client"
	ErrCodeInvalidGrant             = "invalid_grant"
	ErrCodeUnauthorizedClient       = "unauthorized_client"
	ErrCodeUnsupportedGrantType     = "unsupported_grant_type"
	ErrCodeInvalidScope             = "invalid_scope"
	ErrCodeAccessDenied             = "access_denied"
	ErrCodeUnsupportedResponseType  = "unsupported_response_type"
	ErrCodeServerError              = "server_error"
	ErrCodeTemporarilyUnavailable   = "temporarily_unavailable"
	ErrCodeInvalidToken             = "invalid_token"
	ErrCodeInsufficientScope        = "insufficient_scope"
	ErrCodeLoginRequired            = "login_required"
	ErrCodeConsentRequired          = "consent_required"
	ErrCodeInteractionRequired      = "interaction_required"
	ErrCodeInvalidRequestURI        = "invalid_request_uri"
	ErrCodeRequestNotSupported      = "request_not_supported"
	ErrCodeRequestURINotSupported   = "request_uri_not_supported"
	ErrCodeRegistrationNotSupported = "registration_not_supported"
	ErrCodeInvalidTarget            = "invalid_target"         // RFC 8707 §2
	ErrCodeUnsupportedTokenType     = "unsupported_token_type" // RFC 7009 §2.2.1
	ErrCodeInvalidRedirectURI       = "invalid_redirect_uri"   // RFC 7591 §3.2.2
	ErrCodeInvalidClientMetadata    = "invalid_client_metadata"
)

// Error is the one error type of the protocol: the OAuth error code, a
// description safe to show the client (never a secret), and the HTTP status.
type Error struct {
	Code        string
	Description string
	Status      int
	// cause is kept for server-side diagnostics only; never sent to clients.
	cause error
	// page is the kind of error page a person sees (see errorpage.go);
	// empty means one chosen by the code.
	page string
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// Unwrap returns the internal cause, if any.
func (e *Error) Unwrap() error { return e.cause }

func newError(status int, code, desc string) *Error {
	return &Error{Code: code, Description: desc, Status: status}
}

func errInvalidRequest(desc string) *Error {
	return newError(http.StatusBadRequest, ErrCodeInvalidRequest, desc)
}

// errInvalidClient is 401 per RFC 6749 §5.2 (the WWW-Authenticate header is
// added when the client tried HTTP Basic).
func errInvalidClient(desc string) *Error {
	return newError(http.StatusUnauthorized, ErrCodeInvalidClient, desc)
}

func errInvalidGrant(desc string) *Error {
	return newError(http.StatusBadRequest, ErrCodeInvalidGrant, desc)
}

// errServer wraps an internal failure; the description stays generic so no
// internal detail (paths, keys, records) reaches the client.
// A storage outage (ErrUnavailable) is no internal error but a temporary
// condition: 503 temporarily_unavailable (RFC 6749 §4.1.2.1, §5.2 by
// extension), so clients retry instead of giving up.
func errServer(cause error) *Error {
	if errors.Is(cause, ErrUnavailable) {
		return &Error{Code: ErrCodeTemporarilyUnavailable, Description: "storage is temporarily unavailable; retry later", Status: http.StatusServiceUnavailable, cause: cause}
	}
	return &Error{Code: ErrCodeServerError, Description: "the server encountered an internal error", Status: http.StatusInternalServerError, cause: cause}
}

func errorAs(err error, target any) bool { return errors.As(err, target) }

// asError converts any error into *Error, treating unknown errors as internal.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return errServer(err)
}
