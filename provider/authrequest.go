package provider

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

const (
	responseModeQuery    = "query"
	responseModeFormPost = "form_post"

	promptNone          = "none"
	promptLogin         = "login"
	promptConsent       = "consent"
	promptSelectAccount = "select_account"
)

// authRequest is a validated authorization request (OIDC Core §3.1.2.1).
type authRequest struct {
	ClientID     string   `json:"client_id"`
	RedirectURI  string   `json:"redirect_uri"`
	ResponseMode string   `json:"response_mode"`
	State        string   `json:"state,omitempty"`
	Nonce        string   `json:"nonce,omitempty"`
	Scopes       []string `json:"scopes"`
	Prompt       []string `json:"prompt,omitempty"`
	MaxAge       int64    `json:"max_age"` // -1 when absent
	// ACRValues are the known levels of acr_values, in order of
	// preference (acr.go).
	ACRValues           []string `json:"acr_values,omitempty"`
	LoginHint           string   `json:"login_hint,omitempty"`
	CodeChallenge       string   `json:"code_challenge,omitempty"`
	CodeChallengeMethod string   `json:"code_challenge_method,omitempty"`
	// DeviceCodeID, when set, makes this the user's side of a device
	// authorization (RFC 8628): completion approves the device code instead
	// of redirecting anywhere.
	DeviceCodeID string `json:"device_code_id,omitempty"`
	// deviceUserCode is the user code the user entered, on its way into
	// the interaction (sealed there, see sealUserCode); never stored as is.
	deviceUserCode string
}

func (a *authRequest) hasPrompt(v string) bool { return slices.Contains(a.Prompt, v) }

// authError is an error of the authorization endpoint. redirect is false
// while the client or redirect URI is not trusted: the error must then be
// shown to the user, never sent to an unverified URI (RFC 6749 §4.1.2.1).
type authError struct {
	*Error
	redirect bool
	req      *authRequest // what is known of the request for the redirect
	// userActed: the error answers the user's own action on one of the
	// request's pages (a denied consent, a cancelled login), so the user
	// has seen which client asks; see mayRedirectError.
	userActed bool
}

// Lengths beyond which a parameter is refused. They are generous for real
// clients and keep hostile input from bloating stored interactions.
const (
	maxParamLen     = 2048
	maxStateLen     = 1024 // stored with each pending interaction; see TestStateLengthIsBounded
	maxNonceLen     = 512
	maxLoginHintLen = 256
)

