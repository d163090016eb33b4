#!/usr/bin/env bash
# bench.sh — the standard load set (`make bench`): builds the gateway and
# twinway-load, starts the gateway on a free loopback port with a temporary
# data directory, runs the workloads below (about a minute and a half), prints
# one table, stops the gateway and exits 0.
#
#   modify-1      modify, 1 WebSocket connection, response after durability
#   modify-32     modify, 32 connections
#   modify-acks   modify, 32 connections, requested-acks twin-persisted
#   read          HTTP GET of things by id, 32 keep-alive connections
#   search        HTTP search, filter + sort + size (only when the gateway
#                 answers /api/2/search/things with 200)
#   fanout        1,000 sessions receiving events, 4 writers
#   idle          10,000 idle sessions: the gateway's memory per session
#
# Environment:
#   BENCH_DURATION     length of the longer workloads (default 10s; the short
#                      ones take half)
#   BENCH_SESSIONS     idle sessions (default 10000; scaled down when the
#                      open-files limit cannot be raised far enough)
#   BENCH_JSON         also write the results as JSON lines to this file
#   BENCH_PPROF        serve the gateway's profiler on this address
#   TWINWAY_BIN, TWINWAY_LOAD_BIN
#                      use these binaries instead of building them (to compare
#                      two builds with the same load generator)
#
# The load generator runs on the same machine and competes for its cores; each
# row reports the CPU the gateway ("gw cpu") and the generator ("lg cpu") used,
# in cores.
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
duration=${BENCH_DURATION:-10s}
short=$(( ${duration%s} / 2 ))s
sessions=${BENCH_SESSIONS:-10000}

work=$(mktemp -d "${TMPDIR:-/tmp}/twinway-bench.XXXXXX")
gw_pid=""
cleanup() {
	if [ -n "$gw_pid" ] && kill -0 "$gw_pid" 2>/dev/null; then
		kill -TERM "$gw_pid" 2>/dev/null || true
		wait "$gw_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

gw=${TWINWAY_BIN:-}
load=${TWINWAY_LOAD_BIN:-}
if [ -z "$gw" ]; then
	$GO build -o "$work/twinway" ./cmd/twinway
	gw=$work/twinway
fi
if [ -z "$load" ]; then
	$GO build -o "$work/twinway-load" ./cmd/twinway-load
	load=$work/twinway-load
fi

# Each idle session is a socket in the gateway and one in the generator: both
# processes need that many descriptors and a margin.
notes=()
need=$((sessions + 1024))
soft=$(ulimit -Sn)
hard=$(ulimit -Hn)
if [ "$soft" != unlimited ] && [ "$soft" -lt "$need" ]; then
	if [ "$hard" = unlimited ] || [ "$hard" -ge "$need" ]; then
		ulimit -Sn "$need"
	else
		ulimit -Sn "$hard"
		sessions=$((hard - 1024))
		notes+=("idle: the open-files limit is $hard (hard), so $sessions sessions instead of ${BENCH_SESSIONS:-10000}")
	fi
fi
if [ "$sessions" -lt 1 ]; then
	echo "bench: the open-files limit ($hard) is too low for the idle workload" >&2
	exit 1
fi

gw_args=(--listen 127.0.0.1:0 --data "$work/data")
if [ -n "${BENCH_PPROF:-}" ]; then
	gw_args+=(--pprof "$BENCH_PPROF")
fi
# The flags name the address and data directory; a config file from the
# environment would change the defaults being measured.
env -u TWINWAY_CONFIG -u TWINWAY_PPROF "$gw" "${gw_args[@]}" >"$work/gateway.log" 2>&1 &
gw_pid=$!
addr=""
for _ in $(seq 200); do
	addr=$(sed -n 's/.*msg="gateway listening" addr=\([^ ]*\).*/\1/p' "$work/gateway.log")
	[ -n "$addr" ] && break
	if ! kill -0 "$gw_pid" 2>/dev/null; then
		echo "bench: the gateway did not start:" >&2
		cat "$work/gateway.log" >&2
		exit 1
	fi
	sleep 0.05
done
if [ -z "$addr" ]; then
	echo "bench: the gateway did not log its address" >&2
	cat "$work/gateway.log" >&2
	exit 1
fi

results=$work/results.jsonl
first=true
load_run() {
	local header=false
	if $first; then header=true; first=false; fi
	"$load" -addr "$addr" -json-out "$results" -header="$header" "$@"
}

echo "gateway $addr, $(nproc 2>/dev/null || echo '?') cores, $(date -u +%Y-%m-%dT%H:%MZ)"
load_run -label modify-1 -workload modify -conns 1 -duration "$short"
load_run -label modify-32 -workload modify -conns 32 -duration "$duration"
load_run -label modify-acks -workload modify -conns 32 -acks -duration "$duration"
load_run -label read -workload read -conns 32 -duration "$duration"

search_url="http://$addr/api/2/search/things?filter=exists(thingId)&option=size(1)"
if command -v curl >/dev/null; then
	status=$(curl -s -o /dev/null -w '%{http_code}' -u ditto:ditto "$search_url" || true)
	if [ "$status" = 200 ]; then
		load_run -label search -workload search -conns 8 -things 1000 -duration "$short"
	else
		notes+=("search: skipped, /api/2/search/things answered $status")
	fi
else
	notes+=("search: skipped, no curl to probe /api/2/search/things")
fi

load_run -label fanout -workload fanout -subscribers 1000 -writers 4 -duration "$duration"
load_run -label messages-http -workload messages -via http -devices 100 -conns 32 -duration "$duration"
load_run -label messages-ws -workload messages -via ws -devices 100 -conns 32 -duration "$duration"
load_run -label idle -workload idle -sessions "$sessions" -duration 60s

for n in "${notes[@]}"; do
	echo "note: $n"
done
if [ -n "${BENCH_JSON:-}" ]; then
	cp "$results" "$BENCH_JSON"
fi

kill -TERM "$gw_pid"
if ! wait "$gw_pid"; then
	echo "bench: the gateway did not shut down cleanly:" >&2
	tail -n 20 "$work/gateway.log" >&2
	gw_pid=""
	exit 1
fi
gw_pid=""
