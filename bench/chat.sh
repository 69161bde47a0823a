#!/bin/sh
# bench/chat.sh — WebSocket chat servers side by side under the same load, on this machine, now.
#
# Servers: sockit chat (its default backend; sockit-epoll, not run unless named in --servers,
# forces epoll), node's ws (bench/anchors/chat_node.js) and libwebsockets
# (bench/anchors/chat_lws.c), all speaking docs/chat-protocol.md; each is pinned to CPU 0 and
# the load client (build/bench/chat_load) to CPU 1, the same way for every server, and each
# measurement starts a fresh server. RUNS interleaved rounds give every server:
#   - fan-out: N clients (100 and 1000) join one room, K of them say 64 B at a fixed aggregate
#     rate; a sweep of rising rates (x1.25, then x1.05 above the best step) finds the highest
#     backlog-free deliveries/s (a step is backlogged when deliveries lag sends by more than
#     2 % at the end of its window, 5 % with --quick; a sweep ends after two backlogged steps
#     in a row or a delivery missing after the drain), with the server's CPU time per
#     delivery at that step;
#   - a fixed 100k deliveries/s: end-to-end latency p50/p99 (from the send time in each text)
#     and the server's CPU per delivery under the same load for all;
#   - handshakes/s: HANDSHAKES clients, a room each, 64 handshakes in flight (connect, upgrade,
#     join, welcome);
#   - memory per idle connection: IDLE clients joined in rooms of 100, the server's VmRSS
#     after minus before, per connection.
# Server CPU time is the sum over the server's threads of /proc/PID/task/*/schedstat over the
# measured window. Medians over the rounds are printed with ratios to node and to lws, and
# appended with the date, machine and exact commands to docs/benchmarks.md (unless
# --no-record). Every run checks that every message reached every client; for sockit, that
# its --json counts agree with the client's (messages, joins, nothing refused or dropped).
#
# Usage: bench/chat.sh [--quick] [--seconds N] [--runs N] [--clients "100 1000"]
#                      [--servers "sockit sockit-epoll node lws"] [--fixed-rate D] [--idle M]
#                      [--handshakes H] [--no-refine] [--no-record]
#        bench/chat.sh --redis [--quick] [--runs N] [--seconds N] [--no-record]
#                      (one room on one node, then over two sharing it through Redis:
#                      bench/chat_redis.sh)
set -eu

SECONDS_PER_RUN=2
WARMUP=1
RUNS=3
CLIENTS="100 1000"
SERVERS="sockit node lws"
SENDERS=10
SIZE=64
FIXED=100000
IDLE=10000
HANDSHAKES=5000
SWEEP_START=40000
SWEEP_FACTOR=1.25
SWEEP_MAX=2000000
BACKLOG_PCT=2
REFINE=1
RECORD=1
usage() {
    echo "usage: $0 [--quick] [--seconds N] [--runs N] [--clients \"100 1000\"]" \
        "[--servers \"sockit node lws\"] [--fixed-rate D] [--idle M] [--handshakes H]" \
        "[--no-refine] [--no-record]" >&2
    exit 2
}
[ "${1:-}" = --redis ] && shift && exec "$(dirname "$0")/chat_redis.sh" "$@" # rooms over nodes
while [ $# -gt 0 ]; do
    case "$1" in
    --seconds | --runs | --clients | --servers | --fixed-rate | --idle | --handshakes)
        [ $# -gt 1 ] || usage ;;
    esac
    case "$1" in
    --quick) SECONDS_PER_RUN=1; WARMUP=0.5; RUNS=1; IDLE=2000; HANDSHAKES=2000; SWEEP_FACTOR=1.5; BACKLOG_PCT=5; REFINE=0 ;;
    --seconds) SECONDS_PER_RUN=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --clients) CLIENTS=$2; shift ;;
    --servers) SERVERS=$2; shift ;;
    --fixed-rate) FIXED=$2; shift ;;
    --idle) IDLE=$2; shift ;;
    --handshakes) HANDSHAKES=$2; shift ;;
    --no-refine) REFINE=0 ;;
    --no-record) RECORD=0 ;;
    *) usage ;;
    esac
    shift