// pkceChallenge is the form of an S256 challenge: base64url without padding
// of a SHA-256 digest, always 43 characters (RFC 7636 §4.2).
var pkceChallenge = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// parseAuthRequest validates the parameters of an authorization request
// against the client. Order matters: nothing may be redirected until the
// client and the redirect URI are established.
func parseAuthRequest(ctx context.Context, clients ClientStore, in params) (*authRequest, *Client, *authError) {
	fatal := func(desc string) *authError { return &authError{Error: errInvalidRequest(desc)} }

	clientID := in.get("client_id")
	if clientID == "" {
		return nil, nil, fatal("missing required parameter client_id")
	}
	if len(clientID) > maxParamLen {
		return nil, nil, fatal("client_id is too long")
	}
	client, err := clients.Client(ctx, clientID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, &authError{Error: newError(http.StatusBadRequest, ErrCodeInvalidClient, "unknown client_id")}
	}
	if err != nil {
		return nil, nil, &authError{Error: errServer(err)}
	}
	redirectURI := in.get("redirect_uri")
	if redirectURI == "" {
		// OIDC Core §3.1.2.1 makes redirect_uri required; no default is guessed.
		return nil, client, fatal("missing required parameter redirect_uri")
	}
	if !slices.Contains(client.RedirectURIs, redirectURI) {
		// Exact string comparison (OIDC Core §3.1.2.1, RFC 6749 §3.1.2.3).
		return nil, client, fatal("redirect_uri is not registered for this client")
	}

	req := &authRequest{ClientID: clientID, RedirectURI: redirectURI, ResponseMode: responseModeQuery, State: in.get("state"), MaxAge: -1}
	fail := func(e *Error) (*authRequest, *Client, *authError) {
		return nil, client, &authError{Error: e, redirect: true, req: req}
	}
	if len(req.State) > maxStateLen {
		req.State = ""
		return fail(errInvalidRequest("state is too long"))
	}
	if rm := in.get("response_mode"); rm != "" {
		if rm != responseModeQuery && rm != responseModeFormPost {
			return fail(errInvalidRequest("unsupported response_mode"))
		}
		req.ResponseMode = rm
	}
	if in.get("request") != "" {
		return fail(newError(http.StatusBadRequest, ErrCodeRequestNotSupported, "request objects are not supported"))
	}
	switch rt := in.get("response_type"); rt {
	case "":
		return fail(errInvalidRequest("missing required parameter response_type"))
	case "code":
	default:
		return fail(newError(http.StatusBadRequest, ErrCodeUnsupportedResponseType, "only response_type=code is supported"))
	}
	if !client.AllowsGrant(GrantTypeAuthorizationCode) {
		return fail(newError(http.StatusBadRequest, ErrCodeUnauthorizedClient, "the client may not use the authorization code grant"))
	}
	scope := in.get("scope")
	if scope == "" {
		return fail(newError(http.StatusBadRequest, ErrCodeInvalidScope, "missing required parameter scope"))
	}
	req.Scopes = parseScope(scope)
	if !client.AllowsGrant(GrantTypeRefreshToken) {
		// offline_access asks for a refresh token; a client that cannot use
		// one must not be shown (or told it got) that scope (OIDC Core §11).
		req.Scopes = slices.DeleteFunc(req.Scopes, func(s string) bool { return s == scopeOfflineAccess })
	}
	if !slices.Contains(req.Scopes, scopeOpenID) {
		return fail(newError(http.StatusBadRequest, ErrCodeInvalidScope, "the openid scope is required"))
	}
	req.Nonce = in.get("nonce")
	if len(req.Nonce) > maxNonceLen {
		return fail(errInvalidRequest("nonce is too long"))
	}
	if p := in.get("prompt"); p != "" {
		for _, v := range strings.Fields(p) {
			switch v {
			case promptNone, promptLogin, promptConsent, promptSelectAccount:
			default:
				return fail(errInvalidRequest("unsupported prompt value"))
			}
			if !slices.Contains(req.Prompt, v) {
				req.Prompt = append(req.Prompt, v)
			}
		}
		// OIDC Core §3.1.2.1: none must not be combined with other values.
		if req.hasPrompt(promptNone) && len(req.Prompt) > 1 {
			return fail(errInvalidRequest("prompt none cannot be combined with other values"))
		}
	}
	if ma := in.get("max_age"); ma != "" {
		n, err := strconv.ParseInt(ma, 10, 64)
		if err != nil || n < 0 {
			return fail(errInvalidRequest("max_age must be a non-negative integer"))
		}
		req.MaxAge = n
	}
	if av := in.get("acr_values"); av != "" {
		if len(av) > maxParamLen {
			return fail(errInvalidRequest("acr_values is too long"))
		}
		req.ACRValues = parseACRValues(av)
	}
	req.LoginHint = in.get("login_hint")
	if len(req.LoginHint) > maxLoginHintLen {
		return fail(errInvalidRequest("login_hint is too long"))
	}
	req.CodeChallenge = in.get("code_challenge")
	req.CodeChallengeMethod = in.get("code_challenge_method")
	switch {
	case req.CodeChallenge == "" && req.CodeChallengeMethod != "":
		return fail(errInvalidRequest("code_challenge_method without code_challenge"))
	case req.CodeChallenge == "" && client.Public():
		// RFC 7636 §4.4.1 lets servers require PKCE; public clients cannot
		// authenticate, so a code without it could be redeemed by anyone.
		return fail(errInvalidRequest("PKCE code_challenge is required for public clients"))
	case req.CodeChallenge != "":
		if req.CodeChallengeMethod == "" || req.CodeChallengeMethod == "plain" {
			return fail(errInvalidRequest("code_challenge_method must be S256 (plain is not allowed)"))
		}
		if req.CodeChallengeMethod != "S256" {
			return fail(errInvalidRequest("unsupported code_challenge_method"))
		}
		if !pkceChallenge.MatchString(req.CodeChallenge) {
			return fail(errInvalidRequest("code_challenge is not a valid S256 challenge"))
		}
	}
	return req, client, nil
}
