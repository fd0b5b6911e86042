package caddymodule

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// unmarshalStorage parses the storage subdirective:
//
//	storage <dir>                   # Badger in <dir> (the form of earlier versions)
//	storage badger [{ dir <dir> }]
//	storage postgres {
//		dsn <connection string>
//		max_conns <n>
//		simple_protocol
//		timeout <duration>
//		reap_interval <duration>
//	}
//
// "badger" and "postgres" are backend names; a directory of that name is
// written ./badger.
func (h *Handler) unmarshalStorage(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	name := d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	var backend any
	switch name {
	case "badger":
		b := new(BadgerStorage)
		for nesting := d.Nesting(); d.NextBlock(nesting); {
			switch d.Val() {
			case "dir":
				if err := oneArg(d, &b.Dir); err != nil {
					return err
				}
			default:
				return d.Errf("unrecognized storage badger option %q (expected dir)", d.Val())
			}
		}
		backend = b
	case "postgres":
		p := new(PostgresStorage)
		for nesting := d.Nesting(); d.NextBlock(nesting); {
			switch opt := d.Val(); opt {
			case "dsn":
				if err := oneArg(d, &p.DSN); err != nil {
					return err
				}
			case "max_conns":
				var v string
				if err := oneArg(d, &v); err != nil {
					return err
				}
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 {
					return d.Errf("storage postgres: max_conns must be a positive number, got %q", v)
				}
				p.MaxConns = n
			case "simple_protocol":
				if d.NextArg() {
					return d.ArgErr()
				}
				p.SimpleProtocol = true
			case "timeout", "reap_interval":
				var v string
				if err := oneArg(d, &v); err != nil {
					return err
				}
				dur, err := caddy.ParseDuration(v)
				if err != nil || dur <= 0 {
					return d.Errf("storage postgres: %s must be a positive duration, got %q", opt, v)
				}
				if opt == "timeout" {
					p.Timeout = caddy.Duration(dur)
				} else {
					p.ReapInterval = caddy.Duration(dur)
				}
			default:
				return d.Errf("unrecognized storage postgres option %q (expected dsn, max_conns, simple_protocol, timeout, reap_interval)", opt)
			}
		}
		if p.DSN == "" {
			return d.Err("storage postgres: dsn is required, e.g. dsn {env.OIDC_DATABASE_URL}")
		}
		backend = p
	default:
		// The shorthand: a directory for Badger.
		if d.NextBlock(d.Nesting()) {
			return d.Errf("storage %s: unknown storage backend (expected badger or postgres, or a directory without a block)", name)
		}
		backend = &BadgerStorage{Dir: name}
		name = "badger"
	}
	var warnings []caddyconfig.Warning
	h.StorageRaw = caddyconfig.JSONModuleObject(backend, "backend", name, &warnings)
	if len(warnings) > 0 {
		return d.Errf("storage: %s", warnings[0].Message)
	}
	return nil
}