done
for s in $SERVERS; do
    case "$s" in sockit | sockit-epoll | node | lws) ;; *) usage ;; esac
done

BUILD=${BUILD:-build}
SOCKIT=$BUILD/sockit
ANCHORS=$BUILD/bench
LOAD=$ANCHORS/chat_load
SERVER_CPU=0
CLIENT_CPU=1
PORT=${PORT:-18700}
OUT=$(mktemp -d /tmp/sockit-chat-bench.XXXXXX)
trap 'stop_server; rm -rf "$OUT"' EXIT
trap 'exit 130' INT TERM

# shellcheck source=bench/servers.sh
. "$(dirname "$0")/servers.sh"

for f in "$SOCKIT" "$LOAD" "$ANCHORS/chat_lws" "$ANCHORS/send_floor"; do
    [ -x "$f" ] || fail "$f is not built: run make all anchors"
done
command -v node >/dev/null || fail "node is missing: make deps installs it"
[ -d tests/node/node_modules/ws ] || fail "node's ws is missing: make anchors installs it"

# Both sides hold IDLE connections: raise the descriptor limit to the hard one, inherited by
# every server and the client. (ulimit -n and -H: in dash, bash and busybox sh alike.)
# shellcheck disable=SC3045
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# shellcheck disable=SC3045
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((IDLE + 64)) ] ||
    fail "ulimit -n is $(ulimit -n) (hard $(ulimit -Hn)): $IDLE idle connections need more"

# The command line of each chat server; "@PORT@" is replaced by the port. sockit's limits are
# lifted so that a fair run drops nobody: no rate limit in reach, 64 MiB of queue per client.
chat_cmd() {
    case "$1" in
    sockit) echo "$SOCKIT chat -l tcp://127.0.0.1:@PORT@ --rate 100000 --max-queue 65536 --max-clients 100000 --quiet --json" ;;
    sockit-epoll) echo "$SOCKIT chat -l tcp://127.0.0.1:@PORT@ --backend epoll --rate 100000 --max-queue 65536 --max-clients 100000 --quiet --json" ;;
    node) echo "node bench/anchors/chat_node.js @PORT@" ;;
    lws) echo "$ANCHORS/chat_lws @PORT@" ;;
    esac
}

# start_chat NAME: the server on a new port, pinned to SERVER_CPU; returns once it listens.
start_chat() {
    PORT=$((PORT + 1))
    while in_use $PORT tcp; do
        PORT=$((PORT + 1)) # taken by something else: never measure a stranger
    done
    cmd=$(chat_cmd "$1" | sed "s/@PORT@/$PORT/g")
    # shellcheck disable=SC2086
    taskset -c "$SERVER_CPU" $cmd >"$OUT/server.out" 2>"$OUT/server.err" &
    server_pid=$!
    i=0
    until in_use $PORT tcp; do
        i=$((i + 1))
        [ $i -lt 400 ] || fail "$1 did not start: $(cat "$OUT/server.err")"
        kill -0 "$server_pid" 2>/dev/null || fail "$1 exited: $(cat "$OUT/server.err")"
        sleep 0.05
    done
}

json() { sed -n "s/.*\"$1\":\\([0-9.a-z]*\\).*/\\1/p"; }

# load NAME ARGS...: one run of the load client against a fresh NAME; its JSON lines in
# $OUT/run.json. Stops the server after, and checks what both sides counted.
load() {
    name=$1
    shift
    start_chat "$name"
    timeout 900 taskset -c $CLIENT_CPU "$LOAD" "ws://127.0.0.1:$PORT" --server-pid "$server_pid" "$@" \
        >"$OUT/run.json" 2>"$OUT/run.err" || true
    stop_server
    [ -s "$OUT/run.json" ] || fail "the load on $name failed: $(cat "$OUT/run.err")"
    check "$name"
}

