"""bench/python/main.py - what the Python MVM path adds to the C call it wraps (make bench-python).

The crossbar kernel on the default machine, a 256 x 256 matrix, batches of 64 vectors: the
same Crossbar object timed through aimc.Crossbar.mvm (argument parsing, the array checks, a new
output array, the GIL released around the call) and through its C call alone
(Crossbar._time_c: aimc_xbar_mvm timed in C on the same arrays), in back-to-back pairs; the
overhead is the median of the pairs' ratios. Then the fixed cost of one call, on an 8 x 8 MVM of
one vector, where it cannot hide (best of rounds of 2000 calls). Prints BENCH lines (bench/README.md).
"""
import time

import numpy as np

import aimc

N, B, PAIRS, ROUNDS = 256, 64, 101, 7


def main():
    m = aimc.Machine()
    rng = np.random.default_rng(1)
    w = rng.standard_normal((N, N)).astype(np.float32)
    x = rng.standard_normal((B, N)).astype(np.float32)
    y = np.empty((B, N), np.float32)
    xb = aimc.Crossbar(m, seed=1)
    xb.program(0, w)
    xb.mvm(0, x, out=y)                      # warm: caches, BLAS threads, read data
    xb._time_c(0, x, y, 3)
    # Pairs of one C call and one Python call, back to back: the median of their ratios
    # holds against the load of a shared machine, which changes between pairs, not within.
    c, py, ratio = [], [], []
    for i in range(PAIRS):
        t_c = xb._time_c(0, x, y, 1)
        t0 = time.perf_counter()
        xb.mvm(0, x)
        t_py = time.perf_counter() - t0
        c.append(t_c)
        py.append(t_py)
        ratio.append(t_py / t_c)
    tag = "python_mvm_%d_b%d" % (N, B)
    print("BENCH %s_c_us %.1f us" % (tag, np.median(c) * 1e6))
    print("BENCH %s_py_us %.1f us" % (tag, np.median(py) * 1e6))
    print("BENCH %s_overhead %.2f %%" % (tag, 100.0 * (np.median(ratio) - 1.0)))
    # The fixed cost of a call, on an MVM too small to hide it (8 x 8, one vector).
    ws, xs = w[:8, :8].copy(), x[:1, :8].copy()
    ys = np.empty((1, 8), np.float32)
    xb.program(1, ws)
    small_c = small_py = float("inf")
    for _ in range(ROUNDS):
        small_c = min(small_c, xb._time_c(1, xs, ys, 2000) / 2000)
        t0 = time.perf_counter()
        for _ in range(2000):
            xb.mvm(1, xs)
        small_py = min(small_py, (time.perf_counter() - t0) / 2000)
    print("BENCH python_mvm_8_b1_c_us %.2f us" % (small_c * 1e6))
    print("BENCH python_mvm_8_b1_py_us %.2f us" % (small_py * 1e6))
    print("BENCH python_call_cost_us %.2f us" % ((small_py - small_c) * 1e6))


if __name__ == "__main__":
    main()
