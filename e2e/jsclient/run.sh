#!/usr/bin/env bash
# Runs Eclipse Ditto's JavaScript client (compat.mjs) against a freshly built twinway gateway.
# Needs only Go, node and npm. Exits with node's exit code.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

work="$(mktemp -d "${TMPDIR:-/tmp}/twinway-jsclient.XXXXXX")"
gateway_pid=""
cleanup() {
  if [[ -n "$gateway_pid" ]] && kill -0 "$gateway_pid" 2>/dev/null; then
    kill "$gateway_pid" 2>/dev/null || true
    wait "$gateway_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "# building the gateway"
(cd "$repo" && go build -o "$work/twinway" ./cmd/twinway)

mkdir -p "$work/data"
: >"$work/gateway.log"
"$work/twinway" --listen 127.0.0.1:0 --data "$work/data" 2>"$work/gateway.log" &
gateway_pid=$!

addr=""
for _ in $(seq 1 100); do
  addr="$(sed -n 's/.*msg="gateway listening".*addr=\([0-9.:]*\).*/\1/p' "$work/gateway.log" | head -n 1 || true)"
  [[ -n "$addr" ]] && break
  if ! kill -0 "$gateway_pid" 2>/dev/null; then
    echo "gateway exited before listening:" >&2
    cat "$work/gateway.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ -z "$addr" ]]; then
  echo "gateway did not log its address within 10 s:" >&2
  cat "$work/gateway.log" >&2
  exit 1
fi
echo "# gateway listening on $addr"

cd "$here"
if [[ ! -d node_modules ]]; then
  npm ci --no-audit --no-fund
fi

set +e
TWINWAY_ADDR="$addr" node compat.mjs
rc=$?
set -e
if [[ $rc -ne 0 && -n "${TWINWAY_SHOW_LOG:-}" ]]; then
  echo "# gateway log:" >&2
  cat "$work/gateway.log" >&2
fi
exit $rc
