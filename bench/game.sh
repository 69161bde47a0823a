#!/bin/sh
# bench/game.sh — sockit's game protocol against ENet 1.3.17 (Debian libenet-dev) carrying the
# same world (bench/anchors/enet_game.c: sockit's world and snapshot encoding, each state
# message reliable and delta-encoded against the previous one, which ENet's reliable ordered
# delivery guarantees the client holds), through the same sockit impair, on this machine, now.
#
# Servers are pinned to CPU 0 and clients to CPU 1; the proxy is left unpinned. One world for
# both: --view 8 nearest entities, 24 NPCs, 30 ticks a second (20 for the CPU run, as in
# ANCHORS.md). Measured, each for sockit and ENet:
#   - through 5 % loss (20 ms delay, 5 ms jitter that reorders, both ways; LOSSY_SECONDS, 10
#     bots): IP bytes and datagrams per state update (both directions, as the client counts
#     them: UDP payload + 28 bytes of headers), p99 update latency, hash mismatches;
#   - through 20 % loss, the same otherwise, SURVIVE_SECONDS: sessions that survive (of 10),
#     p99 update latency, hash mismatches;
#   - a dead client: one bot killed with SIGKILL, the time until the server says it is gone;
#   - forged connection requests: 64 sources that send a connect request (and, for sockit, a
#     forged response) and never follow up, against a server of 64 slots; the bytes replied
#     per byte sent, and whether a real client still gets in;
#   - CPU per message with 1000 bot clients at 20 ticks a second (CPU_SECONDS, no impairment):
#     the server's user+system CPU over the state messages it sent and the inputs it took.
# Printed as a table with ratios and the bars of issue 21 / ANCHORS.md, and appended with the
# date, machine and exact commands to docs/benchmarks.md (unless --no-record).
#
# Usage: bench/game.sh [--quick] [--no-record]
set -eu

LOSSY_SECONDS=20
SURVIVE_SECONDS=60
CPU_SECONDS=10
CPU_RUNS=3
RECORD=1
BOTS=10
CPU_BOTS=1000
TICK=30
CPU_TICK=20
SERVER_CPU=0
CLIENT_CPU=1
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) LOSSY_SECONDS=5; SURVIVE_SECONDS=10; CPU_SECONDS=5; CPU_RUNS=1 ;;
    --no-record) RECORD=0 ;;
    *) echo "usage: $0 [--quick] [--no-record]" >&2; exit 2 ;;
    esac
    shift
done

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SOCKIT=$BUILD/sockit
ANCHORS=$BUILD/bench
OUT=$(mktemp -d /tmp/sockit-bench-game.XXXXXX)
PORT=$((20000 + $$ % 20000))
# shellcheck source=bench/servers.sh
. "$(dirname "$0")/servers.sh"

[ -x "$SOCKIT" ] || fail "$SOCKIT is not built: run make all"
[ -x "$ANCHORS/enet_game" ] || fail "$ANCHORS/enet_game is not built: run make anchors"
[ -x "$ANCHORS/game_forge" ] || fail "$ANCHORS/game_forge is not built: run make anchors"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$OUT"
}
trap cleanup EXIT INT TERM

WORLD="--view 8 --npcs 24"
IMPAIR="--delay 20ms --jitter 5ms --seed 1"

# field NAME FILE: a number from the JSON in FILE (the first "NAME":).
field() { sed -n "s/.*\"$1\":\\([0-9.a-z]*\\).*/\\1/p" "$2" | head -1; }
p99_of() { sed -n 's/.*"update_latency_ms":{[^}]*"p99":\([0-9.]*\).*/\1/p' "$1"; }

