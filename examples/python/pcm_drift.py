"""pcm_drift.py - the accuracy of a numpy model on PCM crossbars as the conductances drift.

A two-layer network (64 -> 64 ReLU -> 10) fitted in numpy to the digits data set
(models/data/digits.csv: every 5th sample is the test set, as aimc's own classifier uses it),
its two weight matrices programmed onto a PCM machine with aimc.Crossbar, and the test set run
through the crossbars at read times from one second to ten years after programming, without and
with global drift compensation (docs/devices.md). Prints a table; takes a few seconds.

    PYTHONPATH=python /usr/bin/python3 examples/python/pcm_drift.py [--quick]
"""
import sys

import numpy as np

import aimc


def load_digits():
    data = np.loadtxt(aimc.data_path("models", "data", "digits.csv"), delimiter=",")
    x, y = (data[:, :64] / 16.0).astype(np.float32), data[:, 64].astype(int)
    test = np.arange(len(y)) % 5 == 0
    return x[~test], y[~test], x[test], y[test]


def fit(x, y, hidden=64, epochs=300, lr=0.5, seed=0):
    """Plain full-batch gradient descent on softmax cross-entropy, in numpy."""
    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal((64, hidden)) / 8).astype(np.float32)
    w2 = (rng.standard_normal((hidden, 10)) / np.sqrt(hidden)).astype(np.float32)
    onehot = np.eye(10, dtype=np.float32)[y]
    for _ in range(epochs):
        h = np.maximum(x @ w1, 0)
        z = h @ w2
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) / len(y)
        gh = (g @ w2.T) * (h > 0)
        w2 -= lr * h.T @ g
        w1 -= lr * x.T @ gh
    return w1, w2


def accuracy(z, y):
    return float(np.mean(z.argmax(axis=1) == y))


def main():
    quick = "--quick" in sys.argv
    xtr, ytr, xte, yte = load_digits()
    w1, w2 = fit(xtr, ytr, epochs=100 if quick else 300)
    print("float model: test accuracy %.2f %%" % (100 * accuracy(np.maximum(xte @ w1, 0) @ w2, yte)))
    machine = aimc.Machine(set={"device.type": "pcm"})
    times = [1.0, 3600.0, 86400.0 * 30, 86400.0 * 365 * 10]
    ref = np.maximum(xte @ w1, 0) @ w2
    print("%-10s %11s %11s %15s %15s" % ("read time", "accuracy", "rel. error", "compensated",
                                        "rel. error"))
    for t in times[::3] if quick else times:
        row = []
        for comp in (False, True):
            xb = aimc.Crossbar(machine, seed=1)
            xb.program(0, w1)
            xb.program(1, w2)
            xb.set_read_time(t)
            xb.set_drift_compensation(comp)
            h = np.maximum(xb.mvm(0, xte), 0)
            z = xb.mvm(1, h)
            row += [accuracy(z, yte), float(np.linalg.norm(z - ref) / np.linalg.norm(ref))]
        label = ("%.0f s" % t if t < 3600 else "%.0f h" % (t / 3600) if t < 86400
                 else "%.0f d" % (t / 86400) if t < 86400 * 365 else "%.0f y" % (t / 86400 / 365))
        print("%-10s %10.2f%% %11.4f %14.2f%% %15.4f" % (label, 100 * row[0], row[1],
                                                         100 * row[2], row[3]))


if __name__ == "__main__":
    main()
