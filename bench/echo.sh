#!/bin/sh
# bench/echo.sh — echo servers side by side under the same load, on this machine, now.
#
# Each server is pinned to CPU 0 and the load generator (sockit bench) to CPU 1, the same way
# for every server. For each connection count: RUNS rounds, each giving every server one run
# of SECONDS seconds of 64-byte ping-pong; the medians of msgs/s, p99 latency and the
# server's CPU time per message are reported (utime+stime of the server and its reaped
# children over the run, divided by the messages) — with the client filling a core, CPU per
# message is where a faster server shows. Then the same 64-byte ping-pong over UDP (sockit
# bench udp://, one connected socket per "connection") against the epoll anchor's textbook
# recvfrom/sendto UDP echo. Then RUNS interleaved rounds of bulk echo (1 GiB over one
# connection) per server and of iperf3 over loopback. Prints a table with ratios and appends
# it, with the date, machine and exact commands, to docs/benchmarks.md (unless --no-record).
#
# SOCKIT_BEFORE=/path/to/an/older/sockit adds its rows (before-uring, before-epoll over TCP
# and in bulk; before-udp-uring, -epoll over UDP) beside this build's, for a before/after
# comparison in the same run.
#
# Usage: bench/echo.sh [--quick] [--seconds N] [--runs N] [--conns "50 500"]
#                      [--udp-conns "50"] [--only "tcp udp bulk"] [--no-record]
set -eu

SECONDS_PER_RUN=10
RUNS=3
CONNS="50 500"
UDP_CONNS="50"
PARTS="tcp udp bulk"
RECORD=1
BULK=1G
usage() {
    echo "usage: $0 [--quick] [--seconds N] [--runs N] [--conns \"50 500\"] [--udp-conns \"50\"]" \
        "[--only \"tcp udp bulk\"] [--no-record]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    [ $# -gt 1 ] || case "$1" in --seconds | --runs | --conns | --udp-conns | --only) usage ;; esac
    case "$1" in
    --quick) SECONDS_PER_RUN=3; RUNS=1; BULK=256M ;;
    --seconds) SECONDS_PER_RUN=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --conns) CONNS=$2; shift ;;
    --udp-conns) UDP_CONNS=$2; shift ;;
    --only) PARTS=$2; shift ;;
    --no-record) RECORD=0 ;;
    *) usage ;;
    esac
    shift
done
for part in $PARTS; do
    case "$part" in tcp | udp | bulk) ;; *) usage ;; esac
done

# wanted PART: PART (tcp, udp or bulk) is to run.
wanted() {
    case " $PARTS " in *" $1 "*) return 0 ;; esac
    return 1
}

BUILD=${BUILD:-build}
SOCKIT=$BUILD/sockit
ANCHORS=$BUILD/bench
SERVER_CPU=0
CLIENT_CPU=1
PORT=${PORT:-17000}
OUT=$(mktemp -d /tmp/sockit-bench.XXXXXX)
trap 'stop_server; rm -rf "$OUT"' EXIT
trap 'exit 130' INT TERM

. "$(dirname "$0")/servers.sh"

# utime+stime+cutime+cstime of the server, in clock ticks.
server_ticks() {
    sed 's/.*) //' "/proc/$server_pid/stat" | awk '{ print $12 + $13 + $14 + $15 }'
}

json() { sed -n "s/.*\"$1\":\\([0-9.]*\\).*/\\1/p"; }

# One measured run over PROTO (tcp or udp) with NCONN connections: prints "msgs_per_s
# p99_us cpu_us_per_msg".
one_run() {
    proto=$1
    nconn=$2
    before=$(server_ticks)
    taskset -c $CLIENT_CPU "$SOCKIT" bench "$proto://127.0.0.1:$PORT" -c "$nconn" -d "$SECONDS_PER_RUN" \
        --json -q >"$OUT/run.json" 2>"$OUT/run.err" || true
    sleep 0.3 # forked children exit and are reaped into cutime/cstime
    after=$(server_ticks)
    msgs=$(json messages <"$OUT/run.json")
    [ "${msgs:-0}" -gt 0 ] || fail "the load on $PORT failed: $(cat "$OUT/run.err")"
    rate=$(json msgs_per_s <"$OUT/run.json")
    p99=$(json p99 <"$OUT/run.json")
    hz=$(getconf CLK_TCK)
    awk -v r="${rate:-0}" -v p="${p99:-0}" -v t=$((after - before)) -v m="${msgs:-0}" -v hz="$hz" \
        'BEGIN { printf "%.0f %.1f %.2f\n", r, p, (m > 0 ? t / hz * 1e6 / m : 0) }'
}