# server KIND TICK SLOTS: a game server of KIND (sockit or enet) on a fresh port (SERVER_PORT),
# pinned; its JSON in $OUT/KIND.server.json, its stderr in $OUT/KIND.server.err.
server() {
    free_port
    case "$1" in
    sockit) cmd="$SOCKIT game-server -l udp://127.0.0.1:$PORT --json --tick $2 --max-clients $3 $WORLD" ;;
    enet) cmd="$ANCHORS/enet_game server --port $PORT --json --tick $2 --max-clients $3 $WORLD" ;;
    esac
    echo "bench: $cmd" >>"$OUT/commands"
    # shellcheck disable=SC2086
    taskset -c $SERVER_CPU $cmd >"$OUT/$1.server.json" 2>"$OUT/$1.server.err" &
    SERVER_PID=$!
    pids="$pids $SERVER_PID"
    wait_bound "$PORT"
    SERVER_PORT=$PORT
}

stop_game_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

# proxy LOSS: sockit impair in front of the server, with LOSS both ways; its port in VIA.
proxy() {
    free_port
    VIA=$PORT
    # shellcheck disable=SC2086
    start "$SOCKIT" impair -q -l "udp://127.0.0.1:$VIA" -t "udp://127.0.0.1:$SERVER_PORT" \
        --loss "$1" $IMPAIR
    PROXY_PID=$!
    echo "bench: $SOCKIT impair -q -l udp://127.0.0.1:$VIA -t udp://127.0.0.1:$SERVER_PORT --loss $1 $IMPAIR" >>"$OUT/commands"
    wait_bound "$VIA"
}

stop_proxy() {
    kill "$PROXY_PID" 2>/dev/null || true
    wait "$PROXY_PID" 2>/dev/null || true
}

# client KIND PORT BOTS SECONDS TICK OUTFILE: the bots of KIND, pinned; JSON into OUTFILE.
# Exit 1 (a lost session) is a result, not a failure of the run.
client() {
    case "$1" in
    sockit) cmd="$SOCKIT game-client udp://127.0.0.1:$2 --bots $3 --duration $4 --json -q --seed 1 -B epoll" ;;
    enet) cmd="$ANCHORS/enet_game client --port $2 --bots $3 --duration $4 --tick $5 --json" ;;
    esac
    echo "bench: $cmd" >>"$OUT/commands"
    # shellcheck disable=SC2086
    taskset -c $CLIENT_CPU $cmd >"$6" 2>>"$OUT/clients.err" || true
    grep -q '"updates":' "$6" || fail "the client failed: $(tail -3 "$OUT/clients.err")"
}

# lossy KIND LOSS SECONDS: bots through LOSS; the client's JSON in $OUT/KIND.LOSS.json.
lossy() {
    server "$1" $TICK 64
    proxy "$2"
    client "$1" "$VIA" $BOTS "$3" $TICK "$OUT/$1.$2.json"
    stop_proxy
    stop_game_server
    echo "bench: $1 through $2 loss: survived $(field survived "$OUT/$1.$2.json")/$BOTS," \
        "$(field ip_bytes_per_update "$OUT/$1.$2.json") IP B and" \
        "$(field packets_per_update "$OUT/$1.$2.json") datagrams an update," \
        "p99 $(p99_of "$OUT/$1.$2.json") ms, $(field mismatches "$OUT/$1.$2.json") mismatches" >&2
}

# dead KIND: one bot killed with SIGKILL; prints the seconds until the server says so.
dead() {
    server "$1" $TICK 64
    client_cmd=$(case "$1" in
        sockit) echo "$SOCKIT game-client udp://127.0.0.1:$SERVER_PORT --duration 120 -q" ;;
        enet) echo "$ANCHORS/enet_game client --port $SERVER_PORT --duration 120 --tick $TICK" ;;
        esac)
    echo "bench: $client_cmd; sleep 3; kill -9" >>"$OUT/commands"
    # shellcheck disable=SC2086
    taskset -c $CLIENT_CPU $client_cmd >/dev/null 2>&1 &
    victim=$!
    sleep 3
    kill -9 $victim
    t0=$(date +%s.%N)
    i=0
    until grep -Eq 'timed out|disconnected' "$OUT/$1.server.err"; do
        i=$((i + 1))
        [ $i -lt 6000 ] || break # 60 s
        sleep 0.01
    done
    t1=$(date +%s.%N)
    wait $victim 2>/dev/null || true
    stop_game_server
    echo "$t0 $t1" | awk '{ printf "%.2f\n", $2 - $1 }'
}

