#!/usr/bin/env bash
# Resident memory of the real Caddy binary as opaque access tokens pile up
# (issue 8: <= 200 MiB at 1M live tokens, back near idle after a quiet
# minute). Builds bin/caddy, then runs test/load/memory.
#   MEMORY_TOKENS   tokens to issue (default 1000000)
#   MEMORY_QUIET    quiet period afterwards (default 1m)
set -euo pipefail
cd "$(dirname "$0")/../.."
GO=${GO:-go}
make build GO="$GO"
exec "$GO" run ./test/load/memory -caddy bin/caddy -tokens "${MEMORY_TOKENS:-1000000}" -quiet "${MEMORY_QUIET:-1m}"
