"""dse_sweep.py - a design-space sweep from Python: ADC bits against energy and error.

Runs the sweep spec configs/sweeps/adc-bits.yaml (the default machine and the digits
classifier, adc.bits from 4 to 10) through aimc.sweep, prints its table with the Pareto front
marked, and, when matplotlib is installed, plots energy per token against the output error to
adc-bits.png. With --quick only 3 values and 32 tokens (a few seconds).

    PYTHONPATH=python /usr/bin/python3 examples/python/dse_sweep.py [--quick] [--jobs N] [--out FILE.png]
"""
import argparse

import aimc

QUICK = """\
version: 1
name: adc-bits-quick
base:
  config: {config}
  model: {model}
  tokens: 32
vary:
  - key: adc.bits
    values: [4, 6, 8]
sampling: {{method: grid}}
metrics: [energy_pj_per_token, rel_rms_error, accuracy_hw]
objectives:
  energy_pj_per_token: min
  rel_rms_error: min
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="adc-bits.png")
    args = ap.parse_args()
    if args.quick:
        rows = aimc.sweep(text=QUICK.format(config=aimc.data_path("configs", "default.yaml"),
                                            model=aimc.data_path("models", "digits-moe.yaml")),
                          jobs=args.jobs, dataframe=False)
    else:
        rows = aimc.sweep(aimc.data_path("configs", "sweeps", "adc-bits.yaml"), jobs=args.jobs,
                          dataframe=False)
    print("%8s %18s %14s %12s %s" % ("adc.bits", "energy pJ/token", "rel. error", "accuracy", ""))
    for r in rows:
        print("%8d %18.1f %14.4f %11.2f%% %s" % (r["adc.bits"], r["energy_pj_per_token"],
                                                r["rel_rms_error"], 100 * r["accuracy_hw"],
                                                "pareto" if r["pareto"] else ""))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib is not installed: no plot; apt-get install python3-matplotlib)")
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in rows:
        ax.scatter(r["energy_pj_per_token"] * 1e-3, r["rel_rms_error"],
                   c="tab:red" if r["pareto"] else "tab:blue")
        ax.annotate("%d b" % r["adc.bits"], (r["energy_pj_per_token"] * 1e-3, r["rel_rms_error"]))
    ax.set_xlabel("energy per token (nJ)")
    ax.set_ylabel("relative rms error of the outputs")
    ax.set_yscale("log")
    ax.set_title("ADC bits on the default machine (red: Pareto front)")
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print("plot: %s" % args.out)


if __name__ == "__main__":
    main()
