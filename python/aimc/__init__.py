"""aimc - the analog in-memory-computing accelerator simulator and driver, from Python.

The same library as the ``aimc`` command and ``libaimc.so`` (docs/python.md):

    import aimc
    m = aimc.Machine.from_yaml("configs/isaac.yaml", set={"adc.bits": 6})
    m.info()["peak"]["tops"]                 # aimc info --json, as a dict
    plan = aimc.map(m, aimc.Model.from_yaml("models/digits-moe.yaml"))
    plan.summary()["summary"]                # aimc map --json, as a dict
    rep = aimc.run(m)                        # aimc run --json, as a dict ...
    rep.outputs["logits"]                    # ... and every token's outputs as numpy arrays
    rows = aimc.sweep("configs/sweeps/adc-bits.yaml")   # the sweep's table

    xb = aimc.Crossbar(m, seed=1)            # the crossbar kernel on numpy float32 arrays
    xb.program(0, w)
    y = xb.mvm(0, x)

    with aimc.Device("sim:", machine=m) as dev:   # the driver API
        dev.program(0, w)
        y = dev.mvm(0, x)

Every failure raises aimc.Error with .status (the negative AIMC_ERR_* code), .status_name and
.message (the library's text: file:line:col for configs and models). Nothing prints. Long
calls release the GIL.
"""

import json
import os
import sys
import tempfile

import numpy as np

from . import _aimc
from ._aimc import Buffer, Error, opcode_name, strerror

__version__ = _aimc.version
__all__ = [
    "Buffer", "Crossbar", "Device", "Error", "Machine", "Model", "Plan", "Report", "data_path",
    "map", "opcode_name", "run", "strerror", "sweep", "tiles",
]

# Status codes: aimc.ERR_CONFIG, aimc.ERR_DEVICE, ... (common/aimc_status.h)
for _name in dir(_aimc):
    if _name == "OK" or _name.startswith("ERR_"):
        globals()[_name] = getattr(_aimc, _name)
        __all__.append(_name)

_HERE = os.path.dirname(os.path.abspath(__file__))


def _data_dirs():
    """Where the presets (configs/) and models (models/) are looked for, in order."""
    dirs = []
    if os.environ.get("AIMC_DATADIR"):
        dirs.append(os.environ["AIMC_DATADIR"])
    dirs.append(os.path.join(_HERE, "share"))                   # pip install ./python
    dirs.append(os.path.normpath(os.path.join(_HERE, "..", "..")))  # the source tree
    dirs += [os.path.join(sys.prefix, "share", "aimc"), "/usr/local/share/aimc", "/usr/share/aimc"]
    return dirs


def data_path(*parts):
    """The path of a shipped file, e.g. data_path("configs", "isaac.yaml"): under
    $AIMC_DATADIR, the package, the source tree or an installed share/aimc. Raises
    aimc.Error (ERR_NOTFOUND) when none has it."""
    for d in _data_dirs():
        p = os.path.join(d, *parts)
        if os.path.exists(p):
            return p
    e = Error("%s: not found under %s" % (os.path.join(*parts), ", ".join(_data_dirs())))
    e.status, e.status_name, e.message = _aimc.ERR_NOTFOUND, "ERR_NOTFOUND", e.args[0]
    raise e


def _fspath(p):
    return None if p is None else os.fspath(p)


class Machine(_aimc.Machine):
    """A machine config: the built-in default, a YAML file, or YAML text, with --set
    overrides. Machine() is the default machine (configs/default.yaml)."""

    @classmethod
    def from_yaml(cls, path=None, set=None):
        """Load a config file (None: the built-in default) with overrides: set is a dict
        {key: value} or a list of "key=value" strings, checked as --set checks them."""
        return cls(_fspath(path), set)

    @classmethod
    def from_string(cls, text, name="<string>", set=None):
        """A config from YAML text; name stands for the file name in messages."""
        return cls(None, set, text, name)

    @classmethod
    def preset(cls, name, set=None):
        """A shipped preset by name: "default", "isaac", "puma", "hermes"."""
        return cls(data_path("configs", name + ".yaml"), set)

    def info(self):
        """The machine's peak, power and area: `aimc info --json` as a dict."""
        return json.loads(self._info_json())

    def __repr__(self):
        return "<aimc.Machine %s: %d crossbars of %dx%d>" % (
            self.name, self.crossbars, self.xbar_rows, self.xbar_cols)


