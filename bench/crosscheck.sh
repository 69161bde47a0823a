#!/bin/sh
# bench/crosscheck.sh — does sockit bench measure what a load tool we did not write measures?
#
# One TCP stream over loopback, one-way, the receiver pinned to CPU 0 and the sender to CPU 1:
#   iperf3:  iperf3 -s  <-  iperf3 -c 127.0.0.1 -n SIZE          (its own sender and sink)
#   sockit:  sockit listen > /dev/null  <-  sockit bench -m send -c 1 -n SIZE
#   socat:   sockit listen > /dev/null  <-  socat -u /dev/zero (SIZE bytes) TCP:...  (timed by date)
# The three figures should agree within the spread of the runs (the sinks differ a little).
# Usage: bench/crosscheck.sh [SIZE, default 4G] [--no-record]
set -eu
SIZE=${1:-4G}
RECORD=1
[ "${2:-}" = --no-record ] && RECORD=0
SOCKIT=${BUILD:-build}/sockit
PORT=${PORT:-18100}
OUT=$(mktemp -d /tmp/sockit-xcheck.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT INT TERM

bytes_of() { numfmt --from=iec "$1"; }
NBYTES=$(bytes_of "$SIZE")

wait_port() {
    i=0
    until ss -Hltn "sport = :$1" | grep -q LISTEN; do
        i=$((i + 1)); [ $i -lt 100 ] || { echo "crosscheck: nothing listens on $1" >&2; exit 1; }
        sleep 0.05
    done
}

# iperf3: receiver throughput in GB/s
taskset -c 0 iperf3 -s -1 -p $PORT >/dev/null 2>&1 &
wait_port $PORT
taskset -c 1 iperf3 -c 127.0.0.1 -p $PORT -n "$SIZE" -J >"$OUT/iperf.json"
wait
iperf=$(awk '/"sum_received"/ { s = 1 } s && /"bits_per_second"/ { gsub(/[^0-9.e+]/, "", $2); printf "%.2f", $2 / 8e9; exit }' "$OUT/iperf.json")

# sockit bench -m send into a sockit listen sink
PORT=$((PORT + 1))
taskset -c 0 "$SOCKIT" listen "tcp://127.0.0.1:$PORT" </dev/null >/dev/null 2>&1 &
wait_port $PORT
t0=$(date +%s.%N)
taskset -c 1 "$SOCKIT" bench "tcp://127.0.0.1:$PORT" -m send -c 1 -n "$SIZE" --json -q >"$OUT/bench.json"
t1=$(date +%s.%N)
wait
ours=$(sed -n 's/.*"mb_per_s":\([0-9.]*\).*/\1/p' "$OUT/bench.json" | awk '{ printf "%.2f", $1 / 1000 }')
# the same run timed from outside (process start to exit): checks the bench's own clock
outside=$(awk -v n="$NBYTES" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", n / (b - a) / 1e9 }')

# socat into the same sink, timed from outside
PORT=$((PORT + 1))
taskset -c 0 "$SOCKIT" listen "tcp://127.0.0.1:$PORT" </dev/null >/dev/null 2>&1 &
wait_port $PORT
t0=$(date +%s.%N)
head -c "$NBYTES" /dev/zero | taskset -c 1 socat -u -b 65536 - "TCP:127.0.0.1:$PORT"
t1=$(date +%s.%N)
wait
socat=$(awk -v n="$NBYTES" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", n / (b - a) / 1e9 }')

table=$(printf '%-34s %8s\n' "sender -> sink (one stream, $SIZE)" "GB/s"
    printf '%-34s %8s\n' "iperf3 -c -> iperf3 -s" "$iperf"
    printf '%-34s %8s\n' "sockit bench -m send -> listen" "$ours"
    printf '%-34s %8s\n' "  the same, timed from outside" "$outside"
    printf '%-34s %8s\n' "head|socat -u -> listen" "$socat")
echo "$table"

if [ "$RECORD" = 1 ]; then
    {
        echo
        echo "## Cross-check of sockit bench, $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo
        echo "Machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), Linux $(uname -r)."
        echo "Command: \`bench/crosscheck.sh $SIZE\` (receiver on CPU 0, sender on CPU 1)."
        echo
        echo '```'
        echo "$table"
        echo '```'
    } >>docs/benchmarks.md
fi
