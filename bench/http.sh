#!/bin/sh
# bench/http.sh — static file servers side by side under wrk, on this machine, now.
#
# Servers: sockit http (io_uring and epoll), nginx (1 worker, sendfile on, tcp_nopush on,
# access_log off, keep-alive; nginx-ofc adds open_file_cache), h2o (1 thread, no compressed
# variants) and python3 -m http.server. Each is pinned to CPU 0 and wrk to CPU 1, the same way
# for every server; for each connection count and file (1 KiB, 1 MiB), RUNS interleaved rounds
# give every server one run of SECONDS seconds of `wrk -t1 -cN --latency`; the medians of
# requests/s, p99 latency and the server's CPU time per request (utime+stime of all its
# processes over the run) are printed with ratios to nginx and h2o, and the system calls per
# request from one more run under `perf stat -e raw_syscalls:sys_enter`. The table, the date,
# the machine and the exact commands are appended to docs/benchmarks.md (unless --no-record).
#
# Then, unless --no-callgrind, the user-space instructions per request of sockit, nginx and
# h2o: each under `valgrind --tool=callgrind --trace-children=yes`, counters reset and
# dumped around a 3 s wrk run at 50 connections on the 1 KiB file.
#
# Usage: bench/http.sh [--quick] [--seconds N] [--runs N] [--conns "50 500"]
#                      [--files "1k 1m"] [--no-callgrind] [--no-record]
set -eu

SECONDS_PER_RUN=5
RUNS=3
CONNS="50 500"
FILES="1k 1m"
RECORD=1
CALLGRIND=1
usage() {
    echo "usage: $0 [--quick] [--seconds N] [--runs N] [--conns \"50 500\"] [--files \"1k 1m\"]" \
        "[--no-callgrind] [--no-record]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    [ $# -gt 1 ] || case "$1" in --seconds | --runs | --conns | --files) usage ;; esac
    case "$1" in
    --quick) SECONDS_PER_RUN=2; RUNS=1 ;;
    --seconds) SECONDS_PER_RUN=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --conns) CONNS=$2; shift ;;
    --files) FILES=$2; shift ;;
    --no-record) RECORD=0 ;;
    --no-callgrind) CALLGRIND=0 ;;
    *) usage ;;
    esac
    shift
done

BUILD=${BUILD:-build}
SOCKIT=$BUILD/sockit
SERVER_CPU=0
CLIENT_CPU=1
PORT=${PORT:-18300}
OUT=$(mktemp -d /tmp/sockit-http-bench.XXXXXX)
server_pid=
trap 'stop_server; rm -rf "$OUT"' EXIT
trap 'exit 130' INT TERM

fail() {
    echo "bench/http.sh: $*" >&2
    exit 1
}
for tool in wrk nginx h2o python3 perf; do
    command -v $tool >/dev/null || fail "$tool is missing: make deps installs it"
done
[ -x "$SOCKIT" ] || fail "$SOCKIT is not built: run make"

# The served folder: a 1 KiB and a 1 MiB file.
mkdir -p "$OUT/www" "$OUT/tmp"
chmod 755 "$OUT" "$OUT/www" # nginx workers run as www-data
head -c 1024 /dev/urandom >"$OUT/www/1k"
head -c 1048576 /dev/urandom >"$OUT/www/1m"
chmod 644 "$OUT/www/1k" "$OUT/www/1m"

cat >"$OUT/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $OUT/nginx.pid;
error_log $OUT/nginx.err;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 60;
    default_type application/octet-stream;
    client_body_temp_path $OUT/tmp;
    proxy_temp_path $OUT/tmp;
    fastcgi_temp_path $OUT/tmp;
    uwsgi_temp_path $OUT/tmp;
    scgi_temp_path $OUT/tmp;
    OPEN_FILE_CACHE
    server { listen 127.0.0.1:$PORT; root $OUT/www; }
}
EOF
sed 's/OPEN_FILE_CACHE//' "$OUT/nginx.conf" >"$OUT/nginx-plain.conf"
sed 's/OPEN_FILE_CACHE/open_file_cache max=1000 inactive=60s; open_file_cache_valid 60s;/' \
    "$OUT/nginx.conf" >"$OUT/nginx-ofc.conf"

cat >"$OUT/h2o.conf" <<EOF
num-threads: 1
user: root
listen:
  host: 127.0.0.1
  port: $PORT
file.send-compressed: OFF
hosts:
  default:
    paths:
      /:
        file.dir: $OUT/www
EOF

command_of() {
    case "$1" in
    sockit-uring) echo "$SOCKIT http $OUT/www -l tcp://127.0.0.1:$PORT -q --backend uring --max-clients 100000" ;;
    sockit-epoll) echo "$SOCKIT http $OUT/www -l tcp://127.0.0.1:$PORT -q --backend epoll --max-clients 100000" ;;
    nginx) echo "nginx -c $OUT/nginx-plain.conf -e $OUT/nginx.err" ;;
    nginx-ofc) echo "nginx -c $OUT/nginx-ofc.conf -e $OUT/nginx.err" ;;
    h2o) echo "h2o -c $OUT/h2o.conf" ;;
    python) echo "python3 -m http.server $PORT --bind 127.0.0.1 --directory $OUT/www" ;;
    *) fail "unknown server $1" ;;
    esac
}

