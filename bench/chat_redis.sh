#!/bin/sh
# bench/chat_redis.sh (bench/chat.sh --redis) — one chat room on one sockit chat process, then
# spread over two processes sharing it through Redis (sockit chat --redis), under the same
# load, on this machine, now.
#
# The load client (build/bench/chat_load) is pinned to CPU 1; the chat processes and
# redis-server share CPU 0 (this machine has two: compare costs, not totals). N clients (100,
# then 1000) join one room (spread round-robin over the nodes), K of them say 64 B at a fixed
# RATE deliveries/s (20,000: the issue's rate). Three cases, RUNS interleaved rounds, medians:
#   one    one node, no Redis: the baseline;
#   one+r  one node with --redis: what publishing costs a node;
#   two    two nodes with --redis, half the clients on each.
# Measured over the window: the nodes' CPU per delivery (summed, and per node), Redis' CPU per
# message said, end-to-end latency p50/p99 (from the send time in each text). Bars (issue 22):
# CPU per delivery on two nodes <= 1.3x one node's; the Redis hop adds <= 1 ms p99. From the
# costs, the deliveries/s of 4 and 16 nodes are projected and where Redis becomes the limit.
#
# Usage: bench/chat_redis.sh [--quick] [--runs N] [--seconds N] [--no-record]
set -eu

RUNS=3
SECONDS_PER_RUN=5
CLIENTS="100 1000"
SENDERS=10
RATE=20000
RECORD=1
SERVER_CPU=0
CLIENT_CPU=1
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) RUNS=1; SECONDS_PER_RUN=2 ;;
    --runs) RUNS=$2; shift ;;
    --seconds) SECONDS_PER_RUN=$2; shift ;;
    --no-record) RECORD=0 ;;
    *) echo "usage: $0 [--quick] [--runs N] [--seconds N] [--no-record]" >&2; exit 2 ;;
    esac
    shift
done

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SOCKIT=$BUILD/sockit
ANCHORS=$BUILD/bench
LOAD=$ANCHORS/chat_load
OUT=$(mktemp -d /tmp/sockit-bench-chat-redis.XXXXXX)
PORT=$((20000 + $$ % 20000))
# shellcheck source=bench/servers.sh
. "$(dirname "$0")/servers.sh"

[ -x "$SOCKIT" ] || fail "$SOCKIT is not built: run make all"
[ -x "$LOAD" ] || fail "$LOAD is not built: run make anchors"
command -v redis-server >/dev/null || fail "redis-server is missing: make deps installs it"

pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$OUT"
}
trap cleanup EXIT INT TERM

CHAT="--rate 100000 --max-queue 65536 --max-clients 100000 --quiet"

# node [--redis URL]: a chat process pinned to SERVER_CPU; its pid in NODE_PID, port NODE_PORT.
node() {
    free_port tcp
    # shellcheck disable=SC2086
    start taskset -c $SERVER_CPU "$SOCKIT" chat -l "tcp://127.0.0.1:$PORT" $CHAT "$@"
    NODE_PID=$!
    NODE_PORT=$PORT
    wait_bound $PORT tcp
}

# measure CASE N: one round of CASE with N clients; appends "cpu_us_per_delivery p50_us p99_us redis_us_per_msg
# cpu_node1_s cpu_node2_s deliveries_per_s" to $OUT/CASE.runs.
measure() {
    free_port tcp
    REDIS_PORT=$PORT
    start taskset -c $SERVER_CPU redis-server --port $REDIS_PORT --bind 127.0.0.1 --save '' \
        --appendonly no --logfile "$OUT/redis.log"
    REDIS_PID=$!
    wait_bound $REDIS_PORT tcp
    url="redis://127.0.0.1:$REDIS_PORT"
    case "$1" in
    one) node; urls="ws://127.0.0.1:$NODE_PORT"; spids="--server-pid $NODE_PID" ;;
    one+r) node --redis "$url"; urls="ws://127.0.0.1:$NODE_PORT"; spids="--server-pid $NODE_PID" ;;
    two)
        node --redis "$url"
        urls="ws://127.0.0.1:$NODE_PORT"
        spids="--server-pid $NODE_PID"
        node --redis "$url"
        urls="$urls ws://127.0.0.1:$NODE_PORT"
        spids="$spids --server-pid $NODE_PID"
        ;;
    esac
    cmd="$LOAD $urls $spids --redis-pid $REDIS_PID -n $2 -k $SENDERS -r $RATE -d $SECONDS_PER_RUN"
    echo "$1: taskset -c $CLIENT_CPU $cmd" | sed -E 's/127\.0\.0\.1:[0-9]+/127.0.0.1:PORT/g;
        s/-pid [0-9]+/-pid PID/g' >>"$OUT/commands"
    # shellcheck disable=SC2086
    timeout 300 taskset -c $CLIENT_CPU $cmd >"$OUT/run.json" 2>"$OUT/run.err" ||
        fail "chat_load ($1): $(tail -3 "$OUT/run.err")"
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=""
    j=$(tail -1 "$OUT/run.json")
    lost=$(echo "$j" | sed -n 's/.*"lost":\([0-9]*\).*/\1/p')
    [ "$lost" = 0 ] || fail "$1: $lost deliveries lost: $j"
    each=$(echo "$j" | sed -n 's/.*"server_cpu_s_each":\[\([^]]*\)\].*/\1/p' | tr ',' ' ')
    set -- $each 0
    echo "$(echo "$j" | json cpu_us_per_delivery) $(echo "$j" | json p50_us)" \
        "$(echo "$j" | json p99_us) $(echo "$j" | json redis_us_per_message) $1 $2" \
        "$(echo "$j" | json deliveries_per_s)"
}
json() { sed -n "s/.*\"$1\":\\([0-9.]*\\).*/\\1/p" | head -1; }

