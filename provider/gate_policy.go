package provider

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// GateRule is one allow rule of a gate: matchers (Paths, Methods) select
// the requests it decides, conditions (the rest) decide them. Rules are
// tried in order and the first whose matchers match decides (a later,
// wider rule cannot let through what an earlier one refused); with rules
// configured, a request no rule matches is denied.
type GateRule struct {
	// Paths: "*" (every path), "/prefix/*" (the prefix and below), or an
	// exact path. Empty: every path.
	Paths []string `json:"paths,omitempty"`
	// Methods, upper case; empty: every method.
	Methods []string `json:"methods,omitempty"`
	// Groups: the user must be in at least one.
	Groups []string `json:"groups,omitempty"`
	// Subjects: the sub must be one of them.
	Subjects []string `json:"subjects,omitempty"`
	// Emails: the email claim must be one of them (case-insensitive).
	Emails []string `json:"emails,omitempty"`
	// Scopes: every one must be granted (a bearer token lacking one gets
	// 403 insufficient_scope, RFC 6750 §3.1).
	Scopes []string `json:"scopes,omitempty"`
	// Audience: a bearer token must have been issued for this resource
	// (RFC 8707); a gate session has no audience and never matches.
	Audience string `json:"audience,omitempty"`
	// MaxAge, in seconds: the user's authentication must be at most this
	// old (OIDC Core §3.1.2.1 max_age). A browser with an older one is
	// sent to sign in again (GateStepUp), a bearer token gets RFC 9470's
	// insufficient_user_authentication. Absent: any age.
	MaxAge *int64 `json:"max_age,omitempty"`
	// ACR is the lowest authentication level the rule accepts (acr.go:
	// pwd, mfa). A browser below it is sent to sign in with acr_values,
	// which asks a user with a second factor for a code (GateStepUp); a
	// user without one can never reach it and gets 403 at once. A bearer
	// token below it gets RFC 9470's insufficient_user_authentication with
	// acr_values. Empty: any level.
	ACR string `json:"acr,omitempty"`
}

// GatePolicy is what a gate lets through.
type GatePolicy struct {
	// Bypass paths (same patterns as GateRule.Paths) need no sign-in.
	Bypass []string   `json:"bypass,omitempty"`
	Rules  []GateRule `json:"rules,omitempty"`
}

// GateDecision is the outcome for one request of an identified user.
type GateDecision int

const (
	GateAllow GateDecision = iota
	// GateDeny: the user may not have this (403).
	GateDeny
	// GateInsufficientScope: a rule wants scopes the token lacks (403
	// insufficient_scope, RFC 6750 §3.1).
	GateInsufficientScope
	// GateInvalidAudience: the token was issued for another resource
	// (RFC 6750 §3.1 invalid_token).
	GateInvalidAudience
	// GateStepUp: the user may have this, but their authentication is
	// older than the rule's max age or below its level: a browser signs in
	// again (with max_age, acr_values), a bearer request gets 401
	// insufficient_user_authentication (RFC 9470 §3). Only a user who
	// meets every other condition gets it: signing in again would not
	// change the others.
	GateStepUp
)

// GateVerdict is a decision and what it rests on.
type GateVerdict struct {
	Decision GateDecision
	// Rule is the index of the rule that decided; -1 when none did (no
	// rules: allowed; no rule matched: denied).
	Rule int
	// Scopes the deciding rule requires (the scope attribute of
	// insufficient_scope, RFC 6750 §3).
	Scopes []string
	// MaxAge of the deciding rule, in seconds (for GateStepUp).
	MaxAge int64
	// ACR of the deciding rule (for GateStepUp: the acr_values to ask).
	ACR string
	// BelowLevel: the step-up is for the rule's level (ACR), not only its
	// max age.
	BelowLevel bool
	// NoSecondFactor: denied because the rule wants a level the user
	// cannot reach, having no second factor (the 403 page says so).
	NoSecondFactor bool
}

// Validate checks the policy, naming fields by their path (rules[1].paths[0]).
func (pol *GatePolicy) Validate() error {
	for i, p := range pol.Bypass {
		if err := validGatePath(p); err != nil {
			return fmt.Errorf("bypass[%d]: %w", i, err)
		}
	}
	for i, r := range pol.Rules {
		for j, p := range r.Paths {
			if err := validGatePath(p); err != nil {
				return fmt.Errorf("rules[%d].paths[%d]: %w", i, j, err)
			}
		}
		for j, m := range r.Methods {
			if m == "" || strings.ToUpper(m) != m {
				return fmt.Errorf("rules[%d].methods[%d]: %q must be an upper-case HTTP method", i, j, m)
			}
		}
		if r.MaxAge != nil && *r.MaxAge <= 0 {
			return fmt.Errorf("rules[%d].max_age: %ds: must be at least one second", i, *r.MaxAge)
		}
		if r.ACR != "" && !ValidACR(r.ACR) {
			return fmt.Errorf("rules[%d].acr: %q: must be one of %s", i, r.ACR, strings.Join(acrValuesSupported, ", "))
		}
	}
	return nil
}