# Median of each column (msgs/s, p99, CPU per message) over the runs in file $1.
median() {
    for col in 1 2 3; do
        sort -g -k$col,$col "$1" | awk -v k=$(((RUNS + 1) / 2)) -v c=$col 'NR == k { printf "%s ", $c }'
    done
    echo
}

bulk_run() {
    taskset -c $CLIENT_CPU "$SOCKIT" bench "tcp://127.0.0.1:$PORT" -m bulk -c 1 -n "$BULK" --json -q \
        >"$OUT/bulk.json" 2>"$OUT/bulk.err" || true
    [ -n "$(json mb_per_s <"$OUT/bulk.json")" ] || fail "the bulk load on $PORT failed: $(cat "$OUT/bulk.err")"
    json mb_per_s <"$OUT/bulk.json" | awk '{ printf "%.2f\n", $1 / 1000 }'
}

iperf_run() {
    command -v iperf3 >/dev/null || { echo "-"; return; }
    taskset -c $SERVER_CPU iperf3 -s -1 -p $((PORT + 500)) >/dev/null 2>&1 &
    ipid=$!
    sleep 0.3
    taskset -c $CLIENT_CPU iperf3 -c 127.0.0.1 -p $((PORT + 500)) -n "$BULK" -J >"$OUT/iperf.json" 2>/dev/null || true
    wait $ipid 2>/dev/null || true
    # bits_per_second of the receiver summary, in GB/s
    awk '/"sum_received"/ { s = 1 } s && /"bits_per_second"/ { gsub(/[^0-9.e+]/, "", $2); printf "%.2f\n", $2 / 8e9; exit }' \
        "$OUT/iperf.json"
}

# RUNS rounds of every server in $1 at $2 connections; the medians in $OUT/NAME.CONNS. Runs are
# interleaved (run 1 of every server, then run 2 ...), so a drift of the machine over the
# minutes of a benchmark touches every server alike instead of whichever ran last.
measure() {
    for s in $1; do : >"$OUT/$s.$2.runs"; done
    r=0
    while [ $r -lt "$RUNS" ]; do
        r=$((r + 1))
        for s in $1; do
            c=$2
            [ "$s" = sockit-iterative ] && c=1 # one client at a time: more would wait in the backlog
            start_server "$s"
            one_run "$(proto_of "$s")" "$c" >>"$OUT/$s.$2.runs"
            stop_server
            echo "bench: run $r/$RUNS $s at $c connections: $(tail -1 "$OUT/$s.$2.runs")" >&2
        done
    done
    for s in $1; do median "$OUT/$s.$2.runs" >"$OUT/$s.$2"; done
}

SERVERS=${SERVERS:-"sockit-uring sockit-epoll sockit-poll epoll libuv socat sockit-uring-2t sockit-thread sockit-fork sockit-iterative${SOCKIT_BEFORE:+ before-uring before-epoll}"}
: >"$OUT/table"
if wanted tcp; then
    printf '%-17s %6s %10s %9s %12s %9s %9s %9s\n' server conns msgs/s p99_us cpu_us/msg "vs libuv" \
        "cpu/libuv" "cpu/epoll" >>"$OUT/table"
    for conns in $CONNS; do
        measure "$SERVERS" "$conns"
        uv_rate=0 uv_cpu=0 ep_cpu=0
        [ ! -f "$OUT/libuv.$conns" ] || read -r uv_rate _ uv_cpu <"$OUT/libuv.$conns"
        [ ! -f "$OUT/epoll.$conns" ] || read -r _ _ ep_cpu <"$OUT/epoll.$conns"
        for s in $SERVERS; do
            read -r rate p99 cpu <"$OUT/$s.$conns"
            c=$conns
            [ "$s" = sockit-iterative ] && c=1
            awk -v s="$s" -v c="$c" -v r="$rate" -v p="$p99" -v u="$cpu" -v ur="$uv_rate" -v uc="$uv_cpu" \
                -v ec="$ep_cpu" 'BEGIN { printf "%-17s %6d %10.0f %9.1f %12.2f %8.2fx %8.2fx %8.2fx\n", s, c,
                         r, p, u, (ur > 0 ? r / ur : 0), (uc > 0 ? u / uc : 0), (ec > 0 ? u / ec : 0) }' >>"$OUT/table"
        done
    done
