package caddymodule

import (
	"regexp"
	"strconv"

	"go.uber.org/zap"
)

// placeholderPattern matches a Caddy placeholder such as {env.X} or
// {file./run/secrets/x}.
var placeholderPattern = regexp.MustCompile(`\{[A-Za-z][^{}\s]*\}`)

// warnLiteralSecrets warns once per secret written into the configuration
// itself. Caddy keeps the config as given: its admin API (GET /config/)
// serves it and, with the `debug` option, its "adjusted config" log line
// prints it whole, so a literal secret ends up in logs. A placeholder is
// resolved only inside the module and never leaves it. The warning names
// where the secret is, never its value.
func warnLiteralSecrets(logger *zap.Logger, h *Handler) {
	warn := func(where string) {
		logger.Warn("secret written literally in the config: Caddy's admin API and debug log show it; use a placeholder such as {env.NAME}",
			zap.String("secret", where))
	}
	for _, c := range h.Clients {
		if c.ClientSecret != "" && !placeholderPattern.MatchString(c.ClientSecret) {
			warn("client " + c.ClientID + " secret")
		}
	}
	// Only the config's own users: users_file is not part of what Caddy
	// serves or logs.
	for _, u := range h.Users {
		if u.TOTPSecret != "" && !placeholderPattern.MatchString(u.TOTPSecret) {
			warn("user " + u.Login + " totp_secret")
		}
	}
	if h.KeyEncryptionSecret != "" && !placeholderPattern.MatchString(h.KeyEncryptionSecret) {
		warn("key_encryption_secret")
	}
	if h.Registration != nil {
		for i, t := range h.Registration.InitialAccessTokens {
			if !placeholderPattern.MatchString(t) {
				warn("registration initial_access_token " + strconv.Itoa(i+1))
			}
		}
	}
}
