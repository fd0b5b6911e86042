package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/oidcaddy/oidcaddy/provider"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// adminPathInitialAccessTokens is where operators mint initial access
// tokens (RFC 7591 §3) on Caddy's admin API.
const adminPathInitialAccessTokens = "/oidc_provider/initial_access_tokens"

// defaultInitialAccessTokenTTL is used when a mint request names no ttl.
const defaultInitialAccessTokenTTL = time.Hour

// AdminAPI adds the OIDC provider's operator endpoints to Caddy's admin API.
// It needs no configuration: Caddy loads every admin.api module.
//
// `POST /oidc_provider/initial_access_tokens` with a JSON body
// `{"issuer": "<issuer url>", "ttl": "1h", "single_use": true}` mints an
// initial access token for dynamic client registration on the running
// provider with that issuer and answers 201 with
// `{"initial_access_token": "...", "expires_in": 3600}`. `ttl` is a Caddy
// duration (default 1h); a single-use token is spent by the first
// registration. The token is shown only in this response and stored only as
// a hash.
type AdminAPI struct{}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.oidc_provider",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Routes returns the admin routes.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{
		Pattern: adminPathInitialAccessTokens,
		Handler: caddy.AdminHandlerFunc(a.handleInitialAccessTokens),
	}}
}

// initialAccessTokenRequest is the body of a mint request.
type initialAccessTokenRequest struct {
	Issuer    string `json:"issuer"`
	TTL       string `json:"ttl,omitempty"`
	SingleUse bool   `json:"single_use,omitempty"`
}

// initialAccessTokenResponse is the answer to a mint request.
type initialAccessTokenResponse struct {
	InitialAccessToken string `json:"initial_access_token"`
	ExpiresIn          int64  `json:"expires_in"`
}

const maxAdminRequestBody = 16 << 10

func (a *AdminAPI) handleInitialAccessTokens(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return apiError(http.StatusMethodNotAllowed, "method not allowed; use POST")
	}
	// Requiring JSON also makes a browser preflight a cross-site request,
	// which Caddy's origin checks then refuse.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return apiError(http.StatusBadRequest, "Content-Type must be application/json")
	}
	var req initialAccessTokenRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminRequestBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return apiError(http.StatusBadRequest, "request body must be a JSON object {\"issuer\": ..., \"ttl\": ..., \"single_use\": ...}: "+err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apiError(http.StatusBadRequest, "request body must hold one JSON object")
	}
	ttl, err := parseInitialAccessTokenTTL(req.TTL)
	if err != nil {
		return apiError(http.StatusBadRequest, err.Error())
	}
	if req.Issuer == "" {
		return apiError(http.StatusBadRequest, "issuer is required")
	}

	var tok string
	found, err := providers.with(req.Issuer, func(lp *liveProvider) error {
		if lp.policy != provider.RegistrationInitialAccessToken {
			return apiError(http.StatusBadRequest, fmt.Sprintf(
				"the registration policy of %s is %s; initial access tokens are only used with policy initial_access_token", lp.issuer, lp.policy))
		}
		var err error
		tok, err = lp.prov.MintInitialAccessToken(r.Context(), ttl, req.SingleUse)
		return err
	})
	if !found {
		msg := fmt.Sprintf("no OIDC provider with issuer %q is running", req.Issuer)
		if known := providers.issuers(); len(known) > 0 {
			msg += " (running: " + strings.Join(known, ", ") + ")"
		}
		return apiError(http.StatusNotFound, msg)
	}
	if err != nil {
		var apiErr caddy.APIError
		if errors.As(err, &apiErr) {
			return apiErr
		}
		return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: fmt.Errorf("minting an initial access token: %w", err)}
	}

	body, err := json.Marshal(initialAccessTokenResponse{InitialAccessToken: tok, ExpiresIn: int64(ttl / time.Second)})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	// A credential: no cache may keep it (RFC 6749 §5.1 does the same).
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(body)
	return nil
}

// parseInitialAccessTokenTTL reads a Caddy duration of at least a second;
// empty means the default.
func parseInitialAccessTokenTTL(raw string) (time.Duration, error) {
	if raw == "" {
		return defaultInitialAccessTokenTTL, nil
	}
	ttl, err := caddy.ParseDuration(raw)
	if err != nil {
		return 0, fmt.Errorf("ttl: invalid duration %q (use e.g. 30m, 1h, 7d)", raw)
	}
	if ttl < time.Second {
		return 0, fmt.Errorf("ttl must be at least 1s, got %q", raw)
	}
	return ttl, nil
}

func apiError(status int, msg string) caddy.APIError {
	return caddy.APIError{HTTPStatus: status, Err: errors.New(msg), Message: msg}
}

// Interface guard
var _ caddy.AdminRouter = (*AdminAPI)(nil)
