#!/bin/sh
# bench/capture.sh — packet capture into a file, side by side: tcpdump, netsniff-ng, dumpcap
# and sockit capture, on this machine, now.
#
# Two network namespaces joined by a veth pair (made here, removed at exit; IPv6 off so no
# other frame crosses). In A, `sockit inject --fast --qdisc-bypass` sends FRAMES UDP frames of
# SIZE bytes to B as fast as it can (pinned to CPU 1); in B each capturer (pinned to CPU 0)
# writes every frame to a pcap file in OUT, each with the same kernel buffer (--buffer MIB,
# default 512: the disk's writeback stalls the writer for tens of milliseconds at a time, and
# at 1514 B a 64 MiB ring fills in about 0.15 s).
# For every size, RUNS interleaved rounds give each capturer one run; the medians of:
#   captured frames/s   frames in its file (capinfos) / the senders' wall time
#   missing             frames sent but not in its file (kernel drops or lost in the tool)
#   cpu_ns/frame        the capturer's time on a CPU over the run (schedstat, all threads) /
#                       frames in its file
# are printed with ratios to tcpdump and netsniff-ng, and each file's count as tshark reads it
# (the last round). The table, the date, the machine and the exact commands are appended to
# docs/benchmarks.md (unless --no-record).
#
# With --senders 2 a second sender runs on the capturer's CPU (half the frames each): more
# load than one core sends, and a capturer that needs more CPU per frame loses frames.
#
# Usage: bench/capture.sh [--quick] [--frames N] [--sizes "64 1514"] [--runs N] [--senders 1|2]
#                         [--buffer MIB] [--no-record]
set -eu

FRAMES=1000000
SIZES="64 1514"
RUNS=3
SENDERS=1
BUF_MIB=512
RECORD=1
usage() {
    echo "usage: $0 [--quick] [--frames N] [--sizes \"64 1514\"] [--runs N] [--senders 1|2]" \
        "[--buffer MIB] [--no-record]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    [ $# -gt 1 ] || case "$1" in --frames | --sizes | --runs | --senders | --buffer) usage ;; esac
    case "$1" in
    --quick) FRAMES=300000; RUNS=1 ;;
    --frames) FRAMES=$2; shift ;;
    --sizes) SIZES=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --senders) SENDERS=$2; shift ;;
    --buffer) BUF_MIB=$2; shift ;;
    --no-record) RECORD=0 ;;
    *) usage ;;
    esac
    shift
done

BUILD=${BUILD:-build}
SOCKIT=$(realpath "$BUILD/sockit")
TOOLS="tcpdump netsniff-ng dumpcap sockit"
NS_A=sockit-bench-a
NS_B=sockit-bench-b
OUT=$(mktemp -d /tmp/sockit-capture-bench.XXXXXX)
cap_pid=
trap 'cleanup' EXIT
trap 'exit 130' INT TERM

fail() {
    echo "bench/capture.sh: $*" >&2
    exit 1
}

cleanup() {
    [ -z "$cap_pid" ] || kill -INT "$cap_pid" 2>/dev/null || true
    ip netns del $NS_A 2>/dev/null || true
    ip netns del $NS_B 2>/dev/null || true
    rm -rf "$OUT"
}

[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces, raw sockets)"
for tool in tcpdump netsniff-ng dumpcap tshark capinfos python3; do
    command -v $tool >/dev/null || fail "$tool is missing: make deps installs it"
done
[ -x "$SOCKIT" ] || fail "$SOCKIT is not built: run make"

# ---- the link -------------------------------------------------------------------------------
ip netns del $NS_A 2>/dev/null || true
ip netns del $NS_B 2>/dev/null || true
ip netns add $NS_A
ip netns add $NS_B
ip link add va netns $NS_A type veth peer name vb netns $NS_B
for ns in $NS_A $NS_B; do
    ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip -n $NS_A link set va up
ip -n $NS_B link set vb up
MAC_A=$(ip netns exec $NS_A cat /sys/class/net/va/address)
MAC_B=$(ip netns exec $NS_B cat /sys/class/net/vb/address)

