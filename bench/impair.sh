#!/bin/sh
# bench/impair.sh — what sockit impair costs when it impairs nothing, and how exact it is when
# it does, on this machine, now.
#
# An upstream (sockit echo udp://, pinned to CPU 0) and the load client (sockit bench, pinned
# to CPU 1) talk directly, then through `sockit impair` with no impairment, then through socat
# as a plain UDP relay (UDP4-LISTEN,fork: a child per client) — the relays are left unpinned
# and share the two CPUs with the others the same way. Each round measures, for each path:
#   - latency: one client, one datagram in flight (pingpong), median and p99 round trip; the
#     relay's added latency is the median minus the direct median;
#   - throughput: PIPE_CONNS clients with PIPE_DEPTH datagrams in flight each (pipeline), the
#     messages/s; the relay's ratio is its rate over the direct rate.
# Then accuracy through the proxy with real traffic: ACC_N datagrams one at a time (pingpong)
# with 10 % loss, 20 ms delay and 5 ms normal jitter up, and the loss seen by the client and
# the delays the proxy added, against what was asked.
# Medians over RUNS rounds; printed with ratios and appended with the date, machine and exact
# commands to docs/benchmarks.md (unless --no-record).
#
# Usage: bench/impair.sh [--quick] [--seconds N] [--runs N] [--no-record]
set -eu

SECONDS_PER_RUN=3
RUNS=3
RECORD=1
PIPE_CONNS=4
PIPE_DEPTH=32
FIXED_RATE=40000 # an offered load every path should carry on this machine
SERVER_CPU=0
CLIENT_CPU=1
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) SECONDS_PER_RUN=1; RUNS=1 ;;
    --seconds) SECONDS_PER_RUN=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --no-record) RECORD=0 ;;
    *) echo "usage: $0 [--quick] [--seconds N] [--runs N] [--no-record]" >&2; exit 2 ;;
    esac
    shift
done

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SOCKIT=$BUILD/sockit
ANCHORS=$BUILD/bench
OUT=$(mktemp -d /tmp/sockit-bench-impair.XXXXXX)
PORT=$((20000 + $$ % 20000))
# shellcheck source=bench/servers.sh
. "$(dirname "$0")/servers.sh"

[ -x "$SOCKIT" ] || fail "$SOCKIT is not built: run make all"
command -v socat >/dev/null || fail "socat is missing: make deps installs it"

pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$OUT"
}
trap cleanup EXIT INT TERM

json() { sed -n "s/.*\"$1\":\\([0-9.]*\\).*/\\1/p" | head -1; }

# load MODE PORT ARGS...: one sockit bench run on the client CPU; its JSON in $OUT/run.json.
load() {
    mode=$1
    port=$2
    shift 2
    # exit 1 with lost datagrams is a result (counted), not a failure of the run
    taskset -c $CLIENT_CPU "$SOCKIT" bench -q --json -m "$mode" -d "$SECONDS_PER_RUN" "$@" \
        "udp://127.0.0.1:$port" >"$OUT/run.json" 2>"$OUT/run.err" || true
    grep -q '"msgs_per_s":' "$OUT/run.json" || fail "sockit bench failed: $(cat "$OUT/run.err")"
}

# measure PORT: prints "p50_us p99_us msgs_per_s lost" for the path at PORT.
measure() {
    load pingpong "$1" -c 1
    lat=$(sed -n 's/.*"latency_us":{\([^}]*\)}.*/\1/p' "$OUT/run.json")
    p50=$(echo "$lat" | json p50)
    p99=$(echo "$lat" | json p99)
    load pipeline "$1" -c $PIPE_CONNS -D $PIPE_DEPTH
    rate=$(json msgs_per_s <"$OUT/run.json")
    lost=$(sed -n 's/.*"lost":\([0-9]*\)}.*/\1/p' "$OUT/run.json" | tail -1)
    load pipeline "$1" -c $PIPE_CONNS -D $PIPE_DEPTH -r $FIXED_RATE
    frate=$(json msgs_per_s <"$OUT/run.json")
    flost=$(sed -n 's/.*"lost":\([0-9]*\)}.*/\1/p' "$OUT/run.json" | tail -1)
    echo "$p50 $p99 $rate ${lost:-0} $frate ${flost:-0}"
}

free_port
ECHO_PORT=$PORT
start taskset -c $SERVER_CPU "$SOCKIT" echo "udp://127.0.0.1:$ECHO_PORT" --model loop --quiet
wait_bound $ECHO_PORT

IMPAIR_CMD="$SOCKIT impair -q -l udp://127.0.0.1:@PORT@ -t udp://127.0.0.1:$ECHO_PORT --seed 1"
SOCAT_CMD="socat -T 60 UDP4-LISTEN:@PORT@,bind=127.0.0.1,reuseaddr,fork UDP4:127.0.0.1:$ECHO_PORT"

# relay NAME: start a fresh relay of NAME on a new port; the port in RELAY_PORT, pid in RELAY_PID.
relay() {
    free_port
    RELAY_PORT=$PORT
    case "$1" in
    sockit) cmd=$(echo "$IMPAIR_CMD" | sed "s/@PORT@/$PORT/") ;;
    socat) cmd=$(echo "$SOCAT_CMD" | sed "s/@PORT@/$PORT/") ;;
    esac
    # shellcheck disable=SC2086
    start $cmd
    RELAY_PID=$!
    wait_bound "$RELAY_PORT"
}

stop_relay() {
    kill "$RELAY_PID" 2>/dev/null || true
    wait "$RELAY_PID" 2>/dev/null || true
    pkill -P "$RELAY_PID" 2>/dev/null || true # socat's children
}

