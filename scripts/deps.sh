#!/bin/sh
# Install every build and test dependency of sockit on Debian 12 with apt-get.
# Idempotent: prints nothing and exits 0 when everything is already present.
set -eu

PACKAGES="
make gcc g++ pkg-config
clang llvm lld libclang-rt-14-dev clang-format
libcriterion-dev
socat ncat iproute2 util-linux curl media-types
help2man man-db
libuv1-dev libwebsockets-dev libenet-dev iperf3 liburing-dev valgrind linux-perf
wrk apache2-utils nginx-light h2o chromium
libpcap-dev tshark tcpdump netsniff-ng nftables iputils-ping
libssl-dev zlib1g-dev libjansson-dev libhiredis-dev redis-server redis-tools nodejs
"

missing=""
for pkg in $PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    case "$status" in
    *"ok installed") ;;
    *) missing="$missing $pkg" ;;
    esac
done
# npm comes with NodeSource's nodejs; Debian's own nodejs has it as a package of its own.
if ! command -v npm >/dev/null 2>&1 && ! dpkg-query -W -f='${Version}' nodejs 2>/dev/null |
    grep -q nodesource; then
    missing="$missing npm"
fi
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "deps: need root (or sudo) to install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done" >&2
