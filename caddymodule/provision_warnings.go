package caddymodule

import (
	"reflect"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/oidcaddy/oidcaddy/provider"
)

// warnWeakSettings logs, at provision, settings that leave the login page's
// protections weaker than the operator probably thinks. They are warnings,
// not errors: the configuration works, and may be a deliberate choice.
func (h *Handler) warnWeakSettings(ctx caddy.Context, accounts *provider.StaticAccounts) {
	if params := accounts.PasswordHashParameters(); len(params) > 1 {
		// Only the parameter sets and their user counts: never a hash.
		h.logger.Warn("users' password hashes differ in algorithm or cost: a sign-in takes a different time for different users, "+
			"so unknown and known logins can be told apart by response time; rehash all passwords with the same settings "+
			"(caddy oidc-hash-password)",
			zap.Any("users_per_hash_setting", params))
	}
	// The login throttle keys on Caddy's client address (client_ip). With
	// trusted_proxies in the default, non-strict mode Caddy takes the
	// left-most X-Forwarded-For address, which the client itself writes:
	// an attacker behind a trusted proxy picks a new address per guess.
	if srv, ok := ctx.Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server); ok && trustsProxies(srv) && srv.TrustedProxiesStrict == 0 {
		h.logger.Warn("trusted_proxies is set without trusted_proxies_strict: the client address, which the login throttle " +
			"counts failures by, is the left-most X-Forwarded-For entry, which clients choose themselves, " +
			"so password guessing through the proxy is not throttled by address; set trusted_proxies_strict in the server's options")
	}
}

// trustsProxies reports whether the server has trusted_proxies. Caddy loads
// the setting into an unexported field and clears the raw JSON before the
// routes' handlers are provisioned, so the field is read by reflection
// (TestThrottleKeysOnCaddysClientAddress notices if Caddy renames it).
func trustsProxies(srv *caddyhttp.Server) bool {
	if len(srv.TrustedProxiesRaw) > 0 {
		return true
	}
	f := reflect.ValueOf(srv).Elem().FieldByName("trustedProxies")
	return f.IsValid() && f.Kind() == reflect.Interface && !f.IsNil()
}
