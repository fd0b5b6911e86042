// Command caddy is a Caddy binary with the oidc_provider module built in.
// It is what `make build`, `make run` and the end-to-end tests use; users of a
// published version can build the same thing with xcaddy (see README).
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/oidcaddy/oidcaddy/caddymodule"
)

func main() {
	caddycmd.Main()
}