func validGatePath(p string) error {
	if p == "*" {
		return nil
	}
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%q must be * or start with /", p)
	}
	if strings.Contains(strings.TrimSuffix(p, "*"), "*") {
		return fmt.Errorf("%q: * is allowed only at the end", p)
	}
	return nil
}

// gatePathMatches matches a pattern against a cleaned request path.
func gatePathMatches(pattern, p string) bool {
	switch {
	case pattern == "*":
		return true
	case strings.HasSuffix(pattern, "/*"):
		prefix := strings.TrimSuffix(pattern, "/*")
		return p == prefix || strings.HasPrefix(p, prefix+"/")
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(p, strings.TrimSuffix(pattern, "*"))
	}
	return p == pattern
}

// CleanGatePath is the request path that rules and bypasses are matched
// against: cleaned, so /static/../admin cannot pass for /static/*.
func CleanGatePath(p string) string {
	if p == "" {
		return "/"
	}
	c := path.Clean("/" + p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

func anyPathMatches(patterns []string, p string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, pat := range patterns {
		if gatePathMatches(pat, p) {
			return true
		}
	}
	return false
}

// Bypassed reports whether the path needs no sign-in.
func (pol *GatePolicy) Bypassed(p string) bool {
	return len(pol.Bypass) > 0 && anyPathMatches(pol.Bypass, CleanGatePath(p))
}

// Evaluate applies the rules to an identified request at time now (the
// provider's clock: Provider.DecideGate).
func (pol *GatePolicy) Evaluate(method, p string, id *Identity, now time.Time) GateVerdict {
	if len(pol.Rules) == 0 {
		return GateVerdict{Decision: GateAllow, Rule: -1}
	}
	p = CleanGatePath(p)
	for i := range pol.Rules {
		r := &pol.Rules[i]
		if !r.matches(method, p) {
			continue
		}
		v := r.decide(id, now)
		v.Rule, v.Scopes, v.ACR = i, r.Scopes, r.ACR
		if r.MaxAge != nil {
			v.MaxAge = *r.MaxAge
		}
		return v
	}
	return GateVerdict{Decision: GateDeny, Rule: -1}
}

// DecideGate evaluates pol for a request of id on the provider's clock.
func (p *Provider) DecideGate(pol *GatePolicy, method, path string, id *Identity) GateVerdict {
	return pol.Evaluate(method, path, id, p.now())
}

func (r *GateRule) matches(method, cleanPath string) bool {
	return anyPathMatches(r.Paths, cleanPath) && (len(r.Methods) == 0 || slices.Contains(r.Methods, method))
}

func (r *GateRule) decide(id *Identity, now time.Time) GateVerdict {
	verdict := func(d GateDecision) GateVerdict { return GateVerdict{Decision: d} }
	if r.Audience != "" && (!id.Bearer || id.Audience != r.Audience) {
		if id.Bearer {
			return verdict(GateInvalidAudience)
		}
		return verdict(GateDeny)
	}
	if len(r.Subjects) > 0 && !slices.Contains(r.Subjects, id.Subject) {
		return verdict(GateDeny)
	}
	if len(r.Emails) > 0 {
		email, _ := id.Claims["email"].(string)
		if !slices.ContainsFunc(r.Emails, func(e string) bool { return strings.EqualFold(e, email) }) {
			return verdict(GateDeny)
		}
	}
	if len(r.Groups) > 0 {
		groups := id.Groups()
		if !slices.ContainsFunc(r.Groups, func(g string) bool { return slices.Contains(groups, g) }) {
			return verdict(GateDeny)
		}
	}
	if !coversScopes(id.Scopes, r.Scopes) {
		if id.Bearer {
			return verdict(GateInsufficientScope)
		}
		return verdict(GateDeny)
	}
	// A level the user's login is below. A browser whose user has no
	// second factor would go round the sign-in forever (the provider can
	// only give pwd), so it is refused here, saying why; a token's holder
	// may get a new token from another user, so it gets the challenge.
	if r.ACR != "" && !ACRMeets(id.ACR, r.ACR) {
		if !id.Bearer && !id.CanMultiFactor {
			return GateVerdict{Decision: GateDeny, NoSecondFactor: true}
		}
		return GateVerdict{Decision: GateStepUp, BelowLevel: true}
	}
	// Whole seconds, as the authorization endpoint counts them (OIDC Core
	// §3.1.2.1: re-authenticate when more than max_age seconds passed), so
	// a login it accepts for max_age is one this rule accepts. An unknown
	// authentication time is never recent enough.
	if r.MaxAge != nil && (id.AuthTime.IsZero() || now.Unix()-id.AuthTime.Unix() > *r.MaxAge) {
		return verdict(GateStepUp)
	}
	return verdict(GateAllow)
}