# check NAME: warn about what the last run lost, and for sockit compare its counts with ours.
check() {
    last=$(tail -1 "$OUT/run.json")
    closed=$(echo "$last" | json closed)
    lost=$(echo "$last" | json lost)
    [ "${closed:-0}" = 0 ] || echo "bench: WARNING: $1: $closed clients closed: $(head -3 "$OUT/run.err")" >&2
    if [ "${lost:-0}" != 0 ] && [ "$(echo "$last" | json backlog)" = true ]; then
        echo "bench: $1: a backlogged step was not drained within 10 s ($lost deliveries left)" >&2
    elif [ "${lost:-0}" != 0 ]; then
        echo "bench: WARNING: $1: $lost deliveries missing after the drain" >&2
    fi
    case "$1" in sockit*) ;; *) return 0 ;; esac
    srv=$(cat "$OUT/server.out")
    sent=$(echo "$last" | json sent_total)
    if [ -n "$sent" ] && [ "$(echo "$srv" | json messages)" != "$sent" ]; then
        echo "bench: WARNING: sockit counted $(echo "$srv" | json messages) messages, the client sent $sent" >&2
    fi
    for k in refused dropped_slow; do
        v=$(echo "$srv" | json $k)
        [ "${v:-0}" = 0 ] || echo "bench: WARNING: sockit chat: $k $v ($srv)" >&2
    done
}

LOAD_ARGS="-k $SENDERS -s $SIZE -w $WARMUP -d $SECONDS_PER_RUN --backlog-pct $BACKLOG_PCT"

# sweep NAME N: the highest backlog-free step of a sweep; prints "deliveries_per_s cpu_us
# p99_ms" (a stall the server recovered from within the window is no backlog, but shows in
# the p99).
sweep() {
    # shellcheck disable=SC2086
    load "$1" -n "$2" $LOAD_ARGS -r $SWEEP_START --sweep $SWEEP_FACTOR --max-rate $SWEEP_MAX --patience 2
    best=$(grep '"backlog":false' "$OUT/run.json" | grep '"lost":0,' | tail -1)
    if [ "$REFINE" = 1 ] && [ -n "$best" ]; then
        rate=$(echo "$best" | json rate)
        top=$(awk -v r="$rate" -v f=$SWEEP_FACTOR 'BEGIN { printf "%.0f", r * f }')
        cp "$OUT/run.json" "$OUT/coarse.json"
        # shellcheck disable=SC2086
        load "$1" -n "$2" $LOAD_ARGS -r "$(awk -v r="$rate" 'BEGIN { printf "%.0f", r * 1.05 }')" \
            --sweep 1.05 --max-rate "$top" --patience 2
        fine=$(grep '"backlog":false' "$OUT/run.json" | grep '"lost":0,' | tail -1)
        [ -z "$fine" ] || best=$fine
    fi
    [ -n "$best" ] || { echo "0 0 0"; return; }
    awk -v r="$(echo "$best" | json deliveries_per_s)" -v c="$(echo "$best" | json cpu_us_per_delivery)" \
        -v p99="$(echo "$best" | json p99_us)" 'BEGIN { printf "%.0f %.3f %.2f\n", r, c, p99 / 1000 }'
}

# fixed NAME N: prints "deliveries_per_s p50_ms p99_ms cpu_us backlog(0/1)".
fixed() {
    # shellcheck disable=SC2086
    load "$1" -n "$2" $LOAD_ARGS -r "$FIXED"
    l=$(tail -1 "$OUT/run.json")
    b=0
    [ "$(echo "$l" | json backlog)" = false ] || b=1
    awk -v r="$(echo "$l" | json deliveries_per_s)" -v p50="$(echo "$l" | json p50_us)" \
        -v p99="$(echo "$l" | json p99_us)" -v c="$(echo "$l" | json cpu_us_per_delivery)" -v b=$b \
        'BEGIN { printf "%.0f %.2f %.2f %.3f %d\n", r, p50 / 1000, p99 / 1000, c, b }'
}