# forged KIND: 64 forged sources against 64 slots; the attacker's JSON in $OUT/KIND.forge.json;
# for sockit, the slots the forgeries took (joined, less the real client) in $OUT/sockit.slots.
forged() {
    server "$1" $TICK 64
    case "$1" in
    sockit) cmd="$ANCHORS/game_forge --port $SERVER_PORT --count 64 --json" ;;
    enet) cmd="$ANCHORS/enet_game forge --port $SERVER_PORT --count 64" ;;
    esac
    echo "bench: $cmd" >>"$OUT/commands"
    # shellcheck disable=SC2086
    taskset -c $CLIENT_CPU $cmd >"$OUT/$1.forge.json" 2>>"$OUT/clients.err" || true
    stop_game_server
    if [ "$1" = sockit ]; then
        real=$([ "$(field real_client_connected "$OUT/sockit.forge.json")" = true ] && echo 1 || echo 0)
        echo $(($(field joined "$OUT/sockit.server.json") - real)) >"$OUT/sockit.slots"
    fi
}

# cpu KIND: 1000 bots at 20 ticks a second; appends the server's CPU µs per message to
# $OUT/KIND.cpu and the bots that survived to $OUT/KIND.cpu_survived.
cpu() {
    server "$1" $CPU_TICK $CPU_BOTS
    client "$1" "$SERVER_PORT" $CPU_BOTS $CPU_SECONDS $CPU_TICK "$OUT/$1.cpu.json"
    stop_game_server
    field cpu_us_per_message "$OUT/$1.server.json" >>"$OUT/$1.cpu"
    field survived "$OUT/$1.cpu.json" >>"$OUT/$1.cpu_survived"
    echo "bench: $1 with $CPU_BOTS bots: survived $(field survived "$OUT/$1.cpu.json")," \
        "$(field cpu_us_per_message "$OUT/$1.server.json") us CPU a message" >&2
}

# median FILE: the middle of the numbers in FILE, one a line.
median_of() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

: >"$OUT/commands"
for kind in sockit enet; do
    lossy $kind 5% $LOSSY_SECONDS
    lossy $kind 20% $SURVIVE_SECONDS
    dead $kind >"$OUT/$kind.dead"
    echo "bench: $kind noticed a dead client after $(cat "$OUT/$kind.dead") s" >&2
    forged $kind
    echo "bench: $kind forged: $(cat "$OUT/$kind.forge.json")" >&2
done
# CPU: alternating, CPU_RUNS rounds, medians (this VM's steal time varies from run to run).
r=0
while [ $r -lt $CPU_RUNS ]; do
    r=$((r + 1))
    for kind in sockit enet; do cpu $kind; done
done

# ratio A B: A / B with two decimals ("-" when B is 0).
ratio() { echo "$1 $2" | awk '{ if ($2 + 0 == 0) print "-"; else printf "%.2f\n", $1 / $2 }'; }
# met VALUE OP BAR: "yes" when VALUE OP BAR holds (OP: le or eq).
met() {
    echo "$1 $3" | awk -v op="$2" '{ if ($1 == "-") { print "no"; exit }
        ok = (op == "le") ? ($1 <= $2 + 1e-9) : ($1 == $2); print ok ? "yes" : "no" }'
}

row() { printf '%-44s %12s %12s %8s %10s %5s\n' "$@"; }

