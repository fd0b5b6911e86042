#!/usr/bin/env bash
# What oidc_protect costs per request in the real Caddy binary, against the
# same proxied request unprotected and behind forward_auth to oauth2-proxy
# (issue 11's benchmark). Builds bin/caddy, then runs test/load/gate, which
# alternates the variants round after round and prints server CPU per
# request (Caddy's, plus oauth2-proxy's) and latency as ratios to plain.
# docs/performance.md ("oidc_protect") records the figures.
#
# Environment (all optional):
#   GATE_DURATION   per run of one variant (default 10s)
#   GATE_ROUNDS     rounds, every variant once per round (default 3)
#   GATE_CONNS      wrk connections, the fixed concurrency (default 16)
#   GATE_THREADS    wrk threads (default 2)
#   GATE_VARIANTS   comma-separated subset of plain, gate-cookie,
#                   gate-opaque, gate-jwt, oauth2-proxy, oauth2-proxy-jwt
#                   (default all)
#   GATE_OUT        keep results.md and the servers' logs here
#   GATE_PROFILE=1  with GATE_OUT: a CPU profile of Caddy during each
#                   variant's first run (<out>/<variant>.pprof); profiling
#                   costs CPU, so take the figures from a run without it
#   OAUTH2_PROXY    the oauth2-proxy binary; default: the one in
#                   $GATE_OAUTH2_PROXY_BIN (/tmp/oauth2-proxy-bin), installed
#                   there with `go install` when missing (an external tool,
#                   not a dependency of this module); set GATE_OAUTH2_PROXY=0
#                   to skip the forward_auth variant
set -euo pipefail
cd "$(dirname "$0")/../.."
GO=${GO:-go}
OAUTH2_PROXY_VERSION=v7.15.6

command -v wrk >/dev/null 2>&1 || { echo "gate: wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }
make build GO="$GO"

proxy=""
if [[ ${GATE_OAUTH2_PROXY:-1} != 0 ]]; then
	proxy=${OAUTH2_PROXY:-}
	if [[ -z $proxy ]]; then
		bindir=${GATE_OAUTH2_PROXY_BIN:-/tmp/oauth2-proxy-bin}
		proxy=$bindir/oauth2-proxy
		if [[ ! -x $proxy ]]; then
			# Outside the module (cd /), so go.mod is not touched.
			(cd / && GOBIN=$bindir "$GO" install "github.com/oauth2-proxy/oauth2-proxy/v7@$OAUTH2_PROXY_VERSION") || {
				echo "gate: oauth2-proxy $OAUTH2_PROXY_VERSION does not build here; running without the forward_auth variant" >&2
				proxy=""
			}
		fi
	fi
fi

args=(
	-caddy bin/caddy
	-wrk-script test/load/wrk.lua
	-duration "${GATE_DURATION:-10s}"
	-rounds "${GATE_ROUNDS:-3}"
	-conns "${GATE_CONNS:-16}"
	-threads "${GATE_THREADS:-2}"
	-oauth2-proxy "$proxy"
)
[[ -z ${GATE_VARIANTS:-} ]] || args+=(-variants "$GATE_VARIANTS")
[[ -z ${GATE_OUT:-} ]] || args+=(-out "$GATE_OUT")
[[ ${GATE_PROFILE:-0} != 1 ]] || args+=(-profile)
work=$(mktemp -d "${TMPDIR:-/tmp}/oidcaddy-gate-XXXXXX")
trap 'rm -rf "$work"' EXIT
"$GO" build -o "$work/gate" ./test/load/gate
# The driver stops Caddy and oauth2-proxy itself; they also get SIGTERM
# should it die.
"$work/gate" "${args[@]}"