# One Ethernet + IPv4 + UDP frame of SIZE bytes from A to B, as hex.
frame_hex() {
    python3 - "$1" "$MAC_A" "$MAC_B" <<'PYEOF'
import struct, sys
size, src, dst = int(sys.argv[1]), sys.argv[2], sys.argv[3]
mac = lambda m: bytes(int(x, 16) for x in m.split(":"))
ip_len = size - 14
ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, ip_len, 0, 0x4000, 64, 17, 0,
                           bytes([10, 99, 0, 1]), bytes([10, 99, 0, 2])))
s = sum(struct.unpack("!10H", bytes(ip)))
while s >> 16:
    s = (s & 0xffff) + (s >> 16)
ip[10:12] = struct.pack("!H", ~s & 0xffff)
udp = struct.pack("!HHHH", 12345, 9, ip_len - 20, 0) + bytes(ip_len - 28)
print((mac(dst) + mac(src) + b"\x08\x00" + bytes(ip) + udp).hex())
PYEOF
}

capture_cmd() { # TOOL FILE
    case "$1" in
    tcpdump) echo "tcpdump -i vb -w $2 -B $((BUF_MIB * 1024)) -n -q" ;;
    netsniff-ng) echo "netsniff-ng --in vb --out $2 --silent --ring-size ${BUF_MIB}MiB --bind-cpu 0" ;;
    dumpcap) echo "dumpcap -i vb -w $2 -B $BUF_MIB -q" ;;
    sockit) echo "$SOCKIT capture -i vb -w $2 --blocks $BUF_MIB -q" ;;
    *) fail "unknown capturer $1" ;;
    esac
}

link_drops() { # frames the veth pair dropped before any capturer could see them
    a=$(ip netns exec $NS_A cat /sys/class/net/va/statistics/tx_dropped)
    b=$(ip netns exec $NS_B cat /sys/class/net/vb/statistics/rx_dropped)
    echo $((a + b))
}

cpu_ns() { # PID: nanoseconds on a CPU so far, all its threads (schedstat: exact, not ticks)
    cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%.0f\n", s}'
}

