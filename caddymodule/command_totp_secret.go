package caddymodule

import (
	"errors"
	"fmt"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/oidcaddy/oidcaddy/provider"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "oidc-totp-secret",
		Usage: "--issuer-name <name> --account <login>",
		Short: "Makes a TOTP secret for an oidc_provider user's second factor",
		Long: `
Makes a fresh TOTP secret (RFC 6238; 160 random bits) for the second factor
of an oidc_provider user and prints two lines on standard output:

  1. the secret in base32: put it in the user's totp_secret (in the user
     block or in users_file);
  2. its otpauth:// key URI: give it to the user, who imports it into an
     authenticator app (most apps read it from a QR code, e.g.
     qrencode -t ansiutf8 '<URI>'), or types the secret of line 1 instead.

--issuer-name is the name the app shows for the entry (your service, e.g.
"Example Login"); --account is the user's login. Neither may contain a
colon (the key URI's label is "issuer:account"). The codes are 6 digits,
30 seconds, HMAC-SHA-1: what every authenticator app uses by default.

The secret is shared between the server and the user's app, and whoever
has it can make the user's codes: keep it like a password. Give it to
Caddy as a placeholder rather than writing it into the Caddyfile, whose
contents Caddy's admin API serves and its debug log prints:

  user alice {
      password_hash ...
      totp_secret {env.ALICE_TOTP}   # or {file./run/secrets/alice_totp}
  }

Users with a totp_secret can sign in with a second factor (acr "mfa");
see the README, "Second factor (TOTP) and authentication levels".

Example:
  caddy oidc-totp-secret --issuer-name "Example Login" --account alice
`,
		CobraFunc: setUpTOTPSecretCommand,
	})
}

func setUpTOTPSecretCommand(cmd *cobra.Command) {
	cmd.Flags().String("issuer-name", "", "Name of the service, shown by authenticator apps (required)")
	cmd.Flags().String("account", "", "The user's login, shown by authenticator apps (required)")
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		issuerName, _ := cmd.Flags().GetString("issuer-name")
		account, _ := cmd.Flags().GetString("account")
		if err := checkTOTPLabel("--issuer-name", issuerName, `"Example Login"`); err != nil {
			return err
		}
		if err := checkTOTPLabel("--account", account, "alice"); err != nil {
			return err
		}
		secret := provider.NewTOTPSecret()
		_, err := fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\n", secret, provider.TOTPKeyURI(issuerName, account, secret))
		return err
	}
}

// checkTOTPLabel checks one part of the key URI's label "issuer:account":
// the Key Uri Format forbids a colon in either, since the label could not
// be split back.
func checkTOTPLabel(flag, v, example string) error {
	switch {
	case strings.TrimSpace(v) == "":
		return fmt.Errorf("%s is required, e.g. %s %s", flag, flag, example)
	case strings.Contains(v, ":"):
		return fmt.Errorf("%s must not contain a colon: authenticator apps split the label issuer:account at it", flag)
	case strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return errors.New(flag + " must not contain control characters")
	}
	return nil
}
