#!/bin/sh
# tests/install/check.sh BUILD — install sockit into a scratch DESTDIR (make install) and
# build tests/install/outside.c against the installed copy with pkg-config alone, twice: with
# the shared library (run through the soname, found by LD_LIBRARY_PATH) and, with
# `pkg-config --static`, with the static one (no libsockit.so needed at run time). Each build
# must run and echo. make test calls this; it prints "install-check: ok" or says what failed.
set -eu

BUILD=${1:-build}
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT INT TERM
PREFIX=/opt/sockit-check

make --no-print-directory -s BUILD="$BUILD" PREFIX=$PREFIX DESTDIR="$ROOT" install >/dev/null
export PKG_CONFIG_PATH="$ROOT$PREFIX/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$ROOT"
export PKG_CONFIG_LIBDIR=/nonexistent # only our .pc: nothing from the system's paths

lib="$ROOT$PREFIX/lib"
soname=$(objdump -p "$lib/libsockit.so" | awk '$1 == "SONAME" { print $2 }')
[ -n "$soname" ] && [ -e "$lib/$soname" ] || {
    echo "install-check: libsockit.so has no soname, or $soname is not installed" >&2
    exit 1
}
# shellcheck disable=SC2046 # pkg-config's output is a list of flags
cc -std=c17 -Wall -Wextra -Werror tests/install/outside.c $(pkg-config --cflags --libs sockit) \
    -o "$ROOT/outside-shared"
objdump -p "$ROOT/outside-shared" | grep -q "NEEDED *$soname" || {
    echo "install-check: the shared build does not link $soname" >&2
    exit 1
}
LD_LIBRARY_PATH="$lib" "$ROOT/outside-shared"

# The same flags from `pkg-config --static`, with libsockit taken as the archive (-l:libsockit.a
# instead of -lsockit, which the linker would satisfy with the .so): Libs.private must name
# everything the archive needs (liburing).
static_libs=$(pkg-config --static --libs sockit | sed 's/-lsockit\b/-l:libsockit.a/')
# shellcheck disable=SC2046,SC2086
cc -std=c17 -Wall -Wextra -Werror tests/install/outside.c $(pkg-config --static --cflags sockit) \
    $static_libs -o "$ROOT/outside-static"
if objdump -p "$ROOT/outside-static" | grep -q "NEEDED *libsockit"; then
    echo "install-check: the static build still needs libsockit.so" >&2
    exit 1
fi
"$ROOT/outside-static"
echo "install-check: ok (shared library $soname and static archive, linked with pkg-config)"