# handshakes NAME: prints "handshakes_per_s cpu_us_per_handshake".
handshakes() {
    load "$1" --idle "$HANDSHAKES" --room-size 1 -c 64
    l=$(tail -1 "$OUT/run.json")
    echo "$(echo "$l" | json handshakes_per_s) $(echo "$l" | json cpu_us_per_handshake)"
}

# idle NAME: prints "bytes_per_connection".
idle() {
    load "$1" --idle "$IDLE" --room-size 100 -c 64
    tail -1 "$OUT/run.json" | json bytes_per_conn
}

for s in $SERVERS; do
    for part in hs idle $(for n in $CLIENTS; do echo "sweep.$n fixed.$n"; done); do
        : >"$OUT/$s.$part.runs"
    done
done
r=0
while [ $r -lt "$RUNS" ]; do
    r=$((r + 1))
    for n in $CLIENTS; do
        for s in $SERVERS; do
            sweep "$s" "$n" >>"$OUT/$s.sweep.$n.runs"
            echo "bench: round $r/$RUNS $s N=$n sweep: $(tail -1 "$OUT/$s.sweep.$n.runs")" >&2
        done
        for s in $SERVERS; do
            fixed "$s" "$n" >>"$OUT/$s.fixed.$n.runs"
            echo "bench: round $r/$RUNS $s N=$n at $FIXED/s: $(tail -1 "$OUT/$s.fixed.$n.runs")" >&2
        done
    done
    for s in $SERVERS; do
        handshakes "$s" >>"$OUT/$s.hs.runs"
        idle "$s" >>"$OUT/$s.idle.runs"
        echo "bench: round $r/$RUNS $s handshakes/s, cpu_us: $(tail -1 "$OUT/$s.hs.runs"); bytes per idle connection: $(tail -1 "$OUT/$s.idle.runs")" >&2
    done