class Model(_aimc.Model):
    """An MoE model file (docs/models.md), with its weights unless weights=False."""

    @classmethod
    def from_yaml(cls, path=None, weights=True):
        """Load a model file (None: the default model, the digits classifier)."""
        return cls(_fspath(path) if path is not None else default_model(), weights)

    @classmethod
    def from_string(cls, text, name="<string>", weights=True):
        return cls(None, weights, text, name)

    def __repr__(self):
        return "<aimc.Model %s: %d layers, %d matrices>" % (self.name, self.layers, self.n_matrices)


def default_model():
    """The path of the default model (models/digits-moe.yaml), as the command finds it."""
    return data_path("models", "digits-moe.yaml")


def _machine(m):
    if m is None:
        return Machine()
    if isinstance(m, _aimc.Machine):
        return m
    return Machine.from_yaml(m)


def _model(m, weights=True):
    if m is None:
        return Model.from_yaml(None, weights)
    if isinstance(m, _aimc.Model):
        return m
    return Model.from_yaml(m, weights)


class Plan:
    """A model mapped onto a machine (aimc.map)."""

    def __init__(self, plan, machine, model):
        self._plan = plan
        self.machine = machine
        self.model = model

    def summary(self):
        """`aimc map --json` as a dict: "mapping" (tiles, crossbars, cells) and "summary"
        (strategy, load, hops, the estimate of a token)."""
        return json.loads(self._plan._summary_json())

    def tiles(self, matrix):
        """Matrix `matrix`'s tiles: an (n, 8) uint32 array of aimc_tile's fields (matrix,
        row0, nrows, col0, ncols, slice, xbar, xbar_col0), for Device.program."""
        return self._plan.tiles(matrix)

    @property
    def n_tiles(self):
        return self._plan.n_tiles

    @property
    def chips_used(self):
        return self._plan.chips_used

    @property
    def crossbars_used(self):
        return self._plan.crossbars_used

    def __repr__(self):
        return "<aimc.Plan %s on %s: %d tiles on %d crossbars>" % (
            self.model.name, self.machine.name, self.n_tiles, self.crossbars_used)


def map(machine=None, model=None, *, shape_only=False, seed=1, routing="uniform"):
    """Map a model onto a machine as `aimc map` does (the fault map of seed, the routing
    statistics for the strategies that read them). machine and model: objects, paths or
    None for the defaults."""
    mach = _machine(machine)
    mod = _model(model, weights=False) if not isinstance(model, _aimc.Model) else model
    return Plan(_aimc.map(mach, mod, shape_only=bool(shape_only), seed=int(seed),
                          routing=str(routing)), mach, mod)


def tiles(machine, rows, cols, first_xbar=0, matrix=0):
    """Tiles of one rows x cols matrix on the machine, on consecutive crossbars from
    first_xbar: row blocks of the crossbar's rows, column blocks of its weight columns, one
    crossbar per bit slice. An (n, 8) uint32 array; raises ERR_NOFIT past the machine."""
    return _aimc.tiles(machine, int(rows), int(cols), int(first_xbar), int(matrix))