: >"$OUT/commands"
for n in $CLIENTS; do for c in one one+r two; do : >"$OUT/$c.$n.runs"; done; done
r=0
while [ $r -lt "$RUNS" ]; do
    r=$((r + 1))
    for n in $CLIENTS; do
        for c in one one+r two; do
            measure $c "$n" >>"$OUT/$c.$n.runs"
            echo "bench: round $r/$RUNS $c, $n clients: $(tail -1 "$OUT/$c.$n.runs")" >&2
        done
    done
done
for n in $CLIENTS; do for c in one one+r two; do median "$OUT/$c.$n.runs" >"$OUT/$c.$n"; done; done
col() { awk -v c="$2" '{ print $c }' "$OUT/$1"; }
calc() { awk "BEGIN { printf \"$1\\n\", $2 }"; }
verdict() { calc "%s" "$1 ? \"met\" : \"NOT met\""; }

{
    echo "One room, $SENDERS senders, $RATE deliveries/s, 64 B; ${SECONDS_PER_RUN}s windows, medians of"
    echo "$RUNS rounds. Nodes and Redis on CPU 0, the load on CPU 1. redis_us/msg: Redis' CPU per"
    echo "message said, less its CPU per message while idle (the 'one' case, which has no Redis traffic)."
    for n in $CLIENTS; do
        idle=$(col one.$n 4)
        echo
        echo "$n clients ($(calc "%.0f" "$RATE / $n") messages/s):"
        printf '%-8s %14s %9s %9s %14s %12s %12s\n' case cpu_us/deliv p50_us p99_us redis_us/msg \
            node1_cpu_s node2_cpu_s
        for c in one one+r two; do
            printf '%-8s %14s %9s %9s %14s %12s %12s\n' "$c" "$(col $c.$n 1)" "$(col $c.$n 2)" \
                "$(col $c.$n 3)" "$(calc "%.1f" "$(col $c.$n 4) - $idle")" "$(col $c.$n 5)" \
                "$(col $c.$n 6)"
        done
        ratio=$(calc "%.2f" "$(col two.$n 1) / $(col one.$n 1)")
        hop=$(calc "%.2f" "($(col two.$n 3) - $(col one.$n 3)) / 1000")
        echo "  CPU per delivery, two nodes / one: $ratio (bar <= 1.3): $(verdict "$ratio <= 1.3")"
        echo "  p99 added by the Redis hop: $hop ms (bar <= 1 ms): $(verdict "$hop <= 1")"
        # Projection: each node a core at the two-node cost per delivery; Redis' cost per
        # message grows with its subscribers (taken as linear from the two-node figure).
        redis_msg=$(calc "%.3f" "$(col two.$n 4) - $idle")
        for k in 4 16; do
            echo "  projected, $k nodes (a core each): the nodes $(calc "%.0f" "$k * 1e6 / $(col two.$n 1)")" \
                "deliveries/s; Redis (one core) at most $(calc "%.0f" "1e6 / ($redis_msg * $k / 2)")" \
                "messages/s = $(calc "%.0f" "1e6 / ($redis_msg * $k / 2) * $n") deliveries/s in rooms of $n"
        done
    done
} >"$OUT/table"
cat "$OUT/table"

if [ "$RECORD" = 1 ]; then
    record "Chat across nodes through Redis" "bench/chat.sh --redis $([ "$RUNS" = 1 ] && echo --quick)" <<EOT

Commands (ports and pids vary; each case starts a fresh redis-server and fresh nodes,
\`taskset -c $SERVER_CPU redis-server --port PORT --bind 127.0.0.1 --save '' --appendonly no\`,
\`taskset -c $SERVER_CPU $SOCKIT chat -l tcp://127.0.0.1:PORT $CHAT [--redis redis://127.0.0.1:PORT]\`):
\`\`\`
$(awk '!seen[$0]++' "$OUT/commands")
\`\`\`
EOT
fi