start_server() {
    # shellcheck disable=SC2046 # the command is a list of words
    taskset -c $SERVER_CPU $(command_of "$1") >"$OUT/server.out" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$PORT/1k" && return 0
        sleep 0.05
    done
    fail "$1 did not start: $(tail -5 "$OUT/server.out")"
}

stop_server() {
    [ -n "$server_pid" ] || return 0
    pkill -TERM -P "$server_pid" 2>/dev/null || true
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    sleep 0.2
}

# The server's processes: the one started and its children (nginx's worker).
server_pids() {
    echo "$server_pid"
    pgrep -P "$server_pid" || true
}

# utime+stime of all the server's processes, in clock ticks.
server_ticks() {
    for p in $(server_pids); do
        sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }'
    done | awk '{ s += $1 } END { print s + 0 }'
}

# wrk's requests and latencies: "requests req_per_s p99_us".
wrk_numbers() {
    awk '/requests in/ { n = $1 }
         /Requests\/sec/ { r = $2 }
         /^ *99%/ { v = $2; u = 1
                    if (v ~ /us$/) u = 1; else if (v ~ /ms$/) u = 1000; else if (v ~ /s$/) u = 1e6
                    sub(/[a-z]+$/, "", v); p = v * u }
         END { printf "%d %.0f %.0f\n", n, r, p }' "$1"
}

# One run: "req_per_s p99_us cpu_us_per_req" over CONNS connections fetching FILE.
one_run() {
    before=$(server_ticks)
    taskset -c $CLIENT_CPU wrk -t1 -c "$1" -d "${SECONDS_PER_RUN}s" --latency \
        "http://127.0.0.1:$PORT/$2" >"$OUT/wrk.out" 2>&1 || true
    after=$(server_ticks)
    read -r n rate p99 <<EOF
$(wrk_numbers "$OUT/wrk.out")
EOF
    [ "${n:-0}" -gt 0 ] || fail "wrk got nothing: $(cat "$OUT/wrk.out")"
    grep -q "Non-2xx" "$OUT/wrk.out" && fail "non-2xx answers: $(cat "$OUT/wrk.out")"
    awk -v r="$rate" -v p="$p99" -v t=$((after - before)) -v n="$n" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.0f %.0f %.2f\n", r, p, t / hz * 1e6 / n }'
}

# System calls per request: one more run under perf stat over every server process.
syscalls_per_request() {
    pids=$(server_pids | paste -sd, -)
    perf stat -x, -e raw_syscalls:sys_enter -p "$pids" -o "$OUT/perf.out" &
    perf_pid=$!
    sleep 0.2
    taskset -c $CLIENT_CPU wrk -t1 -c "$1" -d 2s "http://127.0.0.1:$PORT/$2" >"$OUT/wrk2.out" 2>&1 || true
    kill -INT $perf_pid
    wait $perf_pid 2>/dev/null || true
    n=$(wrk_numbers "$OUT/wrk2.out" | cut -d' ' -f1)
    awk -F, -v n="$n" '/sys_enter/ { printf "%.2f\n", (n > 0 ? $1 / n : 0) }' "$OUT/perf.out"
}

median() {
    for col in 1 2 3; do
        sort -g -k$col,$col "$1" | awk -v k=$(((RUNS + 1) / 2)) -v c=$col 'NR == k { printf "%s ", $c }'
    done
    echo
}

SERVERS=${SERVERS:-"sockit-uring sockit-epoll nginx nginx-ofc h2o python"}
printf '%-13s %6s %5s %10s %9s %13s %9s %9s %9s %9s\n' server conns file req/s p99_us cpu_us/req \
    "vs nginx" "cpu/nginx" "cpu/h2o" "calls/req" >"$OUT/table"
for file in $FILES; do
    for conns in $CONNS; do
        for s in $SERVERS; do : >"$OUT/$s.runs"; done
        r=0
        while [ $r -lt "$RUNS" ]; do
            r=$((r + 1))
            for s in $SERVERS; do
                c=$conns
                [ "$s" = python ] && c=10 # one request at a time per thread: a few suffice
                start_server "$s"
                one_run "$c" "$file" >>"$OUT/$s.runs"
                [ $r -eq 1 ] && syscalls_per_request "$c" "$file" >"$OUT/$s.calls"
                stop_server
                echo "bench: $file, run $r/$RUNS, $s at $c connections: $(tail -1 "$OUT/$s.runs")" >&2
            done
        done
        for s in $SERVERS; do median "$OUT/$s.runs" >"$OUT/$s.med"; done
        ng_rate=0 ng_cpu=0 h2_cpu=0
        [ ! -f "$OUT/nginx.med" ] || read -r ng_rate _ ng_cpu <"$OUT/nginx.med"
        [ ! -f "$OUT/h2o.med" ] || read -r _ _ h2_cpu <"$OUT/h2o.med"
        for s in $SERVERS; do
            read -r rate p99 cpu <"$OUT/$s.med"
            c=$conns
            [ "$s" = python ] && c=10
            awk -v s="$s" -v c="$c" -v f="$file" -v r="$rate" -v p="$p99" -v u="$cpu" \
                -v nr="${ng_rate:-0}" -v nc="${ng_cpu:-0}" -v hc="${h2_cpu:-0}" -v k="$(cat "$OUT/$s.calls")" \
                'BEGIN { printf "%-13s %6d %5s %10.0f %9.0f %13.2f %8.2fx %8.2fx %8.2fx %9s\n", s, c, f, r, p,
                         u, (nr > 0 ? r / nr : 0), (nc > 0 ? u / nc : 0), (hc > 0 ? u / hc : 0), k }' >>"$OUT/table"
        done
    done
