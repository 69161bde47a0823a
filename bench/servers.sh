# bench/servers.sh — the servers the benchmarks compare, and starting and stopping them.
# Sourced by bench/echo.sh, cost.sh, chat.sh and impair.sh. Expects SOCKIT, ANCHORS,
# SERVER_CPU, PORT and OUT (a scratch directory) to be set.

server_pid=""

# Stop the benchmark with a message; the caller's EXIT trap stops the server.
fail() {
    echo "bench: $*" >&2
    exit 1
}

# The command line of each server; "@PORT@" is replaced by the port.
server_cmd() {
    case "$1" in
    sockit-uring) echo "$SOCKIT echo tcp://127.0.0.1:@PORT@ --model loop --backend uring --quiet --max-clients 100000" ;;
    sockit-epoll) echo "$SOCKIT echo tcp://127.0.0.1:@PORT@ --model loop --backend epoll --quiet --max-clients 100000" ;;
    sockit-poll) echo "$SOCKIT echo tcp://127.0.0.1:@PORT@ --model loop --backend poll --quiet --max-clients 100000" ;;
    sockit-uring-2t) echo "$SOCKIT echo tcp://127.0.0.1:@PORT@ --model loop --threads 2 --quiet --max-clients 100000" ;;
    sockit-thread) echo "$SOCKIT echo tcp://127.0.0.1:@PORT@ --model thread --quiet --max-clients 100000" ;;
    sockit-fork) echo "$SOCKIT echo tcp://127.0.0.1:@PORT@ --model fork --quiet --max-clients 100000" ;;
    sockit-iterative) echo "$SOCKIT echo tcp://127.0.0.1:@PORT@ --model iterative --quiet" ;;
    epoll) echo "$ANCHORS/epoll_echo @PORT@" ;;
    epoll-udp) echo "$ANCHORS/epoll_echo --udp @PORT@" ;;
    sockit-udp-*) echo "$SOCKIT echo udp://127.0.0.1:@PORT@ --model loop --backend ${1#sockit-udp-} --quiet" ;;
    # an older build, for a before/after row: SOCKIT_BEFORE=/path/to/old/sockit
    before-uring | before-epoll) echo "${SOCKIT_BEFORE:?set SOCKIT_BEFORE to an older sockit binary} echo tcp://127.0.0.1:@PORT@ --model loop --backend ${1#before-} --quiet --max-clients 100000" ;;
    before-udp-*) echo "${SOCKIT_BEFORE:?set SOCKIT_BEFORE to an older sockit binary} echo udp://127.0.0.1:@PORT@ --model loop --backend ${1#before-udp-} --quiet" ;;
    libuv) echo "$ANCHORS/uv_echo @PORT@" ;;
    socat) echo "socat TCP-LISTEN:@PORT@,bind=127.0.0.1,reuseaddr,fork,backlog=1024 PIPE" ;;
    *) echo "bench: unknown server '$1'" >&2; exit 2 ;;
    esac
}

# in_use PORT PROTO: something listens on (tcp) or is bound to (udp) 127.0.0.1:PORT.
in_use() {
    ss -Hl"$(printf %.1s "$2")"n "sport = :$1" | grep -q .
}

# The transport a server speaks: udp for the *udp* servers, else tcp.
proto_of() {
    case "$1" in
    *udp*) echo udp ;;
    *) echo tcp ;;
    esac
}

# start_server NAME [WRAPPER...]: the server on a new port, pinned to SERVER_CPU, under
# WRAPPER if given (e.g. valgrind); returns once it listens.
start_server() {
    name=$1
    shift
    proto=$(proto_of "$name")
    PORT=$((PORT + 1))
    while in_use $PORT "$proto"; do
        PORT=$((PORT + 1)) # taken by something else: never measure a stranger
    done
    cmd=$(server_cmd "$name" | sed "s/@PORT@/$PORT/g")
    # shellcheck disable=SC2086
    taskset -c "$SERVER_CPU" "$@" $cmd 2>"$OUT/server.err" &
    server_pid=$!
    i=0
    until in_use $PORT "$proto"; do
        i=$((i + 1))
        [ $i -lt 400 ] || fail "$name did not start: $(cat "$OUT/server.err")"
        kill -0 "$server_pid" 2>/dev/null || fail "$name exited: $(cat "$OUT/server.err")"
        sleep 0.05
    done
}

stop_server() {
    [ -n "$server_pid" ] || return 0
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""

# Stop the benchmark with a message; the caller's EXIT trap stops the server.
fail() {
    echo "bench: $*" >&2
    exit 1
}
}

# record TITLE COMMAND: append to docs/benchmarks.md a dated section TITLE with the machine, the
# commit and COMMAND, then the lines read from stdin (how the load ran) and $OUT/table.
record() {
    {
        echo
        echo "## $1, $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo
        echo "Machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), Linux $(uname -r)."
        echo "Commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?'). Command: \`$2\`."
        cat
        echo
        echo '```'
        cat "$OUT/table"
        echo '```'
    } >>docs/benchmarks.md
    echo "bench: results appended to docs/benchmarks.md" >&2
}

# median FILE: the median of each column of FILE, one line of RUNS runs each (RUNS set by the
# caller).
median() {
    cols=$(head -1 "$1" | wc -w)
    c=1
    while [ $c -le "$cols" ]; do
        sort -g -k$c,$c "$1" | awk -v k=$(((RUNS + 1) / 2)) -v c=$c 'NR == k { printf "%s ", $c }'
        c=$((c + 1))
    done
    echo
}

# free_port [PROTO]: the next port after PORT free for PROTO (udp, the default, or tcp), in PORT.
free_port() {
    PORT=$((PORT + 1))
    while in_use $PORT "${1:-udp}"; do PORT=$((PORT + 1)); done
}

# start CMD...: a background process, remembered in $pids for the caller's cleanup, its
# stderr appended to $OUT/relays.err; its pid in $!.
start() {
    "$@" 2>>"$OUT/relays.err" &
    pids="$pids $!"
}

# wait_bound PORT [PROTO]: until something is bound to (udp, the default) or listens on (tcp)
# 127.0.0.1:PORT (5 s at most).
wait_bound() {
    i=0
    while ! in_use "$1" "${2:-udp}"; do
        i=$((i + 1))
        [ $i -lt 100 ] || fail "nothing bound to ${2:-udp} port $1: $(cat "$OUT/relays.err")"
        sleep 0.05
    done
}
