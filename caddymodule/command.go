package caddymodule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "oidc-initial-access-token",
		Usage: "--issuer <url> [--ttl <duration>] [--single-use] [--address <interface>]",
		Short: "Mints an initial access token for OIDC dynamic client registration",
		Long: `
Asks the running Caddy, through its admin API, for a new initial access token
(RFC 7591 §3) of the oidc_provider whose issuer is --issuer, and prints only
the token on standard output. Client developers send it as a Bearer token
when they register a client at the provider's /register endpoint; the
provider's registration policy must be initial_access_token.

--ttl is how long the token stays valid (a Caddy duration such as 30m, 1h or
7d; default 1h). With --single-use the first successful registration spends
it. The token is stored only as a hash and cannot be shown again.

--address is the admin API's address (default localhost:2019, or the
CADDY_ADMIN environment variable).

Example:
  REG_TOKEN=$(caddy oidc-initial-access-token --issuer https://auth.example.com --ttl 24h --single-use)
`,
		CobraFunc: setUpInitialAccessTokenCommand,
	})
}

// setUpInitialAccessTokenCommand declares the flags and the run function.
func setUpInitialAccessTokenCommand(cmd *cobra.Command) {
	cmd.Flags().String("issuer", "", "Issuer URL of the provider, exactly as configured (required)")
	cmd.Flags().String("ttl", "1h", "Lifetime of the token (Caddy duration: 30m, 1h, 7d)")
	cmd.Flags().Bool("single-use", false, "The token registers one client only")
	cmd.Flags().String("address", "", "Address of the administration API, if not the default")
	cmd.Args = cobra.NoArgs
	cmd.RunE = caddycmd.WrapCommandFuncForCobra(func(fl caddycmd.Flags) (int, error) {
		return runInitialAccessToken(fl, cmd.OutOrStdout())
	})
}

// runInitialAccessToken mints through the admin API and writes the token,
// and nothing else, to out, so it can be captured by a shell.
func runInitialAccessToken(fl caddycmd.Flags, out io.Writer) (int, error) {
	req, addr, err := initialAccessTokenArgs(fl)
	if err != nil {
		return 1, err
	}
	tok, err := requestInitialAccessToken(addr, req)
	if err != nil {
		return 1, err
	}
	if _, err := fmt.Fprintln(out, tok); err != nil {
		return 1, err
	}
	return 0, nil
}

// initialAccessTokenArgs checks the flags before anything is sent, so a
// mistake is reported as such rather than as an admin API error.
func initialAccessTokenArgs(fl caddycmd.Flags) (initialAccessTokenRequest, string, error) {
	req := initialAccessTokenRequest{
		Issuer:    fl.String("issuer"),
		TTL:       fl.String("ttl"),
		SingleUse: fl.Bool("single-use"),
	}
	if req.Issuer == "" {
		return req, "", errors.New("--issuer is required, e.g. --issuer https://auth.example.com")
	}
	if u, err := url.Parse(req.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return req, "", fmt.Errorf("--issuer must be the provider's issuer URL, got %q", req.Issuer)
	}
	if req.TTL == "" {
		return req, "", errors.New("--ttl must not be empty")
	}
	if _, err := parseInitialAccessTokenTTL(req.TTL); err != nil {
		return req, "", fmt.Errorf("--%w", err)
	}
	addr, err := caddycmd.DetermineAdminAPIAddress(fl.String("address"), nil, "", "")
	if err != nil {
		return req, "", err
	}
	return req, addr, nil
}

// requestInitialAccessToken POSTs to the admin API. Its errors carry the
// admin API's error message, which never holds a token.
func requestInitialAccessToken(addr string, req initialAccessTokenRequest) (string, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	resp, err := caddycmd.AdminAPIRequest(addr, http.MethodPost, adminPathInitialAccessTokens, nil, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("minting through the admin API at %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("admin API at %s answered HTTP %d, want 201 (is it this module's Caddy?)", addr, resp.StatusCode)
	}
	var got initialAccessTokenResponse
	// The body holds the token, so a decoding error is reported without it.
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAdminRequestBody)).Decode(&got); err != nil || got.InitialAccessToken == "" {
		return "", fmt.Errorf("admin API at %s answered with a body that holds no initial access token", addr)
	}
	return got.InitialAccessToken, nil
}