done
for f in "$OUT"/*.runs; do median "$f" >"${f%.runs}"; done

# The kernel's share at the fixed rate: one 128-byte write() to each of N loopback TCP sockets
# per message, FIXED/N messages a second, a reader draining them on the client's CPU
# (bench/send_floor.c): what one send per delivery costs before any server does any work.
for n in $CLIENTS; do
    "$ANCHORS/send_floor" $((FIXED / n)) "$n" 128 | json cpu_us_per_send >"$OUT/floor.$n"
    echo "bench: write() floor N=$n at $FIXED/s: $(cat "$OUT/floor.$n") us per send" >&2
done

# col SERVER PART N: column N of the medians of SERVER's PART, or 0 if that server did not run.
col() {
    [ -f "$OUT/$1.$2" ] || { echo 0; return; }
    awk -v c="$3" '{ print $c }' "$OUT/$1.$2"
}

# ratio A B: A / B with two decimals and an x, or "-".
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "-" }'
}

{
    echo "Fan-out: N clients in one room, $SENDERS send ${SIZE} B; highest backlog-free deliveries/s of the sweep"
    printf '%-12s %5s %11s %8s %8s %11s %9s %9s %8s\n' server N deliveries/s "vs node" "vs lws" cpu_us/del \
        cpu/node cpu/lws p99_ms
    for n in $CLIENTS; do
        for s in $SERVERS; do
            d=$(col "$s" "sweep.$n" 1)
            c=$(col "$s" "sweep.$n" 2)
            printf '%-12s %5d %11.0f %8s %8s %11.2f %9s %9s %8.2f\n' "$s" "$n" "$d" \
                "$(ratio "$d" "$(col node "sweep.$n" 1)")" "$(ratio "$d" "$(col lws "sweep.$n" 1)")" "$c" \
                "$(ratio "$c" "$(col node "sweep.$n" 2)")" "$(ratio "$c" "$(col lws "sweep.$n" 2)")" \
                "$(col "$s" "sweep.$n" 3)"
        done
    done
    echo
    echo "At $FIXED deliveries/s (* : backlogged in the median run)"
    printf '%-12s %5s %11s %8s %8s %9s %11s %9s %9s\n' server N deliveries/s p50_ms p99_ms p99/node \
        cpu_us/del cpu/node cpu/lws
    for n in $CLIENTS; do
        for s in $SERVERS; do
            d=$(col "$s" "fixed.$n" 1)
            p99=$(col "$s" "fixed.$n" 3)
            c=$(col "$s" "fixed.$n" 4)
            mark=""
            [ "$(col "$s" "fixed.$n" 5)" = 0 ] || mark="*"
            printf '%-12s %5d %11.0f %8.2f %8.2f %9s %11.2f %9s %9s %s\n' "$s" "$n" "$d" \
                "$(col "$s" "fixed.$n" 2)" "$p99" "$(ratio "$p99" "$(col node "fixed.$n" 3)")" "$c" \
                "$(ratio "$c" "$(col node "fixed.$n" 4)")" "$(ratio "$c" "$(col lws "fixed.$n" 4)")" "$mark"
        done
        c=$(cat "$OUT/floor.$n")
        printf '%-12s %5d %11s %8s %8s %9s %11.2f %9s %9s\n' "write()" "$n" - - - - "$c" \
            "$(ratio "$c" "$(col node "fixed.$n" 4)")" "$(ratio "$c" "$(col lws "fixed.$n" 4)")"
    done
    echo "(write(): bench/send_floor, one plain write() per delivery and nothing else, the same rate)"
    echo
    echo "Handshakes: $HANDSHAKES clients, a room each, 64 in flight; memory: $IDLE idle clients in rooms of 100"
    printf '%-12s %12s %8s %8s %10s %12s %8s %8s\n' server handshakes/s "vs node" "vs lws" cpu_us/hs \
        bytes/idle "vs node" "vs lws"
    for s in $SERVERS; do
        h=$(col "$s" hs 1)
        m=$(col "$s" idle 1)
        printf '%-12s %12.0f %8s %8s %10.1f %12.0f %8s %8s\n' "$s" "$h" "$(ratio "$h" "$(col node hs 1)")" \
            "$(ratio "$h" "$(col lws hs 1)")" "$(col "$s" hs 2)" "$m" "$(ratio "$m" "$(col node idle 1)")" \
            "$(ratio "$m" "$(col lws idle 1)")"
    done
} >"$OUT/table"
cat "$OUT/table"

if [ "$RECORD" = 1 ]; then
    # shellcheck disable=SC2016 # backquotes for markdown, not for the shell
    record "WebSocket chat" "bench/chat.sh --seconds $SECONDS_PER_RUN --runs $RUNS --clients \"$CLIENTS\" --servers \"$SERVERS\" --fixed-rate $FIXED --idle $IDLE --handshakes $HANDSHAKES$([ "$REFINE" = 1 ] || echo ' --no-refine')" <<EOT
Load: \`taskset -c $CLIENT_CPU build/bench/chat_load ws://127.0.0.1:PORT --server-pid PID -n N $LOAD_ARGS -r $SWEEP_START --sweep $SWEEP_FACTOR --max-rate $SWEEP_MAX --patience 2\`$([ "$REFINE" = 1 ] && echo " then \`-r BEST*1.05 --sweep 1.05 --max-rate BEST*$SWEEP_FACTOR --patience 2\`"); \`-r $FIXED\` for the fixed rate;
\`--idle $HANDSHAKES --room-size 1 -c 64\` (handshakes) and \`--idle $IDLE --room-size 100 -c 64\` (memory);
servers under \`taskset -c $SERVER_CPU\`, a fresh one for each run: $(for s in $SERVERS; do printf '`%s`; ' "$(chat_cmd "$s" | sed 's/@PORT@/PORT/')"; done)
medians of $RUNS interleaved rounds; server CPU from /proc/PID/task/*/schedstat over the measured window.
EOT
fi