class Report(dict):
    """The report of aimc.run: the dict `aimc run --json` writes, with .outputs, every token's
    outputs as numpy arrays (value runs): "x" the residual stream after the last layer (tokens
    x d_model), "logits" a classifier's head (tokens x classes), "experts" the device's
    routing decisions (MoE layers x tokens x top_k), "labels" a classifier's test labels. A
    language model (model.vocab) runs on its text in windows, as `aimc run` does: the report
    holds perplexity_hw, perplexity_float and accuracy (next token), "logits" are over the
    vocabulary and "ids" (tokens) the token ids run."""

    def __init__(self, report, outputs):
        super().__init__(report)
        self.outputs = outputs


def run(machine=None, model=None, *, tokens=None, seed=1, backend="sim:", timing_only=False,
        batch=None, window=None, activity="measured", routing=None, compare=None, trace=None,
        ids=None, x0=None, prompt=None, generate=False):
    """Map, program and run a model as `aimc run` does, and return its report (a Report: the
    same dict as `aimc run --json`, plus .outputs). machine and model: objects, paths or None
    for the defaults. The keywords and the command's options they stand for:

    tokens       --tokens N: how many (default a classifier's test set, else 16)
    seed         --seed: the device noise and the random tokens (default 1)
    backend      --backend: a driver URI (default "sim:")
    timing_only  --timing-only: time and energy without values
    batch        --batch: tokens per group (default 1)
    window       --window: groups in flight at most (default 64)
    activity     --activity: "measured" (default) or "assumed"
    routing      --routing: timing-only routing, "uniform", "zipf:S[:SEED]" or a file
    compare      --compare: "gpu:a100", "gpu:h100" or "gpu:h200"
    trace        --trace: a Chrome trace file to write (sim:)
    ids          --tokens-file with ids: a language model's (model.vocab) token ids, a
                 sequence or a 1-D integer array, each in 0..vocab-1 (not with tokens)
    x0           --tokens-file with vectors: a model without a vocabulary's inputs, a 2-D
                 real array of tokens x d_model, copied as float32 (not complex; not with
                 tokens)
    prompt       --prompt N: models with attention: the first N tokens at once (a prefill)
    generate     --generate: models with attention: each later token enters when the one
                 before has left the head

    Every token's outputs are in .outputs (what --dump-outputs writes). A malformed ids or x0
    raises TypeError or ValueError; an option the model or the others rule out raises
    aimc.Error (ERR_INVALID), as the command refuses it. The GIL is released while it runs."""
    mach = _machine(machine)
    mod = _model(model, weights=not timing_only)
    text, outputs = _aimc.run(
        mach, mod, tokens=int(tokens or 0), seed=int(seed), backend=str(backend),
        timing_only=bool(timing_only), batch=int(batch or 0), window=int(window or 0),
        activity=str(activity), routing=routing, compare=compare, trace=_fspath(trace),
        ids=ids, x0=x0, prompt=int(prompt or 0), generate=bool(generate))
    return Report(json.loads(text), outputs)


def _rows(results):
    rows = []
    for r in results["results"]:
        row = {"point": r["point"]}
        row.update(r["values"])
        row["status"] = r["status"]
        if "error" in r:
            row["error"] = r["error"]
        row.update(r.get("metrics", {}))
        row["pareto"] = bool(r["pareto"])
        rows.append(row)
    return rows


def sweep(spec=None, *, text=None, jobs=1, out_dir=None, dataframe=None):
    """Run a design-space sweep (docs/dse.md) and return its table: one row per point (point,
    the varied values, status, the metrics, pareto), as `aimc sweep` writes it. spec is the
    spec file; or text is the spec's YAML (its paths relative to the working directory). jobs
    > 1 runs points in that many worker processes. The result files (sweep.json, sweep.csv,
    sweep.log) go to out_dir when given. A pandas DataFrame when pandas is installed (unless
    dataframe=False), else a list of dicts."""
    if (spec is None) == (text is None):
        raise TypeError("sweep: give a spec file or text=")
    name = _fspath(spec) if spec is not None else "<string>"
    with tempfile.TemporaryDirectory(prefix="aimc-sweep-") as tmp:
        d = os.fspath(out_dir) if out_dir is not None else tmp
        path = _aimc.sweep(name, default_model(), d, jobs=int(jobs), text=text)
        with open(os.path.join(d, "sweep.json")) as f:
            results = json.load(f)
    rows = _rows(results)
    if dataframe is False:
        return rows
    try:
        import pandas
    except ImportError:
        if dataframe:
            raise
        return rows
    return pandas.DataFrame(rows)


