package caddymodule

import (
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/oidcaddy/oidcaddy/provider"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("oidc_protect", parseProtectCaddyfile)
	// Where Caddy's own authentication handlers run (basic_auth,
	// forward_auth): before handle, route, respond and reverse_proxy, so
	// nothing in the site answers before the gate has decided.
	httpcaddyfile.RegisterDirectiveOrder("oidc_protect", httpcaddyfile.After, "forward_auth")
}

func parseProtectCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var g Protect
	err := g.UnmarshalCaddyfile(h.Dispenser)
	return &g, err
}

// UnmarshalCaddyfile sets up the gate from Caddyfile tokens:
//
//	oidc_protect {
//		issuer <url>
//		allow <path>[,<path>...] [method <M>[,<M>...]] [group <g>[,...]] [sub <s>[,...]]
//		      [email <e>[,...]] [scope <s>[,...]] [audience <resource>] [max_age <duration>]
//		bypass <path>...
//		header_up <name> <value> [<name> <value>]...
//		assertion <header>
//	}
func (g *Protect) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.Err("oidc_protect takes no arguments; put the issuer in its block")
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch sub := d.Val(); sub {
		case "issuer":
			if g.Issuer != "" {
				return d.Err("issuer already specified")
			}
			if err := oneArg(d, &g.Issuer); err != nil {
				return err
			}
		case "allow":
			rule, err := parseAllowRule(d)
			if err != nil {
				return err
			}
			g.Rules = append(g.Rules, rule)
		case "bypass":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.Err("usage: bypass <path>...")
			}
			g.Bypass = append(g.Bypass, args...)
		case "header_up":
			args := d.RemainingArgs()
			if len(args) == 0 || len(args)%2 != 0 {
				return d.Err("usage: header_up <name> <value> [<name> <value>]...")
			}
			for i := 0; i < len(args); i += 2 {
				g.HeaderUp = append(g.HeaderUp, HeaderFromClaims{Name: args[i], Value: args[i+1]})
			}
		case "assertion":
			if g.Assertion != "" {
				return d.Err("assertion already specified")
			}
			if err := oneArg(d, &g.Assertion); err != nil {
				return err
			}
		default:
			return d.Errf("unrecognized oidc_protect subdirective %q (expected issuer, allow, bypass, header_up or assertion)", sub)
		}
	}
	if g.Issuer == "" {
		return d.Err("oidc_protect: issuer is required")
	}
	// The rules' own checks (path patterns, methods) with this line.
	pol := provider.GatePolicy{Bypass: g.Bypass, Rules: g.Rules}
	if err := pol.Validate(); err != nil {
		return d.Errf("oidc_protect: %v", err)
	}
	return nil
}

func parseAllowRule(d *caddyfile.Dispenser) (provider.GateRule, error) {
	var r provider.GateRule
	if !d.NextArg() {
		return r, d.Err("usage: allow <path> [method|group|sub|email|scope|audience|max_age|acr <value>]...")
	}
	r.Paths = splitList(d.Val())
	for d.NextArg() {
		cond := d.Val()
		if !d.NextArg() {
			return r, d.Errf("allow: %s needs a value", cond)
		}
		vals := splitList(d.Val())
		switch cond {
		case "method":
			for _, m := range vals {
				r.Methods = append(r.Methods, strings.ToUpper(m))
			}
		case "group":
			r.Groups = append(r.Groups, vals...)
		case "sub":
			r.Subjects = append(r.Subjects, vals...)
		case "email":
			r.Emails = append(r.Emails, vals...)
		case "scope":
			r.Scopes = append(r.Scopes, vals...)
		case "audience":
			if r.Audience != "" || len(vals) != 1 {
				return r, d.Err("allow: one audience per rule")
			}
			r.Audience = vals[0]
		case "max_age":
			if r.MaxAge != nil {
				return r, d.Err("allow: one max_age per rule")
			}
			dur, err := caddy.ParseDuration(d.Val())
			if err != nil {
				return r, d.Errf("allow: max_age: %v", err)
			}
			// Whole seconds, as OIDC's max_age counts; a fraction rounds
			// up. Whether it is positive is the policy's rule (Validate).
			secs := int64(dur / time.Second)
			if dur%time.Second > 0 {
				secs++
			}
			r.MaxAge = &secs
		case "acr":
			// The lowest level the rule accepts; which values exist is the
			// policy's rule (Validate).
			if r.ACR != "" || len(vals) != 1 {
				return r, d.Err("allow: one acr per rule (the lowest level accepted: pwd or mfa)")
			}
			r.ACR = vals[0]
		default:
			return r, d.Errf("allow: unknown condition %q (expected method, group, sub, email, scope, audience, max_age or acr)", cond)
		}
	}
	return r, nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

var _ caddyfile.Unmarshaler = (*Protect)(nil)
