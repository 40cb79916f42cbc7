#!/bin/sh
# install.sh - `make install` into a temporary DESTDIR, used as another C project would use it:
#   - the tree: the command, libaimc.so.X.Y.Z with its soname link and dev link, libaimc.a,
#     aimc.pc, the public headers only, presets and models under share/aimc, a man page for
#     aimc and for every subcommand its --help lists;
#   - the shared library exports aimc_ names declared in the installed headers and nothing
#     internal (the device model, the engine, the YAML front end, the HAL, SystemC, Verilator);
#   - examples/driver_example.c built with only the flags of `pkg-config --cflags --libs aimc`
#     (shared: needs libaimc.so.0) and of `pkg-config --static --cflags --libs aimc` behind
#     -Wl,-Bstatic (libaimc.a inside, no libaimc.so needed), both run, same output;
#   - the installed command runs from another directory and finds its default model;
#   - `man -l` renders every page without a warning, and each page holds its --help options;
#   - `make uninstall` leaves nothing behind.
# Usage: tests/install.sh (after make; it runs make install and make uninstall itself). Ends
# with "install: N passed, M failed"; exits non-zero when any check failed.
set -u
cd "$(dirname "$0")/.." || exit 2
top=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
prefix=/opt/aimc
root=$dest$prefix
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}
check() { # check DESCRIPTION COMMAND...: passes when the command succeeds
    what=$1
    shift
    if "$@" >"$tmp/check.out" 2>&1; then ok; else
        bad "$what"
        sed 's/^/    /' "$tmp/check.out" | head -20
    fi
}

if make -s install PREFIX=$prefix DESTDIR="$dest" >"$tmp/make.out" 2>&1; then ok; else
    bad "make install"
    cat "$tmp/make.out"
    echo "install: $pass passed, $fail failed"
    exit 1
fi

# ---- the tree ----
version=$(build/aimc --version | sed 's/^aimc //')
major=${version%%.*}
check "bin/aimc is executable" test -x "$root/bin/aimc"
check "lib/libaimc.so.$version is a file" test -f "$root/lib/libaimc.so.$version"
check "lib/libaimc.so.$major -> libaimc.so.$version" \
    test "$(readlink "$root/lib/libaimc.so.$major")" = "libaimc.so.$version"
check "lib/libaimc.so -> libaimc.so.$major" test "$(readlink "$root/lib/libaimc.so")" = "libaimc.so.$major"
check "the soname is libaimc.so.$major" \
    sh -c "readelf -d '$root/lib/libaimc.so.$version' | grep -q 'SONAME.*\\[libaimc.so.$major\\]'"
check "lib/libaimc.a" test -f "$root/lib/libaimc.a"
check "lib/pkgconfig/aimc.pc" test -f "$root/lib/pkgconfig/aimc.pc"
want="aimc.h aimc_api.h aimc_arch.h aimc_config.h aimc_cost.h aimc_map.h aimc_moe.h aimc_regs.h aimc_rt.h \
aimc_status.h aimc_tile.h aimc_train.h aimc_workload.h aimc_xbar.h"
got=$(cd "$root/include/aimc" && ls | tr '\n' ' ' | sed 's/ $//')
check "include/aimc holds the public headers and no other (got: $got)" \
    test "$got" = "$(echo $want)"
for h in "$root"/include/aimc/*.h; do # each compiles alone, as C and as C++
    check "$(basename "$h") compiles on its own (C)" \
        sh -c "echo '#include \"$(basename "$h")\"' | cc -std=c11 -Wall -Wextra -Werror -fsyntax-only -I'$root/include/aimc' -x c -"
done
check "share/aimc holds the presets" test -f "$root/share/aimc/configs/default.yaml" -a \
    -f "$root/share/aimc/configs/isaac.yaml" -a -f "$root/share/aimc/configs/sweeps/adc-bits.yaml"
check "share/aimc holds the models and data" test -f "$root/share/aimc/models/digits-moe.yaml" -a \
    -f "$root/share/aimc/models/digits-moe.safetensors" -a -f "$root/share/aimc/models/data/digits.csv"
cmds=$(build/aimc --help | awk '/^commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {on = 0}')
check "aimc --help lists commands" test -n "$cmds"
for p in aimc $(for c in $cmds; do echo "aimc-$c"; done); do
    check "man page $p.1 installed" test -f "$root/share/man/man1/$p.1"
done

# ---- exported symbols ----
nm -D --defined-only "$root/lib/libaimc.so.$version" | awk '{print $3}' | sort -u >"$tmp/exports"
check "libaimc.so exports aimc_ functions" test "$(grep -c '^aimc_' "$tmp/exports")" -gt 100
check "libaimc.so exports only aimc_ names and sc_main" \
    sh -c "! grep -v -E '^(aimc_|sc_main$)' '$tmp/exports'"
check "libaimc.so exports nothing internal" \
    sh -c "! grep -E '^aimc_(accel|eng|ydoc|ymap|ynode|vp|vl|dpi|hal|sysc|rng|pool)_' '$tmp/exports'"
undeclared=""
for s in $(grep '^aimc_' "$tmp/exports"); do
    grep -q -w "$s" "$root"/include/aimc/*.h || undeclared="$undeclared $s"
done
check "every export is declared in an installed header:$undeclared" test -z "$undeclared"
missing=""
for s in $(sed -n 's/^[a-z].*[ *]\(aimc_[a-z0-9_]*\)(.*/\1/p' driver/aimc.h); do
    grep -q -x "$s" "$tmp/exports" || missing="$missing $s"
