#!/usr/bin/env bash
# Load test of the real Caddy binary with the oidc_provider module, on
# loopback only. Builds bin/caddy (make build) and the Go driver, then runs
# every scenario for LOAD_DURATION and prints a table; docs/performance.md
# says what the scenarios are and records the figures. `make load` runs this.
#
# Environment (all optional):
#   LOAD_DURATION   per scenario (default 10s; 9 scenarios, the whole run
#                   stays under 3 minutes with a warm build cache)
#   LOAD_CONNS      connections for the HTTP scenarios (default 32)
#   LOAD_THREADS    wrk threads (default 2)
#   LOAD_GEN        wrk, go or auto (default auto: wrk when installed)
#   LOAD_FLOW_WORKERS    goroutines doing full code flows (default 4; at most 5, the login throttle's sign-ins in flight per address)
#   LOAD_SILENT_WORKERS  goroutines doing silent code flows (default 16)
#   LOAD_SCENARIOS  comma-separated scenario names (default all; see
#                   `go run ./test/load -list`)
#   LOAD_PROFILE    scenario names (or all) to CPU-profile during the load
#   LOAD_OUT        keep results.json, results.md and profiles here
#   LOAD_TELEMETRY  telemetry of the Caddy under test (default metrics): off,
#                   metrics, tracing, tracing-spans, tracing-spans-logs or
#                   tracing-span-events-logs; spans and log records go to a
#                   loopback OTLP sink in the driver (test/load/telemetry.go)
#   LOAD_INSTALL_WRK=1  apt-get install wrk when it is missing (as root)
#   LOAD_POSTGRES=1 store in PostgreSQL instead of Badger: starts a throwaway
#                   cluster (Debian's initdb/pg_ctl, as the postgres user when
#                   run as root) on a free loopback port in the run's
#                   directory; the provider Caddys then sit behind a front
#                   Caddy (reverse_proxy, lb_policy round_robin)
#   LOAD_INSTANCES  with LOAD_POSTGRES=1: how many Caddy instances share the
#                   database behind the front proxy (default 1)
set -euo pipefail

cd "$(dirname "$0")/../.."
GO=${GO:-go}

