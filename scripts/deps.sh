#!/bin/sh
# deps.sh - install the Debian 12 packages aimc needs that are missing.
#
# As root it runs apt-get; otherwise it prints the exact command to run and fails.
# Quiet (and fast: one dpkg query) when everything is there. `make` calls it first.
set -eu

# libsystemc-doc ships Accellera's TLM example components, which tests/sysc.sh builds aimc's
# module into. The Python package (python/, docs/python.md) builds and runs on Debian's
# python3 with its numpy, and pip install ./python uses Debian's setuptools and wheel (no download); man-db and
# groff-base render the man pages that make install ships (tests/install.sh: man -l).
PKGS="build-essential pkg-config libyaml-dev libcunit1-dev libcjson-dev openmpi-bin libopenmpi-dev libopenblas-dev libsystemc-dev libsystemc-doc verilator zlib1g-dev gtkwave clang libclang-rt-14-dev python3 python3-dev python3-numpy python3-setuptools python3-wheel python3-pip python3-venv man-db groff-base"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "aimc: missing Debian packages:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
    echo "aimc: run this once, then make again:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >&2
echo "aimc: installed:$missing" >&2
