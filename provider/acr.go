package provider

import (
	"slices"
	"strings"
)

// Authentication levels. A session records how its user authenticated as
// amr values (RFC 8176 §2): ["pwd"] for a password, ["pwd","otp","mfa"]
// once a TOTP code was given too. The acr claim (OIDC Core §2) names the
// level: the provider issues two values, and what each means is up to the
// parties to agree (ibid.), so they are documented in the README:
//
//	pwd  the user gave their password
//	mfa  the user gave their password and a one-time code (two factors)
//
// A relying party asks for a level with acr_values (OIDC Core §3.1.2.1, a
// voluntary request: the ID token says what was achieved and the relying
// party decides), an oidc_protect rule with its acr condition.
const (
	ACRPassword    = "pwd"
	ACRMultiFactor = "mfa"

	amrPassword = "pwd"
	amrOTP      = "otp"
	amrMFA      = "mfa"
)

// acrValuesSupported is discovery's acr_values_supported, lowest level
// first (acrRank).
var acrValuesSupported = []string{ACRPassword, ACRMultiFactor}

// acrRank orders the levels: a session at a higher level meets a request
// for a lower one. Unknown values rank -1.
func acrRank(acr string) int { return slices.Index(acrValuesSupported, acr) }

// ValidACR reports whether acr is a value this provider issues.
func ValidACR(acr string) bool { return acrRank(acr) >= 0 }

// ACRMeets reports whether an authentication at level have meets a
// requirement of level want.
func ACRMeets(have, want string) bool { return acrRank(have) >= 0 && acrRank(have) >= acrRank(want) }

// amrPasswordOnly and amrWithOTP are the two method lists a login makes.
func amrPasswordOnly() []string { return []string{amrPassword} }
func amrWithOTP() []string      { return []string{amrPassword, amrOTP, amrMFA} }

// acrOf is the level of an authentication by the methods amr. Records from
// before levels existed have no amr: a password login, the only kind then.
func acrOf(amr []string) string {
	if slices.Contains(amr, amrMFA) {
		return ACRMultiFactor
	}
	return ACRPassword
}

// storedAMR is what records keep of amr: nothing for a password-only
// login, which is what no amr means (records from before levels, acrOf),
// so the common login costs no bytes nor decoding on the hot paths that
// read its session and tokens.
func storedAMR(amr []string) []string {
	if slices.Equal(amr, amrPasswordOnly()) {
		return nil
	}
	return amr
}

// amrOrPassword is amr, or the password-only list for a record written
// without one (storedAMR).
func amrOrPassword(amr []string) []string {
	if len(amr) == 0 {
		return amrPasswordOnly()
	}
	return amr
}

// maxACRValues bounds the acr_values parameter (its length is bounded by
// maxParamLen as every parameter is); unknown values are ignored, as OIDC
// Core §3.1.2.1 makes the request voluntary.
const maxACRValues = 16

// parseACRValues keeps the values of a space-separated acr_values that this
// provider knows, in the order of preference given.
func parseACRValues(s string) []string {
	var out []string
	for i, v := range strings.Fields(s) {
		if i >= maxACRValues {
			break
		}
		if ValidACR(v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// wantsMultiFactor reports whether the request's most preferred level that
// this provider offers is mfa: acr_values lists levels in order of
// preference (OIDC Core §3.1.2.1), so "pwd mfa" is content with a password.
func (a *authRequest) wantsMultiFactor() bool {
	return len(a.ACRValues) > 0 && a.ACRValues[0] == ACRMultiFactor
}