done

# User-space instructions under callgrind of all the server's processes, from start to exit,
# for a run of wrk (3 s, 50 connections) or, with "idle", for one request: "instructions
# requests". (callgrind_control cannot reset a process that sleeps in a system call, as
# nginx's master does, so the start-up cost is taken out by the idle run instead.)
callgrind_total() {
    rm -rf "$OUT/cg"
    mkdir -p "$OUT/cg"
    chmod 1777 "$OUT/cg" # nginx's and h2o's workers write theirs as another user
    # shellcheck disable=SC2046
    taskset -c $SERVER_CPU valgrind --tool=callgrind --trace-children=yes \
        --callgrind-out-file="$OUT/cg/cg.%p" $(command_of "$1") >"$OUT/server.out" 2>&1 &
    server_pid=$!
    for _ in $(seq 300); do
        curl -s -o /dev/null "http://127.0.0.1:$PORT/1k" && break
        sleep 0.1
    done
    n=1
    if [ "$2" = load ]; then
        taskset -c $CLIENT_CPU wrk -t1 -c50 -d3s "http://127.0.0.1:$PORT/1k" >"$OUT/wrk-cg.out" 2>&1 || true
        n=$(($(wrk_numbers "$OUT/wrk-cg.out" | cut -d' ' -f1) + 1))
    fi
    pkill -TERM -P "$server_pid" 2>/dev/null || true
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    sleep 0.5 # the workers' dumps
    cat "$OUT"/cg/cg.* 2>/dev/null | awk -v n="$n" '/^(summary|totals):/ { ir += $2 } END { printf "%.0f %d\n", ir, n }'
}

callgrind_run() {
    idle=$(callgrind_total "$1" idle | cut -d' ' -f1)
    busy_n=$(callgrind_total "$1" load)
    echo "$busy_n" | awk -v i="$idle" '{ printf "%.0f\n", ($2 > 1 ? ($1 - i) / ($2 - 1) : 0) }'
}

if [ "$CALLGRIND" -eq 1 ] && command -v valgrind >/dev/null; then
    printf '\n%-13s %18s\n' server "instr/req (1k, 50)" >>"$OUT/table"
    for s in sockit-uring sockit-epoll nginx h2o; do
        printf '%-13s %18s\n' "$s" "$(callgrind_run "$s")" >>"$OUT/table"
        echo "bench: callgrind $s done" >&2
    done
fi

cat "$OUT/table"
[ "$RECORD" -eq 1 ] || exit 0
{
    printf '\n## HTTP static files, %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'Machine: %s CPUs, %s, Linux %s.\n' "$(nproc)" \
        "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)" "$(uname -r)"
    printf 'Commit: %s. Command: `bench/http.sh --seconds %s --runs %s --conns "%s" --files "%s"`.\n' \
        "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" "$SECONDS_PER_RUN" "$RUNS" "$CONNS" "$FILES"
    printf 'Load: `taskset -c 1 wrk -t1 -cN -d%ss --latency http://127.0.0.1:PORT/FILE` (python: 10 connections);\n' "$SECONDS_PER_RUN"
    printf 'servers under `taskset -c 0`: '
    for s in $SERVERS; do printf '`%s`; ' "$(command_of "$s" | sed "s|$OUT|DIR|g")"; done
    printf '\nnginx.conf: 1 worker, sendfile on, tcp_nopush on, access_log off, keepalive_requests 1000000\n'
    printf '(nginx-ofc adds open_file_cache max=1000 inactive=60s); h2o: num-threads 1, file.send-compressed OFF.\n'
    printf 'cpu_us/req: utime+stime of all the server processes over the run / requests; calls/req:\n'
    printf 'perf stat -e raw_syscalls:sys_enter over them in one more 2 s run. instr/req: user-space\n'
    printf 'instructions (callgrind, all the server processes) over a 3 s wrk run / its requests.\n\n```\n'
    cat "$OUT/table"
    printf '```\n'
} >>docs/benchmarks.md
echo "bench/http.sh: recorded in docs/benchmarks.md" >&2