for path in direct sockit socat; do : >"$OUT/$path.runs"; done
r=0
while [ $r -lt "$RUNS" ]; do
    r=$((r + 1))
    measure $ECHO_PORT >>"$OUT/direct.runs"
    echo "bench: round $r/$RUNS direct: $(tail -1 "$OUT/direct.runs")" >&2
    for name in sockit socat; do
        relay $name
        measure "$RELAY_PORT" >>"$OUT/$name.runs"
        stop_relay
        echo "bench: round $r/$RUNS through $name: $(tail -1 "$OUT/$name.runs")" >&2
    done
done

for path in direct sockit socat; do median "$OUT/$path.runs" >"$OUT/$path"; done
col() { awk -v c="$2" '{ print $c }' "$OUT/$1"; }

# Accuracy with real traffic: one datagram at a time, so the proxy's input order is fixed.
free_port
ACC_PORT=$PORT
ACC_ARGS="--up-loss 10% --up-delay 20ms --up-jitter 5ms --up-distribution normal"
# shellcheck disable=SC2086
start "$SOCKIT" impair -q --json -l "udp://127.0.0.1:$ACC_PORT" -t "udp://127.0.0.1:$ECHO_PORT" \
    --seed 1 $ACC_ARGS >"$OUT/acc.json"
ACC_PID=$!
wait_bound $ACC_PORT
ACC_SECONDS=$((SECONDS_PER_RUN * 3))
taskset -c $CLIENT_CPU "$SOCKIT" bench -q --json -m pipeline -c 50 -D 1 -d "$ACC_SECONDS" --timeout 200 \
    "udp://127.0.0.1:$ACC_PORT" >"$OUT/acc_load.json" || true
kill "$ACC_PID"
wait "$ACC_PID" 2>/dev/null || true
acc_in=$(sed -n 's/.*"up":{"in":\([0-9]*\).*/\1/p' "$OUT/acc.json")
acc_lost=$(sed -n 's/.*"up":{[^}]*"lost":\([0-9]*\).*/\1/p' "$OUT/acc.json")
acc_p50=$(sed -n 's/.*"up":{.*"delay_us":{"p50":\([0-9.]*\).*"down".*/\1/p' "$OUT/acc.json")
acc_p99=$(sed -n 's/.*"up":{.*"delay_us":{"p50":[0-9.]*,"p99":\([0-9.]*\).*"down".*/\1/p' "$OUT/acc.json")
client_lost=$(sed -n 's/.*"lost":\([0-9]*\)}.*/\1/p' "$OUT/acc_load.json" | tail -1)

{
    echo "Zero impairment: ${SECONDS_PER_RUN}s runs, medians of $RUNS rounds"
    printf '%-8s %10s %10s %12s %12s %10s %8s %12s %8s\n' path p50_us p99_us added_p50_us msgs/s vs_direct lost \
        "at_${FIXED_RATE}/s" lost
    d50=$(col direct 1)
    drate=$(col direct 3)
    for path in direct sockit socat; do
        awk -v n="$path" -v p50="$(col $path 1)" -v p99="$(col $path 2)" -v r="$(col $path 3)" \
            -v l="$(col $path 4)" -v fr="$(col $path 5)" -v fl="$(col $path 6)" -v d50="$d50" \
            -v dr="$drate" \
            'BEGIN { printf "%-8s %10.1f %10.1f %12.1f %12.0f %9.2fx %8d %12.0f %8d\n", n, p50, p99, p50 - d50, r, r / dr, l, fr, fl }'
    done
    echo "(msgs/s: as fast as it goes, $PIPE_CONNS clients x $PIPE_DEPTH in flight; at_${FIXED_RATE}/s: the same offered"
    echo " at a fixed rate; lost: datagrams of that run that got no reply within 2 s)"
    echo
    echo "Accuracy through sockit impair ($ACC_ARGS, seed 1; 50 clients, one datagram in flight each, ${ACC_SECONDS}s)"
    awk -v in_="$acc_in" -v lost="$acc_lost" -v p50="$acc_p50" -v p99="$acc_p99" -v cl="$client_lost" \
        'BEGIN { printf "datagrams up %d: lost %d (%.2f %%, asked 10 %%; the client counted %d lost)\n", in_, lost, 100 * lost / in_, cl;
                 printf "delay added up: p50 %.2f ms (asked 20), p99 %.2f ms (normal: 20 + 2.326 x 5 = 31.63)\n", p50 / 1000, p99 / 1000 }'
} >"$OUT/table"
cat "$OUT/table"

if [ "$RECORD" = 1 ]; then
    # shellcheck disable=SC2016 # backquotes for markdown, not for the shell
    record "Impairment proxy" "bench/impair.sh --seconds $SECONDS_PER_RUN --runs $RUNS" <<EOT
Upstream: \`taskset -c $SERVER_CPU $SOCKIT echo udp://127.0.0.1:PORT --model loop --quiet\`;
relays unpinned, a fresh one per round: \`$(echo "$IMPAIR_CMD" | sed "s/@PORT@/PORT/; s/:$ECHO_PORT/:UPSTREAM/")\` and \`$(echo "$SOCAT_CMD" | sed "s/@PORT@/PORT/; s/:$ECHO_PORT/:UPSTREAM/")\`;
client: \`taskset -c $CLIENT_CPU $SOCKIT bench -q --json -m pingpong -c 1 -d $SECONDS_PER_RUN\` (latency), \`-m pipeline -c $PIPE_CONNS -D $PIPE_DEPTH\` (rate) and the same with \`-r $FIXED_RATE\`, on udp://127.0.0.1:PORT.
EOT
fi