done
check "every function of aimc.h is exported:$missing" test -z "$missing"

# ---- a C program built with pkg-config only ----
export PKG_CONFIG_SYSROOT_DIR="$dest" PKG_CONFIG_LIBDIR="$root/lib/pkgconfig"
check "pkg-config --modversion aimc is $version" test "$(pkg-config --modversion aimc)" = "$version"
shared_flags=$(pkg-config --cflags --libs aimc)
static_flags=$(pkg-config --static --cflags --libs aimc)
check "pkg-config --cflags --libs aimc: $shared_flags" \
    cc -std=c11 -Wall -Wextra -Werror -o "$tmp/ex_shared" examples/driver_example.c $shared_flags
check "the shared build needs libaimc.so.$major" \
    sh -c "readelf -d '$tmp/ex_shared' | grep -q 'NEEDED.*\\[libaimc.so.$major\\]'"
check "-Wl,-Bstatic pkg-config --static --cflags --libs aimc: $static_flags" \
    cc -std=c11 -Wall -Wextra -Werror -o "$tmp/ex_static" examples/driver_example.c \
    -Wl,-Bstatic $static_flags
check "the static build needs no libaimc.so" \
    sh -c "! readelf -d '$tmp/ex_static' | grep -q 'NEEDED.*libaimc'"
check "the shared build runs" sh -c "LD_LIBRARY_PATH='$root/lib' '$tmp/ex_shared' >'$tmp/shared.out'"
check "it ran on the installed libaimc.so" \
    sh -c "LD_LIBRARY_PATH='$root/lib' ldd '$tmp/ex_shared' | grep -q '$root/lib/libaimc.so.$major'"
check "the static build runs" sh -c "'$tmp/ex_static' >'$tmp/static.out'"
check "it prints y[0] .. y[4]" test "$(grep -c '^y\[[0-4]\] = ' "$tmp/shared.out")" -eq 5
check "shared and static print the same" cmp -s "$tmp/shared.out" "$tmp/static.out"

# ---- the installed command ----
check "installed aimc info --set adc.bits=6" sh -c "cd '$tmp' && '$root/bin/aimc' info --set adc.bits=6 | grep -q '^adc *6 bits'"
check "installed aimc run finds its default model (share/aimc/models)" \
    sh -c "cd '$tmp' && '$root/bin/aimc' run --tokens 4 | grep -q '^model *digits-moe'"
check "installed presets load" sh -c "cd '$tmp' && '$root/bin/aimc' info --config '$root/share/aimc/configs/isaac.yaml' >/dev/null"

# ---- man pages ----
for f in "$root"/share/man/man1/*.1; do
    p=$(basename "$f" .1)
    MANWIDTH=80 man -l --warnings "$f" >"$tmp/man.out" 2>"$tmp/man.err"
    check "man -l $p.1 renders without warnings" test ! -s "$tmp/man.err" -a -s "$tmp/man.out"
    cat "$tmp/man.err"
    check "man -l $p.1 has NAME, SYNOPSIS and DESCRIPTION" \
        sh -c "grep -q '^NAME' '$tmp/man.out' && grep -q '^SYNOPSIS' '$tmp/man.out' && grep -q '^DESCRIPTION' '$tmp/man.out'"
    if [ "$p" = aimc ]; then help=$(build/aimc --help); else help=$(build/aimc "${p#aimc-}" --help); fi
    opts=$(echo "$help" | sed -n 's/^  \(--[a-z-]*\).*/\1/p')
    absent=""
    for o in $opts; do grep -q -e "$o" "$tmp/man.out" || absent="$absent $o"; done
    check "man page $p holds every option of its --help:$absent" test -z "$absent"
done
check "aimc-run.1 is the --help text (its first description line)" \
    grep -q "Map the model onto the machine" "$root/share/man/man1/aimc-run.1"

# ---- make uninstall ----
check "make uninstall" make -s uninstall PREFIX=$prefix DESTDIR="$dest"
left=$(find "$dest" -type f -o -type l | head -5)
check "make uninstall leaves no file behind: $left" test -z "$left"

cd "$top" || exit 2
echo "install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