if ! command -v wrk >/dev/null 2>&1; then
	if [[ ${LOAD_INSTALL_WRK:-0} == 1 && $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null
	else
		echo "load: wrk is not installed (apt-get install -y wrk, or LOAD_INSTALL_WRK=1); using the Go load loop," \
			"which takes more CPU per request than wrk: figures are not comparable with wrk's" >&2
	fi
fi

echo "load: load average before the build: $(cut -d' ' -f1-3 /proc/loadavg)"
make build GO="$GO"

work=$(mktemp -d "${TMPDIR:-/tmp}/oidcaddy-load-XXXXXX")
driver_pid=""
# stop_caddys stops any Caddy the driver started and left running (the
# driver lists their pids in $work/run/caddy.pids), before its storage is
# removed: Badger cannot finish its shutdown in a deleted directory.
stop_caddys() {
	local pid i
	[[ -f $work/run/caddy.pids ]] || return 0
	while read -r pid; do
		# Only a process that is still that Caddy (its command line names
		# this run's directory), never a reused pid.
		[[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$work/" || continue
		kill -TERM "$pid" 2>/dev/null || continue
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$pid" 2>/dev/null || true
	done <"$work/run/caddy.pids"
}
pg_ctl_bin=""
pg_dir=""
pg_data=""
# as_pg runs a PostgreSQL program as the postgres user when we are root
# (PostgreSQL refuses to run as root).
as_pg() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}
stop_postgres() {
	[[ -n $pg_data && -f $pg_data/postmaster.pid ]] || return 0
	as_pg "$pg_ctl_bin" -D "$pg_data" -m fast -w stop >/dev/null 2>&1 || true
}
cleanup() {
	# The driver stops Caddy and wrk itself on SIGTERM; this covers an
	# interrupted script and a driver that died.
	if [[ -n $driver_pid ]] && kill -0 "$driver_pid" 2>/dev/null; then
		kill -TERM "$driver_pid" 2>/dev/null || true
		wait "$driver_pid" 2>/dev/null || true
	fi
	stop_caddys
	stop_postgres
	rm -rf "$work"
	[[ -z $pg_dir ]] || rm -rf "$pg_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$GO" build -o "$work/load" ./test/load

args=(
	-caddy bin/caddy
	-wrk-script test/load/wrk.lua
	-duration "${LOAD_DURATION:-10s}"
	-conns "${LOAD_CONNS:-32}"
	-threads "${LOAD_THREADS:-2}"
	-gen "${LOAD_GEN:-auto}"
	-flow-workers "${LOAD_FLOW_WORKERS:-4}"
	-silent-workers "${LOAD_SILENT_WORKERS:-16}"
	-scenarios "${LOAD_SCENARIOS:-all}"
	-workdir "$work/run"
	-telemetry "${LOAD_TELEMETRY:-metrics}"
)
if [[ ${LOAD_POSTGRES:-0} == 1 ]]; then
	pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
	if [[ -z $pg_bin || ! -x $pg_bin/initdb ]]; then
		echo "load: LOAD_POSTGRES=1 needs Debian's postgresql package (initdb, pg_ctl under /usr/lib/postgresql/*/bin)" >&2
		exit 1
	fi
	pg_ctl_bin=$pg_bin/pg_ctl
	# Not under $work: the postgres user cannot enter a root-only directory.
	pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/oidcaddy-load-pg-XXXXXX")
	pg_data=$pg_dir/data
	[[ $(id -u) -eq 0 ]] && chown postgres: "$pg_dir"
	pg_password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
	(umask 077 && echo "$pg_password" >"$pg_dir/pwfile")
	[[ $(id -u) -eq 0 ]] && chown postgres: "$pg_dir/pwfile"
	as_pg "$pg_bin/initdb" -D "$pg_data" -U load --pwfile="$pg_dir/pwfile" --auth-local=trust --auth-host=scram-sha-256 \
		-E UTF8 --locale=C >"$pg_dir/initdb.log" 2>&1 || { cat "$pg_dir/initdb.log" >&2; exit 1; }
	rm -f "$pg_dir/pwfile"
	# A loopback port nobody answers on, from the ephemeral range's upper part.
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		pg_port=$((40000 + RANDOM % 20000))
		(exec 3<>"/dev/tcp/127.0.0.1/$pg_port") 2>/dev/null || break
	done
	# The same server settings as the tests' cluster (internal/pgtest):
	# fsync on, default synchronous_commit.
	as_pg "$pg_ctl_bin" -D "$pg_data" -l "$pg_dir/server.log" -w -t 60 \
		-o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=32MB" start >/dev/null
	export LOAD_POSTGRES_ADMIN_DSN="postgres://load:$pg_password@127.0.0.1:$pg_port/postgres?sslmode=disable"
	LOAD_POSTGRES_PID=$(head -n1 "$pg_data/postmaster.pid")
	export LOAD_POSTGRES_PID
	args+=(-postgres -instances "${LOAD_INSTANCES:-1}")
	echo "load: PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port, ${LOAD_INSTANCES:-1} instance(s) behind a round-robin reverse_proxy"
fi
if [[ -n ${LOAD_PROFILE:-} ]]; then
	args+=(-profile "$LOAD_PROFILE")
fi
if [[ -n ${LOAD_OUT:-} ]]; then
	args+=(-out "$LOAD_OUT")
fi

# The driver stops itself after (duration + 6s) per scenario + 30s, 174s by
# default. timeout is the outer bound should that fail: it signals the
# driver's whole process group (the driver, Caddy, wrk).
limit=200s
if [[ -n ${LOAD_DURATION:-} ]]; then
	limit=15m
fi
timeout --kill-after=20s "$limit" "$work/load" "${args[@]}" &
driver_pid=$!
status=0
wait "$driver_pid" || status=$?
driver_pid=""
exit "$status"
