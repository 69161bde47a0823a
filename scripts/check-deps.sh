#!/bin/sh
# Before the first compile: are the libraries this build needs installed? A missing one is
# named with its fix here, instead of surfacing as a compiler error about a header.
#   usage: check-deps.sh MODULE:PACKAGE...   (pkg-config module : Debian package)
# Prints nothing and exits 0 when all are there; else names the missing packages, exits 1.
set -u

missing=""
if command -v pkg-config >/dev/null 2>&1; then
    for dep in "$@"; do
        pkg-config --exists "${dep%%:*}" || missing="$missing ${dep#*:}"
    done
else
    missing=" pkg-config" # nothing else can be checked without it
fi
[ -z "$missing" ] && exit 0

echo "sockit: missing build dependencies:$missing" >&2
echo "sockit: 'make deps' installs them ('make run' and 'make test' do so first)" >&2
exit 1
