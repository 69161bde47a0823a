#!/bin/sh
# bench/client.sh — the load generator itself, before and after: `sockit bench` builds (or
# engines, backends) side by side against one server, in interleaved rounds.
#
# One `sockit echo --model loop` server (from the first build given) is pinned to CPU 0 for
# the whole run; every client runs pinned to CPU 1. Each round gives every client, in turn
# (the order rotates from round to round), one run of 64 B ping-pong (-c 50) and one of bulk
# echo (-c 1), SECONDS each. Reported per client: the median over the rounds of msgs/s, p99
# latency and client CPU time (user+sys) per message, and of bulk MB/s and client CPU per MB.
# On a shared machine single runs move a lot: compare medians, and rerun when in doubt.
#
# Usage: bench/client.sh [--rounds N] [--seconds N] [--port P] NAME=COMMAND...
#   e.g. bench/client.sh old=/tmp/bench-old/sockit new=build/sockit \
#            "new-epoll=build/sockit --backend epoll"
# COMMAND is a sockit binary and extra bench options; the first one's binary runs the server.
set -eu

ROUNDS=5
SECONDS_PER_RUN=5
PORT=${PORT:-17500}
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    *=*) break ;;
    *) echo "usage: $0 [--rounds N] [--seconds N] [--port P] NAME=COMMAND..." >&2; exit 2 ;;
    esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--rounds N] [--seconds N] [--port P] NAME=COMMAND..." >&2; exit 2; }

OUT=$(mktemp -d /tmp/sockit-client.XXXXXX)
server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$OUT"' EXIT
trap 'exit 130' INT TERM

n=0
for spec in "$@"; do
    n=$((n + 1))
    echo "${spec%%=*}" >"$OUT/name.$n"
    echo "${spec#*=}" >"$OUT/cmd.$n"
done
first_bin=$(cut -d' ' -f1 "$OUT/cmd.1")

taskset -c 0 "$first_bin" echo "tcp://127.0.0.1:$PORT" --model loop --quiet 2>"$OUT/server.err" &
server_pid=$!
sleep 0.5
kill -0 "$server_pid" 2>/dev/null || { cat "$OUT/server.err" >&2; exit 1; }

json() { sed -n "s/.*\"$1\":\\([0-9.]*\\).*/\\1/p" "$2"; }

# One run of client I in MODE (pingpong or bulk): appends "value cpu_per_unit [p99]" to
# $OUT/MODE.I.
one_run() {
    i=$1 mode=$2
    # shellcheck disable=SC2046 # the command is words on purpose: a binary and its options
    set -- $(cat "$OUT/cmd.$i")
    bin=$1
    shift
    if [ "$mode" = bulk ]; then extra="-m bulk -c 1"; else extra="-c 50"; fi
    # shellcheck disable=SC2086
    /usr/bin/time -f "%U %S" -o "$OUT/time" taskset -c 1 "$bin" bench "tcp://127.0.0.1:$PORT" \
        $extra -d "$SECONDS_PER_RUN" --json -q "$@" >"$OUT/run.json" 2>"$OUT/run.err" || {
        cat "$OUT/run.err" >&2
        exit 1
    }
    cpu_s=$(awk '{ print $1 + $2 }' "$OUT/time")
    if [ "$mode" = bulk ]; then
        mbs=$(json mb_per_s "$OUT/run.json")
        bytes=$(json bytes "$OUT/run.json")
        echo "$mbs $(echo "$cpu_s $bytes" | awk '{ printf "%.3f", $1 * 1e3 / ($2 / 1e6) }')" \
            >>"$OUT/bulk.$i"
    else
        rate=$(json msgs_per_s "$OUT/run.json")
        msgs=$(json messages "$OUT/run.json")
        p99=$(sed -n 's/.*"p99":\([0-9.]*\).*/\1/p' "$OUT/run.json")
        echo "$rate $(echo "$cpu_s $msgs" | awk '{ printf "%.3f", $1 * 1e6 / $2 }') $p99" \
            >>"$OUT/pingpong.$i"
    fi
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { cut -d' ' -f"$1" "$2" | median; }

r=1
while [ "$r" -le "$ROUNDS" ]; do
    k=0
    while [ "$k" -lt "$n" ]; do
        i=$(((r + k - 1) % n + 1))
        one_run "$i" pingpong
        one_run "$i" bulk
        k=$((k + 1))
    done
    echo "round $r of $ROUNDS done" >&2
    r=$((r + 1))
done

echo "| client | ping-pong msgs/s | p99 us | client CPU us/msg | bulk MB/s | client CPU ms/MB |"
echo "|---|---|---|---|---|---|"
i=1
while [ "$i" -le "$n" ]; do
    printf "| %s | %.0f | %.0f | %.2f | %.0f | %.3f |\n" "$(cat "$OUT/name.$i")" \
        "$(col 1 "$OUT/pingpong.$i")" "$(col 3 "$OUT/pingpong.$i")" "$(col 2 "$OUT/pingpong.$i")" \
        "$(col 1 "$OUT/bulk.$i")" "$(col 2 "$OUT/bulk.$i")"
    i=$((i + 1))
done
echo
echo "Every run (msgs/s, us/msg, p99 | MB/s, ms/MB), in round order:"
i=1
while [ "$i" -le "$n" ]; do
    echo "$(cat "$OUT/name.$i"): $(tr '\n' ';' <"$OUT/pingpong.$i") | $(tr '\n' ';' <"$OUT/bulk.$i")"
    i=$((i + 1))
done
