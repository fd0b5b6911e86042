// Package caddymodule is the Caddy glue for the OpenID Connect provider.
package caddymodule