fi

# UDP: the same ping-pong against the epoll anchor's UDP echo; ratios to it.
UDP_SERVERS=${UDP_SERVERS:-"sockit-udp-uring sockit-udp-epoll epoll-udp${SOCKIT_BEFORE:+ before-udp-uring before-udp-epoll}"}
if wanted udp; then
    printf '\n%-17s %6s %10s %9s %12s %9s %9s\n' "server (udp)" conns msgs/s p99_us cpu_us/msg \
        "vs epoll" "cpu/epoll" >>"$OUT/table"
    for conns in $UDP_CONNS; do
        measure "$UDP_SERVERS" "$conns"
        ep_rate=0 ep_cpu=0
        [ ! -f "$OUT/epoll-udp.$conns" ] || read -r ep_rate _ ep_cpu <"$OUT/epoll-udp.$conns"
        for s in $UDP_SERVERS; do
            read -r rate p99 cpu <"$OUT/$s.$conns"
            awk -v s="$s" -v c="$conns" -v r="$rate" -v p="$p99" -v u="$cpu" -v er="$ep_rate" -v ec="$ep_cpu" \
                'BEGIN { printf "%-17s %6d %10.0f %9.1f %12.2f %8.2fx %8.2fx\n", s, c, r, p, u,
                         (er > 0 ? r / er : 0), (ec > 0 ? u / ec : 0) }' >>"$OUT/table"
        done
    done
fi

# Bulk: RUNS interleaved rounds of every server and iperf3 (one-way sender to sink, the
# same size); medians, with ratios to libuv and to iperf3 from the same rounds.
if wanted bulk; then
    printf '\n%-17s %12s %9s %10s\n' server "bulk GB/s" "vs libuv" "vs iperf3" >>"$OUT/table"
    BULK_SERVERS="sockit-uring sockit-epoll epoll libuv${SOCKIT_BEFORE:+ before-uring before-epoll}"
    for s in $BULK_SERVERS iperf3; do : >"$OUT/$s.bulkruns"; done
    r=0
    while [ $r -lt "$RUNS" ]; do
        r=$((r + 1))
        for s in $BULK_SERVERS; do
            start_server "$s"
            bulk_run >>"$OUT/$s.bulkruns"
            stop_server
        done
        iperf_run >>"$OUT/iperf3.bulkruns"
        echo "bench: bulk round $r/$RUNS: $(for s in $BULK_SERVERS iperf3; do printf '%s %s  ' "$s" "$(tail -1 "$OUT/$s.bulkruns")"; done)" >&2
    done
    for s in $BULK_SERVERS iperf3; do
        sort -g "$OUT/$s.bulkruns" | awk -v k=$(((RUNS + 1) / 2)) 'NR == k' >"$OUT/$s.bulk"
    done
    uv_bulk=$(cat "$OUT/libuv.bulk")
    ip_bulk=$(cat "$OUT/iperf3.bulk")
    for s in $BULK_SERVERS; do
        awk -v s="$s" -v g="$(cat "$OUT/$s.bulk")" -v u="$uv_bulk" -v i="${ip_bulk:-0}" \
            'BEGIN { printf "%-17s %12.2f %8.2fx %9.2fx\n", s, g, (u > 0 ? g / u : 0), (i > 0 ? g / i : 0) }' >>"$OUT/table"
    done
    printf '%-17s %12s   (one-way sender to sink)\n' iperf3 "${ip_bulk:--}" >>"$OUT/table"
fi

cat "$OUT/table"

if [ "$RECORD" = 1 ]; then
    ran=""
    wanted tcp && ran="$SERVERS"
    wanted udp && ran="$ran $UDP_SERVERS"
    record Echo "bench/echo.sh --seconds $SECONDS_PER_RUN --runs $RUNS --conns \"$CONNS\" --udp-conns \"$UDP_CONNS\" --only \"$PARTS\"" <<EOT
Load: \`taskset -c $CLIENT_CPU sockit bench tcp://127.0.0.1:PORT -c N -d $SECONDS_PER_RUN --json\` (64 B ping-pong; udp:// for the UDP rows);
servers under \`taskset -c $SERVER_CPU\`: $(for s in $ran; do printf '`%s`; ' "$(server_cmd "$s" | sed 's/@PORT@/PORT/')"; done)
bulk: \`sockit bench -m bulk -c 1 -n $BULK\`; iperf3: \`iperf3 -c 127.0.0.1 -n $BULK\`.
EOT
fi