class Crossbar(_aimc.Xbar):
    """The crossbar kernel (sim/xbar/aimc_xbar.h) on numpy arrays: program matrices, run MVMs
    on batches (float32 in and out, no copies of C-contiguous float32 arrays), read what the
    values did. Crossbar(machine=None, seed=0)."""

    def __new__(cls, machine=None, seed=0):
        return super().__new__(cls, _machine(machine), int(seed))

    def __init__(self, machine=None, seed=0):
        self.machine = _machine(machine) if not isinstance(machine, _aimc.Machine) else machine
        self._next_xbar = 0

    def program(self, matrix, w, tiles=None, verify=0, tolerance=0.0):
        """Program matrix id `matrix` with w (rows x cols, row = input). tiles: an (n, 8)
        uint32 table (aimc.tiles), default the next free crossbars. Returns the
        program-and-verify report (verify rounds, tolerance in uS)."""
        w = np.asarray(w)
        if tiles is None:
            tiles = _aimc.tiles(self.machine, w.shape[0], w.shape[1], self._next_xbar, matrix)
            self._next_xbar = int(tiles[:, 6].max()) + 1
        return super().program(matrix, w, tiles, verify, tolerance)

    def counters(self):
        """The data-dependent counts since creation or reset_stats (aimc_xbar_stats)."""
        return self.stats()


class Device(_aimc.Device):
    """The driver (driver/aimc.h): Device(uri="sim:", machine=None, seed=0, watchdog_us=0,
    timing_only=False). Buffers are numpy arrays (Device.buffer(...).array), jobs return
    fences, failures raise aimc.Error with the device's status and message."""

    def __new__(cls, uri="sim:", machine=None, seed=0, watchdog_us=0, timing_only=False):
        m = None if machine is None else _machine(machine)
        return super().__new__(cls, uri, m, int(seed), int(watchdog_us), bool(timing_only))

    def __init__(self, uri="sim:", machine=None, seed=0, watchdog_us=0, timing_only=False):
        self.machine = _machine(machine)
        self._shapes = {}
        self._next_xbar = 0

    def program(self, matrix, w, tiles=None, verify=0, tolerance=0.0):
        """Program matrix id `matrix`: w rows x cols float32 (or (rows, cols) on a
        timing-only device); tiles default to the next free crossbars (aimc.tiles)."""
        shape = tuple(w) if isinstance(w, tuple) else np.shape(w)
        if tiles is None:
            tiles = _aimc.tiles(self.machine, shape[0], shape[1], self._next_xbar, matrix)
            self._next_xbar = int(tiles[:, 6].max()) + 1
        rep = super().program(matrix, w, tiles, verify, tolerance)
        self._shapes[matrix] = (int(shape[0]), int(shape[1]))
        return rep

    def mvm(self, matrix, x, timeout=None):
        """y = x W on the device: submit, wait, return y (batch x cols float32)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if matrix not in self._shapes:
            raise _error(_aimc.ERR_STATE, "matrix %d was not programmed through this Device" % matrix)
        cols = self._shapes[matrix][1]
        y = np.empty((x.shape[0], cols) if x.ndim == 2 else (cols,), dtype=np.float32)
        self.wait(self.submit_mvm(matrix, x, y), timeout)
        return y


def _error(status, message):
    e = Error(message)
    e.status, e.status_name, e.message = status, "ERR_" + [
        k for k in dir(_aimc) if getattr(_aimc, k) == status and k.startswith("ERR_")
    ][0][4:], message
    return e
