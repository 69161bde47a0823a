#!/bin/sh
# bench/cost.sh — what one echoed message costs each server, in counts that do not drift.
#
# CPU time per message (bench/echo.sh) moves by up to 30 % between runs on a shared VM. These
# counts do not:
#   instr/msg     user-space instructions per message, counted by valgrind's callgrind
#                 between a reset and a dump taken around the load (start-up excluded);
#                 the same binary and load give the same count on a busy machine;
#   syscalls/msg  system calls per message (the raw_syscalls:sys_enter tracepoint, perf stat);
#   cswitch/msg   context switches per message (the server went to sleep and was woken).
# Kernel work inside each call (the TCP stack) is in neither count; it is the same for every
# server that makes the same calls, and CPU time (bench/echo.sh) shows it.
#
# Each server runs pinned to CPU 0, the load (sockit bench, 64 B ping-pong, a fixed number of
# messages) on CPU 1. Prints a table with ratios to libuv and to the hand-written epoll server
# and appends it, with date, machine and commands, to docs/benchmarks.md (unless --no-record).
#
# Usage: bench/cost.sh [--messages N] [--conns "50 500"] [--no-record]
set -eu

MESSAGES=200000
CONNS="50 500"
RECORD=1
while [ $# -gt 0 ]; do
    case "$1" in
    --messages) MESSAGES=$2; shift ;;
    --conns) CONNS=$2; shift ;;
    --no-record) RECORD=0 ;;
    *) echo "usage: $0 [--messages N] [--conns \"50 500\"] [--no-record]" >&2; exit 2 ;;
    esac
    shift
done

for tool in valgrind callgrind_control perf; do
    command -v $tool >/dev/null || { echo "bench: $tool is not installed (scripts/deps.sh installs it)" >&2; exit 1; }
done

BUILD=${BUILD:-build}
SOCKIT=$BUILD/sockit
ANCHORS=$BUILD/bench
PORT=${PORT:-18000}
SERVER_CPU=0
OUT=$(mktemp -d /tmp/sockit-cost.XXXXXX)
trap 'stop_server; rm -rf "$OUT"' EXIT
trap 'exit 130' INT TERM

. "$(dirname "$0")/servers.sh"

load() {
    taskset -c 1 "$SOCKIT" bench "tcp://127.0.0.1:$PORT" -c "$1" -n "$MESSAGES" -d 600 --json -q \
        >"$OUT/load.json" 2>"$OUT/load.err" || true
    msgs=$(sed -n 's/.*"messages":\([0-9]*\).*/\1/p' "$OUT/load.json")
    [ "${msgs:-0}" -gt 0 ] || fail "the load on $PORT failed: $(cat "$OUT/load.err")"
}

# Syscalls and context switches per message of server $1 under $2 connections: sets $calls to
# "syscalls/msg cswitch/msg". (Not called in $(...): the server's pid and port must persist.)
count_calls() {
    start_server "$1"
    perf stat -x, -e raw_syscalls:sys_enter,context-switches -p "$server_pid" -o "$OUT/perf" &
    perf_pid=$!
    sleep 0.5 # perf attached
    load "$2"
    kill -INT $perf_pid
    wait $perf_pid 2>/dev/null || true
    stop_server
    calls=$(awk -F, -v m="$msgs" '$3 == "raw_syscalls:sys_enter" && $1 ~ /^[0-9]+$/ { s = $1 }
        $3 == "context-switches" && $1 ~ /^[0-9]+$/ { c = $1 }
        END { if (s != "" && c != "") printf "%.3f %.3f\n", s / m, c / m }' "$OUT/perf")
    [ -n "$calls" ] || fail "perf stat counted nothing for $1: $(cat "$OUT/perf")"
}

# User-space instructions per message of server $1 under $2 connections: sets $ir.
count_instructions() {
    start_server "$1" valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.%p" --trace-children=no
    callgrind_control -z "$server_pid" >/dev/null 2>&1
    load "$2"
    callgrind_control -d "$server_pid" >/dev/null 2>&1
    stop_server
    dump=$(ls "$OUT"/cg.*.1 2>/dev/null | head -1)
    [ -n "$dump" ] || fail "callgrind wrote no dump for $1: $(cat "$OUT/server.err")"
    ir=$(awk -v m="$msgs" '/^(summary|totals):/ { ir = $2 } END { if (ir != "") printf "%.0f\n", ir / m }' "$dump")
    [ -n "$ir" ] || fail "no instruction count in the callgrind dump for $1"
    rm -f "$OUT"/cg.*
}

SERVERS=${SERVERS:-"sockit-uring sockit-epoll sockit-poll epoll libuv"}
printf '%-14s %6s %10s %8s %8s %13s %11s\n' server conns instr/msg vs_libuv vs_epoll syscalls/msg cswitch/msg >"$OUT/table"
for conns in $CONNS; do
    for s in $SERVERS; do
        count_instructions "$s" "$conns"
        count_calls "$s" "$conns"
        echo "$ir $calls" >"$OUT/$s.$conns"
        echo "bench: $s at $conns connections: $ir instructions, $calls syscalls and switches per message" >&2
    done
    uv_ir=0 ep_ir=0
    [ ! -f "$OUT/libuv.$conns" ] || read -r uv_ir _ <"$OUT/libuv.$conns"
    [ ! -f "$OUT/epoll.$conns" ] || read -r ep_ir _ <"$OUT/epoll.$conns"
    for s in $SERVERS; do
        read -r ir sc cs <"$OUT/$s.$conns"
        awk -v s="$s" -v c="$conns" -v i="$ir" -v u="$uv_ir" -v e="$ep_ir" -v sc="$sc" -v cs="$cs" \
            'BEGIN { printf "%-14s %6d %10d %7.2fx %7.2fx %13.3f %11.3f\n", s, c, i,
                     (u > 0 ? i / u : 0), (e > 0 ? i / e : 0), sc, cs }' >>"$OUT/table"
    done
done
cat "$OUT/table"

if [ "$RECORD" = 1 ]; then
    record "Cost per message" "bench/cost.sh --messages $MESSAGES --conns \"$CONNS\"" <<EOT
Load: \`taskset -c 1 sockit bench tcp://127.0.0.1:PORT -c N -n $MESSAGES\` (64 B ping-pong); servers as in
bench/echo.sh under \`taskset -c 0 valgrind --tool=callgrind\` (instructions, reset and dumped
around the load with callgrind_control) and, in a second run, under
\`perf stat -e raw_syscalls:sys_enter,context-switches -p PID\` (calls and switches).
EOT
fi
