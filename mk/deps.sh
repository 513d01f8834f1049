#!/bin/sh
# mk/deps.sh - install the Debian packages the build, tests, demo and
# benchmarks need; skip those present; use sudo when not root; print the
# exact command when neither works.
# dpkg-dev, debhelper and fakeroot: the Debian package test (mk/debian.mk);
# python3-dev: the walk's C accelerator (gdb/asynctrace/_speedups.c);
# graphviz and golang-go: the CLI test feeds its exports to dot -Tsvg and
# go tool pprof -top.
PKGS="gcc make pkg-config gdb binutils libunwind-dev libcapstone-dev libdw-dev libcunit1-dev libjansson-dev python3 python3-dev dpkg-dev debhelper fakeroot graphviz golang-go"
[ -n "$ASYNCTRACE_EXTRA_DEPS" ] && PKGS="$PKGS $ASYNCTRACE_EXTRA_DEPS"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
    case "$st" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

echo "asynctrace: installing missing packages:$missing"
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo"
else
    echo "asynctrace: cannot install packages (not root, no sudo). Run as root:" >&2
    echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
if ! $SUDO apt-get install -y -qq --no-install-recommends $missing; then
    echo "asynctrace: package installation failed; run:" >&2
    echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y$missing" >&2
    exit 1
fi
