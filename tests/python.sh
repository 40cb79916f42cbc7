#!/bin/sh
# python.sh - the Python package as make test checks it, on Debian's /usr/bin/python3 (never a
# python3 first on PATH, such as a pyenv build without numpy):
#   1. python/tests/test_aimc.py on the in-place build (make python), with python/tests/c_ref.c
#      built against build/libaimc.so from the public headers (the C API's MVM bytes);
#   2. the examples in examples/python, quick forms;
#   3. pip install ./python into a scratch virtual environment that sees Debian's numpy,
#      setuptools and wheel, with no index (no download), then import aimc from another
#      directory and run the default model through it.
# Usage: tests/python.sh (after make python and make). Ends with "python: N passed, M failed".
set -u
cd "$(dirname "$0")/.." || exit 2
top=$(pwd)
PYTHON=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}

# 1. the suite
if cc -std=c11 -Wall -Wextra -Werror -Icommon -Idriver -Isim/xbar python/tests/c_ref.c \
    -Lbuild -laimc -Wl,-rpath,"$top/build" -o "$tmp/c_ref"; then ok; else bad "building c_ref"; fi
AIMC_BIN="$top/build/aimc" AIMC_CREF="$tmp/c_ref" PYTHONPATH="$top/python" \
    "$PYTHON" python/tests/test_aimc.py >"$tmp/suite.out" 2>&1
rc=$?
grep -v -E ' \.\.\. ok$|^python: ' "$tmp/suite.out"
line=$(grep -E '^python: [0-9]+ passed, [0-9]+ failed$' "$tmp/suite.out" | tail -n 1)
if [ -z "$line" ]; then
    bad "python/tests/test_aimc.py crashed (exit $rc)"
else
    p=$(echo "$line" | sed -E 's/^python: ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
    pass=$((pass + p))
    fail=$((fail + f))
    [ "$rc" -eq 0 ] || [ "$f" -ne 0 ] || bad "python/tests/test_aimc.py exit $rc"
fi

# the examples (examples/python), in their quick forms
for ex in "driver_test.py" "pcm_drift.py --quick" "dse_sweep.py --quick --jobs 1 --out $tmp/plot.png"; do
    # shellcheck disable=SC2086
    if PYTHONPATH="$top/python" "$PYTHON" examples/python/$ex >"$tmp/ex.out" 2>&1; then ok; else
        bad "examples/python/$ex"
        cat "$tmp/ex.out"
    fi
done

# 2. pip install ./python, offline
if "$PYTHON" -m venv --system-site-packages "$tmp/venv" >"$tmp/venv.out" 2>&1; then ok; else
    bad "python3 -m venv"
    cat "$tmp/venv.out"
fi
if "$tmp/venv/bin/pip" install --no-index --no-cache-dir ./python >"$tmp/pip.out" 2>&1; then ok; else
    bad "pip install --no-index ./python"
    tail -30 "$tmp/pip.out"
fi
rm -rf python/build python/aimc.egg-info
if (cd "$tmp" && "$tmp/venv/bin/python" - <<'PY'
import os, sys
import aimc
assert aimc.__file__.startswith(sys.prefix), aimc.__file__          # the installed copy
assert "/share/" in aimc.data_path("models", "digits-moe.yaml")     # its own presets, models
r = aimc.run(tokens=16)
assert r["model"] == "digits-moe" and r["tokens"] == 16
assert r.outputs["logits"].shape == (16, 10)
assert aimc.Machine.preset("isaac").name == "isaac"
PY
) >"$tmp/use.out" 2>&1; then ok; else
    bad "the pip-installed package imports and runs from another directory"
    cat "$tmp/use.out"
fi

echo "python: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
