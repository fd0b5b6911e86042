package provider

import (
	"slices"
	"strings"
)

const (
	scopeOpenID        = "openid"
	scopeOfflineAccess = "offline_access"
	// scopeGroups releases the groups claim (a list of group names), which
	// the gate's rules and the applications behind it decide on. Not an
	// OIDC Core scope; the name is the one most relying parties expect.
	scopeGroups = "groups"
)

var supportedScopes = []string{scopeOpenID, "profile", "email", "address", "phone", scopeGroups, scopeOfflineAccess}

// scopeClaims maps the OIDC Core §5.4 scope values to the claims they release.
var scopeClaims = map[string][]string{
	"profile": {"name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
		"profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"},
	"email":   {"email", "email_verified"},
	"address": {"address"},
	"phone":   {"phone_number", "phone_number_verified"},
	"groups":  {"groups"},
}

// The consent page describes each supported scope with the message
// catalogue key scope.<value> (templates/messages).

// parseScope splits a scope parameter (RFC 6749 §3.3) and keeps the values
// this provider supports, in a stable order and without duplicates. Unknown
// values are ignored, which RFC 6749 §3.3 allows; the token response then
// tells the client the scope actually granted.
func parseScope(s string) []string {
	fields := strings.Fields(s)
	out := make([]string, 0, len(fields))
	for _, sc := range supportedScopes {
		if slices.Contains(fields, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// coversScopes reports whether granted contains every value of requested.
func coversScopes(granted, requested []string) bool {
	for _, s := range requested {
		if !slices.Contains(granted, s) {
			return false
		}
	}
	return true
}

// claimsForScopes filters the account's claims down to those the scopes
// release (OIDC Core §5.4). sub is always present.
func claimsForScopes(acc *Account, scopes []string) map[string]any {
	out := map[string]any{"sub": acc.Subject}
	for _, s := range scopes {
		for _, c := range scopeClaims[s] {
			if v, ok := acc.Claims[c]; ok {
				out[c] = v
			}
		}
	}
	return out
}
