package caddymodule

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	caddy.RegisterModule(new(issuerCheck))
}

// issuerCheck refuses to start a configuration in which an oidc_protect
// names an issuer that no oidc_provider of the same configuration serves.
//
// The handlers cannot check it themselves: Caddy provisions the sites of a
// configuration in an order of its own, so a gate may be provisioned before
// the provider it names, and the process-wide registry still holds the
// previous configuration's providers during a reload. Caddy does offer one
// point after every module of a configuration is provisioned and before
// the configuration replaces the running one: the Start of its apps. So
// each handler records itself in this app (created on demand, one per
// configuration, never written in a config by hand) and Start compares.
// A failed Start fails `caddy run` and keeps the old configuration on a
// reload, with the message below.
type issuerCheck struct {
	mu     sync.Mutex
	served map[string]bool
	needed map[string]bool
}

// issuerCheckApp is the app's name in a configuration's app list.
const issuerCheckApp = "oidc_protect_issuers"

// CaddyModule returns the Caddy module information.
func (*issuerCheck) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: issuerCheckApp, New: func() caddy.Module { return new(issuerCheck) }}
}

// Start fails when a gate's issuer has no provider in this configuration.
func (c *issuerCheck) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var missing []string
	for iss := range c.needed {
		if !c.served[iss] {
			missing = append(missing, iss)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return fmt.Errorf("oidc_protect: no oidc_provider in this configuration serves the issuer %s (oidc_protect's issuer must be the issuer of an oidc_provider in the same Caddy)",
		strings.Join(missing, ", "))
}

// Stop does nothing: the app holds no resources.
func (c *issuerCheck) Stop() error { return nil }

// recordIssuer notes, in the configuration being provisioned, that a
// provider serves issuer (serves=true) or that a gate needs it. It does
// nothing for a handler provisioned outside an HTTP server of a loaded
// configuration (unit tests build handlers with a bare caddy.Context, on
// which ctx.App cannot be called).
func recordIssuer(ctx caddy.Context, issuer string, serves bool) error {
	if _, inServer := ctx.Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server); !inServer {
		return nil
	}
	app, err := ctx.App(issuerCheckApp)
	if err != nil {
		return err
	}
	c := app.(*issuerCheck)
	c.mu.Lock()
	defer c.mu.Unlock()
	if serves {
		if c.served == nil {
			c.served = map[string]bool{}
		}
		c.served[issuer] = true
		return nil
	}
	if c.needed == nil {
		c.needed = map[string]bool{}
	}
	c.needed[issuer] = true
	return nil
}

// Interface guards
var _ caddy.App = (*issuerCheck)(nil)
