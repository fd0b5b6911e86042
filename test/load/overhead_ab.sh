#!/usr/bin/env bash
# Compares the server CPU per client_credentials request (cc-opaque) of two
# telemetry modes of the load test (test/load/telemetry.go), alternating
# them over several rounds so that drift on a shared machine hits both
# alike: A B, B A, A B, ... Each run is one test/load/run.sh (a fresh Caddy,
# wrk, LOAD_DURATION). CPU per request is Caddy's utime+stime from
# /proc/<pid>/stat over the run divided by the requests completed (the
# driver's rate_per_caddy_core, inverted). Prints every run, the median
# and range per mode, and the ratio B/A per round (median and range).
#
#   test/load/overhead_ab.sh [A-mode] [B-mode]   (default: tracing tracing-spans-logs)
#   ROUNDS        rounds (default 6)
#   LOAD_DURATION per run (default 10s)
#   AB_OUT        keep every run's results here (default: a temp directory)
set -euo pipefail

cd "$(dirname "$0")/../.."
a=${1:-tracing}
b=${2:-tracing-spans-logs}
rounds=${ROUNDS:-6}
out=${AB_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/oidcaddy-ab-XXXXXX")}
mkdir -p "$out"

# us_per_request prints the CPU microseconds per request of one run.
us_per_request() {
	jq -r '.results[] | select(.scenario == "cc-opaque") | 1e6 / .rate_per_caddy_core' "$1/results.json"
}

echo "overhead_ab: A=$a B=$b, $rounds rounds, ${LOAD_DURATION:-10s} per run, results in $out"
for ((i = 1; i <= rounds; i++)); do
	order=("$a" "$b")
	((i % 2 == 0)) && order=("$b" "$a")
	for m in "${order[@]}"; do
		LOAD_DURATION=${LOAD_DURATION:-10s} LOAD_SCENARIOS=cc-opaque LOAD_TELEMETRY=$m LOAD_OUT="$out/$i-$m" \
			test/load/run.sh >"$out/$i-$m.log" 2>&1 || { echo "run $i $m failed, see $out/$i-$m.log" >&2; exit 1; }
		printf 'round %d %-26s %6.1f µs/request  (load average now %s)\n' "$i" "$m" \
			"$(us_per_request "$out/$i-$m")" "$(cut -d' ' -f1 /proc/loadavg)"
	done
done

{
	for ((i = 1; i <= rounds; i++)); do
		echo "$i $(us_per_request "$out/$i-$a") $(us_per_request "$out/$i-$b")"
	done
} | awk -v a="$a" -v b="$b" '
	function median(v, n,    i, j, t) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	}
	{ n++; x[n] = $2; y[n] = $3; r[n] = $3 / $2; xs[n] = $2; ys[n] = $3; rs[n] = r[n] }
	END {
		mx = median(xs, n); my = median(ys, n); mr = median(rs, n)
		printf "%-26s median %6.1f µs/request, runs %.1f-%.1f\n", a, mx, xs[1], xs[n]
		printf "%-26s median %6.1f µs/request, runs %.1f-%.1f\n", b, my, ys[1], ys[n]
		printf "ratio B/A: of medians %.2f; per round median %.2f, range %.2f-%.2f\n", my / mx, mr, rs[1], rs[n]
	}'