S5=$OUT/sockit.5%.json E5=$OUT/enet.5%.json S20=$OUT/sockit.20%.json E20=$OUT/enet.20%.json
sb=$(field ip_bytes_per_update "$S5") eb=$(field ip_bytes_per_update "$E5")
sp=$(field packets_per_update "$S5") ep=$(field packets_per_update "$E5")
s99=$(p99_of "$S5") e99=$(p99_of "$E5") s99b=$(p99_of "$S20") e99b=$(p99_of "$E20")
ss=$(field survived "$S20") es=$(field survived "$E20")
sd=$(cat "$OUT/sockit.dead") ed=$(cat "$OUT/enet.dead")
sa=$(field amplification "$OUT/sockit.forge.json") ea=$(field amplification "$OUT/enet.forge.json")
sr=$(field real_client_connected "$OUT/sockit.forge.json")
er=$(field real_client_connected "$OUT/enet.forge.json")
sc=$(median_of "$OUT/sockit.cpu") ec=$(median_of "$OUT/enet.cpu")
scs=$(sort -n "$OUT/sockit.cpu_survived" | head -1) ecs=$(sort -n "$OUT/enet.cpu_survived" | head -1)

{
    echo "One world for both: $BOTS bots, view 8, 24 NPCs, $TICK ticks/s; impairment both ways:"
    echo "loss as named, $IMPAIR (sockit impair). Ratios are sockit / ENet."
    row metric sockit ENet ratio bar met
    r=$(ratio "$sb" "$eb"); row "IP bytes per update (5 % loss)" "$sb" "$eb" "$r" "<=0.8x" "$(met "$r" le 0.8)"
    r=$(ratio "$sp" "$ep"); row "datagrams per update (5 % loss)" "$sp" "$ep" "$r" "<=0.55x" "$(met "$r" le 0.55)"
    r=$(ratio "$s99" "$e99"); row "p99 update latency ms (5 % loss)" "$s99" "$e99" "$r" "<=0.5x" "$(met "$r" le 0.5)"
    r=$(ratio "$s99b" "$e99b"); row "p99 update latency ms (20 % loss)" "$s99b" "$e99b" "$r" "<=0.2x" "$(met "$r" le 0.2)"
    row "sessions surviving ${SURVIVE_SECONDS}s at 20 % loss" "$ss/$BOTS" "$es/$BOTS" "" "$BOTS/$BOTS" "$(met "$ss" eq $BOTS)"
    row "hash mismatches (5 %, 20 %)" "$(field mismatches "$S5"),$(field mismatches "$S20")" \
        "$(field mismatches "$E5"),$(field mismatches "$E20")" "" "0" \
        "$(met "$(($(field mismatches "$S5") + $(field mismatches "$S20")))" eq 0)"
    r=$(ratio "$sd" "$ed"); row "dead client noticed after (s)" "$sd" "$ed" "$r" "<=0.6x" "$(met "$r" le 0.6)"
    row "forged: reply bytes per request byte" "$sa" "$ea" "" "<=1" "$(met "$sa" le 1)"
    row "forged: a real client still gets in" "$sr" "$er" "" "true" "$([ "$sr" = true ] && echo yes || echo no)"
    row "forged: slots taken by 64 forgeries" "$(cat "$OUT/sockit.slots")" \
        "$([ "$er" = true ] && echo '<64' || echo 64)" "" "0" "$(met "$(cat "$OUT/sockit.slots")" eq 0)"
    r=$(ratio "$sc" "$ec")
    row "CPU us per message, $CPU_BOTS bots, $CPU_TICK Hz" "$sc" "$ec" "$r" "<=0.5x" "$(met "$r" le 0.5)"
    row "  (median of $CPU_RUNS; fewest bots surviving)" "$scs/$CPU_BOTS" "$ecs/$CPU_BOTS" "" "" ""
} >"$OUT/table"
cat "$OUT/table"

if [ "$RECORD" = 1 ]; then
    record "UDP game: sockit vs ENet" "bench/game.sh $([ $LOSSY_SECONDS = 5 ] && echo --quick)" <<EOT

Commands (ports vary):
\`\`\`
$(sed -E 's/^bench: //; s/127\.0\.0\.1:[0-9]+/127.0.0.1:PORT/g; s/--port [0-9]+/--port PORT/g' \
    "$OUT/commands" | awk '!seen[$0]++')
\`\`\`
EOT
fi