# One run: TOOL captures FRAMES frames of SIZE; prints "frames_in_file sender_seconds cpu_ns
# link_drops".
one_run() {
    tool=$1 size=$2 hex=$3 file=$OUT/$1-$2.pcap
    rm -f "$file"
    sync # the last run's file is on disk: its writeback does not land in this run
    # shellcheck disable=SC2046 # the command is a list of words
    ip netns exec $NS_B taskset -c 0 $(capture_cmd "$tool" "$file") >"$OUT/cap.out" 2>&1 &
    cap_pid=$!
    sleep 1.5 # every tool is up and bound by then (dumpcap is the slowest to start)
    t0=$(cpu_ns $cap_pid)
    d0=$(link_drops)
    s0=$(date +%s%N)
    if [ "$SENDERS" -eq 2 ]; then # a second sender on the capturer's CPU: half the frames each
        ip netns exec $NS_A taskset -c 0 "$SOCKIT" inject -i va -c $((FRAMES / 2)) --fast \
            --qdisc-bypass -q "$hex" &
        second=$!
        ip netns exec $NS_A taskset -c 1 "$SOCKIT" inject -i va -c $((FRAMES - FRAMES / 2)) \
            --fast --qdisc-bypass --json -q "$hex" >"$OUT/inject.json"
        wait $second
    else
        ip netns exec $NS_A taskset -c 1 "$SOCKIT" inject -i va -c "$FRAMES" --fast \
            --qdisc-bypass --json -q "$hex" >"$OUT/inject.json"
    fi
    s1=$(date +%s%N)
    sleep 1 # the capturer drains its buffer
    t1=$(cpu_ns $cap_pid)
    d1=$(link_drops)
    kill -INT $cap_pid
    wait $cap_pid 2>/dev/null || true
    cap_pid=
    n=$(capinfos -M -c "$file" | awk -F': *' '/Number of packets/ {print $2}')
    secs=$(python3 -c "print(($s1 - $s0) / 1e9)") # the senders' wall time
    [ "$run" -eq "$RUNS" ] && tshark -r "$file" 2>/dev/null | wc -l >"$OUT/$tool-$size.tshark"
    rm -f "$file"
    echo "$n $secs $(( (t1 - t0) / (n > 0 ? n : 1) )) $((d1 - d0))"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

TABLE=$OUT/table
printf '%-12s %5s %10s %12s %9s %13s %8s %8s %8s\n' capturer size frames/s missing cpu_ns/fr \
    "vs tcpdump" "vs nsng" cpu/tcpd tshark >"$TABLE"
for size in $SIZES; do
    hex=$(frame_hex "$size")
    for run in $(seq "$RUNS"); do
        for tool in $TOOLS; do
            set -- $(one_run "$tool" "$size" "$hex")
            rate=$(python3 -c "print(round($1 / $2))")
            echo "$rate" >>"$OUT/$tool-$size.rate"
            echo $((FRAMES - $1 - $4)) >>"$OUT/$tool-$size.missing"
            echo "$3" >>"$OUT/$tool-$size.cpu"
            echo "bench: ${size} B, run $run/$RUNS, $tool: $1 of $FRAMES frames ($4 dropped by" \
                "the link), $rate frames/s, $3 ns CPU/frame" >&2
        done
    done
    base_rate=$(median <"$OUT/tcpdump-$size.rate")
    nsng_rate=$(median <"$OUT/netsniff-ng-$size.rate")
    base_cpu=$(median <"$OUT/tcpdump-$size.cpu")
    for tool in $TOOLS; do
        rate=$(median <"$OUT/$tool-$size.rate")
        cpu=$(median <"$OUT/$tool-$size.cpu")
        missing=$(median <"$OUT/$tool-$size.missing")
        shark=$(cat "$OUT/$tool-$size.tshark")
        python3 -c "
import sys
r, b, n, c, bc = $rate, $base_rate, $nsng_rate, $cpu, $base_cpu
print('%-12s %5s %10d %12s %9d %12.2fx %7.2fx %7.2fx %8s' % ('$tool', '$size', r, '$missing', c,
      r / b if b else 0, r / n if n else 0, c / bc if bc else 0, '$shark'))" >>"$TABLE"
    done
done
cat "$TABLE"

[ "$RECORD" -eq 1 ] || exit 0
{
    echo
    echo "## Packet capture into a file, $(date -u '+%Y-%m-%d %H:%M') UTC"
    echo
    echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Linux $(uname -r)."
    echo "Commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?'). Command: \`bench/capture.sh --frames $FRAMES --sizes \"$SIZES\" --runs $RUNS --senders $SENDERS --buffer $BUF_MIB\`."
    echo "Sender (namespace A, CPU 1$([ "$SENDERS" -eq 2 ] && echo ', and a second on CPU 0, half the frames each')): \`sockit inject -i va -c $FRAMES --fast --qdisc-bypass HEX\`"
    echo "(one UDP frame of SIZE bytes to B, repeated). Capturers (namespace B, CPU 0), each into"
    echo "a file in /tmp: $(for t in $TOOLS; do printf '`%s`; ' "$(capture_cmd $t FILE | sed "s|$SOCKIT|build/sockit|")"; done)"
    echo "frames/s: frames in the file (capinfos) / the senders' wall time; missing: sent - in the file"
    echo "- dropped by the veth pair before any capturer sees them (counted apart, in the log);"
    echo "cpu_ns/fr: the capturer's CPU time over the run (schedstat) / frames in its file; tshark: the"
    echo "file's count as tshark reads it (last round). Medians of $RUNS interleaved rounds."
    echo
    echo '```'
    cat "$TABLE"
    echo '```'
} >>docs/benchmarks.md
echo "bench/capture.sh: recorded in docs/benchmarks.md" >&2
