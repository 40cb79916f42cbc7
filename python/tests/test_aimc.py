"""test_aimc.py - the aimc Python package against the command and the C API.

Run by tests/python.sh (make test) with Debian's /usr/bin/python3 and PYTHONPATH=python, with
AIMC_BIN (the aimc command) and AIMC_CREF (python/tests/c_ref.c built against libaimc) set.
Every function of the package, its error cases, and three equalities: aimc.run() equals
`aimc run --json` on the default model, aimc.map/info/sweep equal their commands' JSON, and an
MVM through the package equals the C API's bytes (kernel and driver).
"""

import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import numpy as np

import aimc

TOP = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
AIMC_BIN = os.environ.get("AIMC_BIN", os.path.join(TOP, "build", "aimc"))
CREF = os.environ.get("AIMC_CREF")


def cli_json(*args):
    """Run the aimc command with --json into a temp file; return the parsed JSON."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "out.json")
        subprocess.run([AIMC_BIN, *args, "--json", out], check=True, cwd=TOP,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        with open(out) as f:
            return json.load(f)


def rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


class ErrorCase(unittest.TestCase):
    def assertAimcError(self, status, fn, *args, contains=None, startswith=None, **kw):
        with self.assertRaises(aimc.Error) as cm:
            fn(*args, **kw)
        e = cm.exception
        self.assertEqual(e.status, status, e.message)
        self.assertEqual(getattr(aimc, e.status_name), status)
        self.assertEqual(str(e), e.message)
        if contains:
            self.assertIn(contains, e.message)
        if startswith:
            self.assertTrue(e.message.startswith(startswith), e.message)
        return e


class TestModule(ErrorCase):
    def test_version_and_codes(self):
        out = subprocess.run([AIMC_BIN, "--version"], capture_output=True, text=True).stdout
        self.assertEqual(out.strip(), "aimc " + aimc.__version__)
        self.assertEqual(aimc.OK, 0)
        self.assertEqual(aimc.ERR_CONFIG, -5)
        self.assertEqual(aimc.ERR_ABORTED, -14)
        self.assertEqual(aimc.strerror(aimc.ERR_CONFIG), "invalid configuration")
        self.assertEqual(aimc.strerror(-999), "unknown error")

    def test_opcode_name(self):
        self.assertEqual(aimc.opcode_name(3), "mvm")
        self.assertEqual(aimc.opcode_name(9), "scale_acc")
        self.assertIsNone(aimc.opcode_name(999))

    def test_data_path(self):
        self.assertTrue(os.path.isfile(aimc.data_path("configs", "isaac.yaml")))
        self.assertAimcError(aimc.ERR_NOTFOUND, aimc.data_path, "configs", "nope.yaml")

    def test_nothing_prints(self):
        code = ("import aimc, numpy as np\n"
                "m = aimc.Machine(); m.info(); aimc.map(); aimc.run(tokens=4)\n"
                "x = aimc.Crossbar(m, 1); x.program(0, np.ones((8, 4), np.float32)); x.mvm(0, np.ones(8))\n"
                "d = aimc.Device(); d.program(0, np.ones((8, 4), np.float32)); d.mvm(0, np.ones((2, 8)))\n"
                "try: aimc.Machine(set={'adc.bits': 99})\nexcept aimc.Error: pass\n")
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertEqual(p.stderr, "")


class TestMachine(ErrorCase):
    def test_default_and_properties(self):
        m = aimc.Machine()
        self.assertEqual(m.name, "default")
        self.assertEqual((m.xbar_rows, m.xbar_cols), (128, 128))
        self.assertEqual(m.crossbars, 1024)
        self.assertGreater(m.slices, 0)
        self.assertGreater(m.logical_cols, 0)
        self.assertEqual(m.chips, 1)
        self.assertIn("default", repr(m))

    def test_from_yaml_with_set_dict_and_list(self):
        path = os.path.join(TOP, "configs", "isaac.yaml")
        a = aimc.Machine.from_yaml(path, set={"adc.bits": 6, "crossbar.rows": 256})
        b = aimc.Machine.from_yaml(path, set=["adc.bits=6", "crossbar.rows=256"])
        self.assertEqual((a.adc_bits, a.xbar_rows), (6, 256))
        self.assertEqual(a.info(), b.info())
        self.assertEqual(a.name, "isaac")

    def test_info_equals_cli(self):
        path = os.path.join(TOP, "configs", "puma.yaml")
        m = aimc.Machine.from_yaml(path, set={"adc.bits": 7})
        self.assertEqual(m.info(), cli_json("info", "--config", path, "--set", "adc.bits=7"))
        self.assertGreater(m.info()["peak"]["tops"], 0)

    def test_preset_from_string_with_set(self):
        self.assertEqual(aimc.Machine.preset("hermes").name, "hermes")
        with open(os.path.join(TOP, "configs", "default.yaml")) as f:
            text = f.read()
        self.assertEqual(aimc.Machine.from_string(text).info(), aimc.Machine().info())
        m = aimc.Machine().with_set({"adc.bits": 5})
        self.assertIsInstance(m, aimc.Machine)
        self.assertEqual(m.adc_bits, 5)
        self.assertNotEqual(aimc.Machine().adc_bits, 5)  # a copy: the default is unchanged

    def test_bad_key_in_file_names_file_line_col(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "bad.yaml")
            with open(os.path.join(TOP, "configs", "default.yaml")) as f:
                lines = f.read().split("\n")
            i = next(k for k, l in enumerate(lines) if l.strip().startswith("bits:"))
            lines[i] = lines[i].replace("bits:", "bitz:", 1)
            with open(p, "w") as f:
                f.write("\n".join(lines))
            col = lines[i].index("bitz") + 1
            e = self.assertAimcError(aimc.ERR_CONFIG, aimc.Machine.from_yaml, p,
                                     startswith="%s:%d:%d: " % (p, i + 1, col))
            self.assertIn("unknown key", e.message)

    def test_config_errors(self):
        self.assertAimcError(aimc.ERR_CONFIG, aimc.Machine, set={"adc.bits": 99},
                             contains="adc.bits")
        self.assertAimcError(aimc.ERR_CONFIG, aimc.Machine, set={"adc.bitz": 3},
                             contains="did you mean adc.bits")
        self.assertAimcError(aimc.ERR_IO, aimc.Machine.from_yaml, "/nonexistent/x.yaml",
                             startswith="/nonexistent/x.yaml")
        self.assertAimcError(aimc.ERR_PARSE, aimc.Machine.from_string, "a: [", name="s.yaml",
                             startswith="s.yaml:")
        self.assertAimcError(aimc.ERR_CONFIG, aimc.Machine().with_set, {"adc.bits": "eight"})
        with self.assertRaises(TypeError):
            aimc.Machine(set=5)


class TestModel(ErrorCase):
    def test_default_model(self):
        m = aimc.Model.from_yaml()
        self.assertEqual(m.name, "digits-moe")
        self.assertTrue(m.has_weights)
        self.assertEqual(m.n_classes, 10)
        mats = m.matrices()
        self.assertEqual(len(mats), m.n_matrices)
        self.assertEqual(mats[0]["index"], 0)
        self.assertEqual(sum(x["rows"] * x["cols"] for x in mats), m.weight_count)
        w = m.weights(0)
        self.assertEqual(w.shape, (mats[0]["rows"], mats[0]["cols"]))
        self.assertEqual(w.dtype, np.float32)
        self.assertFalse(w.flags.writeable and w.flags.owndata)
        del m
        self.assertTrue(np.isfinite(w).all())  # the view keeps the model alive

    def test_shape_only_and_errors(self):
        m = aimc.Model.from_yaml(os.path.join(TOP, "models", "mixtral-8x7b.yaml"), weights=False)
        self.assertFalse(m.has_weights)
        self.assertGreater(m.weight_count, 40e9)
        self.assertAimcError(aimc.ERR_STATE, m.weights, 0, contains="without weights")
        with self.assertRaises(IndexError):
            aimc.Model.from_yaml().weights(10 ** 6)
        self.assertAimcError(aimc.ERR_IO, aimc.Model.from_yaml, "/nonexistent/m.yaml")
        with open(os.path.join(TOP, "models", "tiny-moe.yaml")) as f:
            text = f.read().replace("  layers: 2", "  layerz: 2")
        e = self.assertAimcError(aimc.ERR_CONFIG, aimc.Model.from_string, text, name="m.yaml",
                                 startswith="m.yaml:")
        self.assertRegex(e.message, r"^m\.yaml:4:3: ")
        with self.assertRaises(TypeError):
            aimc.Model()


class TestMap(ErrorCase):
    def test_summary_equals_cli(self):
        path = os.path.join(TOP, "configs", "isaac.yaml")
        p = aimc.map(aimc.Machine.from_yaml(path), aimc.Model.from_yaml())
        self.assertEqual(p.summary(), cli_json("map", "--config", path))
        self.assertGreater(p.n_tiles, 0)
        self.assertEqual(p.chips_used, 1)
        self.assertGreater(p.crossbars_used, 0)
        self.assertIn("digits-moe", repr(p))

    def test_tiles_and_options(self):
        p = aimc.map(None, None, seed=3, routing="zipf:1.1")
        t = p.tiles(0)
        self.assertEqual(t.shape[1], 8)
        self.assertEqual(t.dtype, np.uint32)
        self.assertTrue((t[:, 0] == 0).all())
        self.assertIn("zipf", p.summary()["summary"]["routing"])
        s = aimc.map(None, os.path.join(TOP, "models", "mixtral-8x7b.yaml"), shape_only=True)
        self.assertGreater(s.chips_used, 1)
        self.assertAimcError(aimc.ERR_STATE, s.tiles, 0, contains="shape-only")
        with self.assertRaises(IndexError):
            p.tiles(10 ** 6)

    def test_errors(self):
        self.assertAimcError(aimc.ERR_NOFIT, aimc.map,
                             aimc.Machine(set={"hierarchy.cores_per_chip": 1,
                                               "hierarchy.crossbars_per_core": 1}), None)
        self.assertAimcError(aimc.ERR_CONFIG, aimc.map, None, None, routing="zipf:x")


class TestTiles(ErrorCase):
    def test_tiles(self):
        m = aimc.Machine()
        t = aimc.tiles(m, 300, 100, first_xbar=5, matrix=2)
        rb, cb = -(-300 // m.xbar_rows), -(-100 // m.logical_cols)
        self.assertEqual(t.shape, (rb * cb * m.slices, 8))
        self.assertEqual(list(t[:, 6]), list(range(5, 5 + t.shape[0])))
        self.assertTrue((t[:, 0] == 2).all())
        self.assertEqual(int(t[t[:, 5] == 0][:, 2].sum()), 300 * cb)
        self.assertAimcError(aimc.ERR_NOFIT, aimc.tiles, m, 4096, 4096)
        self.assertAimcError(aimc.ERR_INVALID, aimc.tiles, m, 0, 4)


class TestRun(ErrorCase):
    def test_run_equals_cli_on_default_model(self):
        r = aimc.run()
        self.assertIsInstance(r, dict)
        self.assertEqual(dict(r), cli_json("run"))
        self.assertEqual(r["model"], "digits-moe")
        self.assertEqual(r["tokens"], 360)

    def test_outputs(self):
        r = aimc.run()
        o = r.outputs
        self.assertEqual(o["x"].shape, (360, 64))
        self.assertEqual(o["logits"].shape, (360, 10))
        self.assertEqual(o["experts"].shape, (1, 360, 2))
        self.assertEqual(o["labels"].shape, (360,))
        self.assertEqual(o["logits"].dtype, np.float32)
        # the device's accuracy is the argmax of these logits against these labels
        acc = float(np.mean(o["logits"].argmax(axis=1) == o["labels"]))
        self.assertAlmostEqual(acc, r["accuracy"]["hw"], places=9)
        self.assertTrue(((o["experts"] >= 0) & (o["experts"] < 4)).all())

    def test_options_equal_cli(self):
        path = os.path.join(TOP, "configs", "isaac.yaml")
        r = aimc.run(path, None, tokens=8, seed=7, batch=4, compare="gpu:h100")
        self.assertEqual(dict(r), cli_json("run", "--config", path, "--tokens", "8", "--seed",
                                           "7", "--batch", "4", "--compare", "gpu:h100"))
        t = aimc.run(None, os.path.join(TOP, "models", "tiny-moe.yaml"), timing_only=True,
                     tokens=8, routing="zipf:1.2")
        self.assertEqual(dict(t), cli_json("run", "--model", "models/tiny-moe.yaml",
                                           "--timing-only", "--tokens", "8", "--routing", "zipf:1.2"))
        self.assertEqual(t["mode"], "timing_only")
        self.assertEqual(t.outputs, {})

    def test_language_model_equals_cli(self):
        # a language model runs on its text in windows, as the command does: the same report,
        # its perplexity finite and above 1; the per-token logits are over the vocabulary and
        # the report's perplexity is theirs, scored on each window's next id
        path = os.path.join(TOP, "models", "bytes-lm.yaml")
        r = aimc.run(None, path, tokens=128, seed=3)
        self.assertEqual(dict(r), cli_json("run", "--model", "models/bytes-lm.yaml", "--tokens",
                                           "128", "--seed", "3"))
        for k in ("perplexity_hw", "perplexity_float"):
            self.assertTrue(math.isfinite(r[k]) and r[k] > 1, (k, r[k]))
        self.assertTrue(0 <= r["accuracy"]["hw"] <= 1)
        ids, z = r.outputs["ids"], r.outputs["logits"]
        self.assertEqual(ids.shape, (128,))
        self.assertEqual(z.shape, (128, 256))
        w = 64  # models/bytes-lm.yaml's eval.context: the last id of each window is not scored
        nll, n = 0.0, 0
        for t in range(127):
            if t % w == w - 1:
                continue
            zt = z[t].astype(np.float64)
            lse = zt.max() + math.log(np.exp(zt - zt.max()).sum())
            nll += lse - zt[ids[t + 1]]
            n += 1
        self.assertAlmostEqual(math.exp(nll / n), r["perplexity_hw"], delta=1e-4 * r["perplexity_hw"])

    def test_errors(self):
        self.assertAimcError(aimc.ERR_NOTFOUND, aimc.run, backend="nope:", tokens=2,
                             contains="unknown scheme")
        self.assertAimcError(aimc.ERR_INVALID, aimc.run, tokens=70000)
        self.assertAimcError(aimc.ERR_INVALID, aimc.run, routing="uniform")
        self.assertAimcError(aimc.ERR_INVALID, aimc.run, activity="guessed")
        self.assertAimcError(aimc.ERR_NOTFOUND, aimc.run, compare="gpu:none")
        self.assertAimcError(aimc.ERR_STATE, aimc.run, None, aimc.Model.from_yaml(None, weights=False))
        self.assertAimcError(aimc.ERR_NOFIT, aimc.run,
                             aimc.Machine(set={"hierarchy.cores_per_chip": 1}), tokens=2)

    def test_ids_equal_cli_tokens_file(self):
        # ids= runs a language model on those ids as --tokens-file of the same ids does; a
        # numpy array of another integer type and a list give the same run
        path = os.path.join(TOP, "models", "bytes-lm.yaml")
        ids = list(b"The quick brown fox jumps over the lazy dog, twice: the quick brown fox.")
        with tempfile.TemporaryDirectory() as d:
            f = os.path.join(d, "ids.txt")
            with open(f, "w") as fh:
                fh.write(" ".join(map(str, ids)) + "\n")
            want = cli_json("run", "--model", "models/bytes-lm.yaml", "--tokens-file", f,
                            "--seed", "3")
        r = aimc.run(None, path, ids=ids, seed=3)
        self.assertEqual(dict(r), want)
        self.assertEqual(r["tokens"], len(ids))
        np.testing.assert_array_equal(r.outputs["ids"], ids)
        r16 = aimc.run(None, path, ids=np.array(ids, dtype=np.uint16), seed=3)
        self.assertEqual(dict(r16), want)
        # not the model's own text: another run without ids is another report
        self.assertNotEqual(dict(aimc.run(None, path, tokens=len(ids), seed=3)), want)

    def test_x0_equals_cli_tokens_file(self):
        # x0= gives a model without a vocabulary its inputs, as --tokens-file's vectors do
        x = rand((6, 64), 11)
        with tempfile.TemporaryDirectory() as d:
            f = os.path.join(d, "x.txt")
            with open(f, "w") as fh:
                for row in x:
                    fh.write(" ".join("%.9g" % v for v in row) + "\n")
            want = cli_json("run", "--tokens-file", f, "--seed", "5")
        r = aimc.run(x0=x, seed=5)
        self.assertEqual(dict(r), want)
        self.assertEqual(r["tokens"], 6)
        self.assertEqual(r.outputs["x"].shape, (6, 64))
        self.assertEqual(dict(aimc.run(x0=x.astype(np.float64), seed=5)), want)

    def test_bad_ids_and_x0(self):
        lm = aimc.Model.from_yaml(os.path.join(TOP, "models", "bytes-lm.yaml"))
        for ids, kind, text in (
                ([1, 2, 256], ValueError,
                 "run: ids[2]: 256 is not a token id of model bytes-lm: expected 0..255 "
                 "(model.vocab 256)"),
                (np.array([5, -1], np.int64), ValueError,
                 "run: ids[1]: -1 is not a token id of model bytes-lm: expected 0..255"),
                (np.array([2 ** 64 - 1], np.uint64), ValueError,
                 "run: ids[0]: 18446744073709551615 is not a token id"),
                (np.array([1.0, 2.0]), TypeError,
                 "run: ids: expected integer token ids, got dtype float64"),
                ([True, False], TypeError, "run: ids: expected integer token ids, got dtype bool"),
                ("hello", TypeError, "run: ids: expected integer token ids"),
                (np.zeros((2, 3), np.int32), ValueError,
                 "run: ids: expected a 1-D sequence of token ids, got 2 dimensions"),
                ([], ValueError, "run: ids: expected 1..65536 token ids, got 0"),
                (np.zeros(65537, np.int32), ValueError,
                 "run: ids: expected 1..65536 token ids, got 65537")):
            with self.assertRaises(kind, msg=repr(ids)) as cm:
                aimc.run(None, lm, ids=ids)
            self.assertTrue(str(cm.exception).startswith(text), str(cm.exception))
        self.assertAimcError(aimc.ERR_INVALID, aimc.run, None, lm, ids=[1, 2], tokens=4,
                             contains="tokens and ids: give one")
        self.assertAimcError(aimc.ERR_INVALID, aimc.run, None, lm, ids=[1, 2], timing_only=True,
                             contains="ids needs values")
        self.assertAimcError(aimc.ERR_INVALID, aimc.run, ids=[1, 2],
                             contains="model digits-moe has no vocabulary")
        self.assertAimcError(aimc.ERR_INVALID, aimc.run, None, lm, x0=rand((2, 64), 1),
                             contains="model bytes-lm has a vocabulary (model.vocab 256)")
        for x0, text in ((rand((2, 63), 1), "got (2, 63)"), (rand((64,), 1), "got (64,)"),
                         (np.zeros((0, 64), np.float32), "got (0, 64)")):
            with self.assertRaises(ValueError) as cm:
                aimc.run(x0=x0)
            self.assertIn("run: x0: expected shape (tokens, 64) with 1..65536 tokens", str(cm.exception))
            self.assertIn(text, str(cm.exception))
        bad = rand((3, 64), 1)
        bad[2, 7] = np.inf
        with self.assertRaises(ValueError) as cm:
            aimc.run(x0=bad)
        self.assertEqual(str(cm.exception), "run: x0[2, 7]: inf is not a finite float32")
        with self.assertRaises(TypeError) as cm:  # not cut to its real part
            aimc.run(x0=rand((3, 64), 1).astype(np.complex64))
        self.assertIn("run: x0: complex numbers are no inputs", str(cm.exception))

    def test_prompt_generate_need_attention(self):
        # the command's refusal, word for word but for the options' spelling
        p = subprocess.run([AIMC_BIN, "run", "--prompt", "4"], cwd=TOP, capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 2)
        cli = p.stderr.strip().splitlines()[-1]
        for kw in ({"prompt": 4}, {"generate": True}):
            e = self.assertAimcError(aimc.ERR_INVALID, aimc.run, tokens=8, **kw)
            self.assertIn("model digits-moe has no attention, so its tokens are no sequence",
                          e.message)
            if "prompt" in kw:
                self.assertEqual(e.message, cli.replace("aimc run: --prompt", "run: prompt")
                                 .replace("--batch N", "batch=N").replace("--", ""))
        self.assertAimcError(aimc.ERR_INVALID, aimc.run, prompt=70000, contains="prompt")

    def test_prompt_generate_equal_cli(self):
        path = os.path.join(TOP, "models", "bytes-lm.yaml")
        base = ("run", "--model", "models/bytes-lm.yaml", "--tokens", "24", "--seed", "2")
        plain = aimc.run(None, path, tokens=24, seed=2)
        for kw, args in (({"prompt": 8}, ("--prompt", "8")),
                         ({"generate": True}, ("--generate",)),
                         ({"prompt": 8, "generate": True}, ("--prompt", "8", "--generate"))):
            r = aimc.run(None, path, tokens=24, seed=2, **kw)
            self.assertEqual(dict(r), cli_json(*base, *args), kw)
            # the options reach the run: the tokens enter in more groups than the default's
            # one prefill, and decoding token by token takes longer
            self.assertGreater(r["groups"], plain["groups"], kw)
            if "generate" in kw:
                self.assertGreater(r["time_ns"], plain["time_ns"], kw)

    def test_gil_released(self):
        done = threading.Event()
        t = threading.Thread(target=lambda: (aimc.run(), done.set()))
        spins = 0
        t.start()
        while not done.is_set():
            spins += 1
        t.join()
        self.assertGreater(spins, 10000)  # this thread ran while the run did


SPEC = """\
version: 1
name: t
base:
  model: {model}
  tokens: 8
vary:
  - key: adc.bits
    values: [5, 7]
sampling: {{method: grid}}
metrics: [energy_pj_per_token, time_ns_per_token, rel_rms_error]
objectives:
  energy_pj_per_token: min
  rel_rms_error: min
"""


class TestSweep(ErrorCase):
    def spec(self, d):
        p = os.path.join(d, "t.yaml")
        with open(p, "w") as f:
            f.write(SPEC.format(model=os.path.join(TOP, "models", "digits-moe.yaml")))
        return p

    def test_sweep_equals_cli(self):
        with tempfile.TemporaryDirectory() as d:
            spec = self.spec(d)
            rows = aimc.sweep(spec, dataframe=False)
            subprocess.run([AIMC_BIN, "sweep", spec, "--out", os.path.join(d, "cli"), "--jobs", "1",
                            "--quiet"], check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(d, "cli.json")) as f:
                cli = json.load(f)
            self.assertEqual(rows, aimc._rows(cli))
            self.assertEqual([r["adc.bits"] for r in rows], [5, 7])
            self.assertTrue(all(r["status"] == "ok" for r in rows))
            self.assertGreater(rows[1]["energy_pj_per_token"], 0)
            self.assertEqual(aimc.sweep(spec, jobs=2, dataframe=False), rows)
            out = os.path.join(d, "out")
            os.mkdir(out)
            with open(spec) as f:
                self.assertEqual(aimc.sweep(text=f.read(), out_dir=out, dataframe=False), rows)
            self.assertTrue(os.path.isfile(os.path.join(out, "sweep.csv")))

    def test_dataframe_when_pandas(self):
        with tempfile.TemporaryDirectory() as d:
            spec = self.spec(d)
            try:
                import pandas
            except ImportError:
                self.assertIsInstance(aimc.sweep(spec), list)
                with self.assertRaises(ImportError):
                    aimc.sweep(spec, dataframe=True)
            else:
                df = aimc.sweep(spec)
                self.assertIsInstance(df, pandas.DataFrame)
                self.assertEqual(len(df), 2)

    def test_errors(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "bad.yaml")
            with open(p, "w") as f:
                f.write(SPEC.format(model="x.yaml").replace("adc.bits", "adc.bitz"))
            self.assertAimcError(aimc.ERR_CONFIG, aimc.sweep, p, startswith=p + ":")
        self.assertAimcError(aimc.ERR_IO, aimc.sweep, "/nonexistent/s.yaml")
        self.assertAimcError(aimc.ERR_INVALID, aimc.sweep, "x.yaml", jobs=0)
        with self.assertRaises(TypeError):
            aimc.sweep()


class TestCrossbar(ErrorCase):
    def setUp(self):
        self.m = aimc.Machine()
        self.w = rand((200, 150), 1)
        self.x = rand((16, 200), 2)

    def test_program_mvm_counters(self):
        xb = aimc.Crossbar(self.m, seed=3)
        rep = xb.program(0, self.w)
        self.assertGreater(rep["devices"], 0)
        self.assertEqual(xb.matrix_shape(0), (200, 150))
        self.assertIsNone(xb.matrix_shape(1))
        y = xb.mvm(0, self.x)
        self.assertEqual((y.shape, y.dtype), ((16, 150), np.float32))
        ref = self.x @ self.w
        self.assertGreater(np.corrcoef(y.ravel(), ref.ravel())[0, 1], 0.95)
        s = xb.counters()
        self.assertEqual(s["mvms"], 16)
        self.assertGreater(s["cells_programmed"], 0)
        xb.reset_stats()
        self.assertEqual(xb.stats()["mvms"], 0)
        self.assertGreater(xb.memory_bytes(), 200 * 150)
        self.assertEqual(xb.mvm(0, self.x[0]).shape, (150,))
        c = xb.cell(0, 0, 0)
        self.assertTrue(c["programmed"])
        self.assertGreater(c["g_prog_us"], 0)

    def test_no_copy_and_same_results(self):
        xb = aimc.Crossbar(self.m, seed=3)
        xb.program(0, self.w)
        out = np.empty((16, 150), np.float32)
        y = xb.mvm(0, self.x, out=out)
        self.assertIs(y, out)
        xb2 = aimc.Crossbar(self.m, seed=3)
        xb2.program(0, self.w.astype(np.float64))          # converted, same values
        xf = np.asfortranarray(self.x)                      # copied, same values
        self.assertEqual(xb2.mvm(0, xf).tobytes(), y.tobytes())

    def test_threads_deterministic_and_parallel(self):
        ref = aimc.Crossbar(self.m, seed=3)  # the same sequence of calls on one thread
        ref.program(0, self.w)
        seq = [ref.mvm(0, self.x).tobytes() for _ in range(3)]
        xb = aimc.Crossbar(self.m, seed=3)
        xb.program(0, self.w)
        y1 = xb.mvm(0, self.x)
        self.assertEqual(y1.tobytes(), seq[0])
        xb.set_threads(2)
        res = [None, None]

        def work(i):
            res[i] = xb.mvm(0, self.x)
        ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        # each call draws its own read noise: the two threads got calls 2 and 3, in some order
        self.assertEqual(sorted(r.tobytes() for r in res), sorted(seq[1:]))
        self.assertNotEqual(seq[1], seq[2])

    def test_drift(self):
        m = aimc.Machine(set={"device.type": "pcm"})
        xb = aimc.Crossbar(m, seed=1)
        xb.program(0, self.w)
        y0 = xb.mvm(0, self.x)
        xb.set_read_time(3600 * 24 * 365)
        y1 = xb.mvm(0, self.x)
        self.assertLess(np.abs(y1).mean(), np.abs(y0).mean())   # conductances drift down
        xb.set_drift_compensation(True)
        y2 = xb.mvm(0, self.x)
        self.assertGreater(np.abs(y2).mean(), np.abs(y1).mean())

    def test_errors(self):
        xb = aimc.Crossbar(self.m)
        self.assertAimcError(aimc.ERR_STATE, xb.mvm, 0, self.x, contains="not programmed")
        xb.program(0, self.w)
        with self.assertRaises(ValueError):
            xb.mvm(0, rand((4, 199), 1))
        with self.assertRaises(TypeError):
            xb.mvm(0, self.x, out=np.empty((16, 150), np.float64))
        with self.assertRaises(ValueError):
            xb.mvm(0, self.x, out=np.empty((15, 150), np.float32))
        self.assertAimcError(aimc.ERR_INVALID, xb.set_read_time, -1.0)
        self.assertAimcError(aimc.ERR_INVALID, xb.set_threads, 0)
        t = aimc.tiles(self.m, 200, 150)
        t[0, 2] = 0                                             # nrows 0
        with self.assertRaises(aimc.Error) as cm:
            xb.program(1, self.w, t)
        self.assertIn(cm.exception.status, (aimc.ERR_RANGE, aimc.ERR_INVALID))
        self.assertNotEqual(cm.exception.message, "")
        with self.assertRaises(ValueError):
            xb.program(1, self.w, np.zeros((3, 7), np.uint32))
        self.assertAimcError(aimc.ERR_RANGE, xb.cell, 10 ** 6, 0, 0)

    @unittest.skipUnless(CREF, "AIMC_CREF not set")
    def test_mvm_equals_c_api_bytes(self):
        for mode in ("xbar", "drv"):
            with tempfile.TemporaryDirectory() as d:
                w, x = rand((256, 256), 11), rand((64, 256), 12)
                t = aimc.tiles(aimc.Machine(), 256, 256)
                for name, a in (("w", w), ("x", x), ("t", t)):
                    a.tofile(os.path.join(d, name + ".bin"))
                subprocess.run([CREF, mode, "5", "256", "256", "64", *[os.path.join(d, n + ".bin")
                                for n in "wxt"], str(t.shape[0]), os.path.join(d, "y.bin")],
                               check=True)
                with open(os.path.join(d, "y.bin"), "rb") as f:
                    cbytes = f.read()
                if mode == "xbar":
                    xb = aimc.Crossbar(aimc.Machine(), seed=5)
                    xb.program(0, w, t)
                    y = xb.mvm(0, x)
                else:
                    dev = aimc.Device("sim:", machine=aimc.Machine(), seed=5)
                    dev.program(0, w, t)
                    y = dev.mvm(0, x)
                self.assertEqual(len(cbytes), 64 * 256 * 4)
                self.assertEqual(y.tobytes(), cbytes, mode)


class TestDevice(ErrorCase):
    def setUp(self):
        self.dev = aimc.Device("sim:", machine=aimc.Machine(), seed=1)
        self.w = rand((64, 32), 1)

    def test_info_program_readback_mvm(self):
        info = self.dev.info()
        self.assertEqual(info["xbar_rows"], 128)
        self.assertFalse(info["timing_only"])
        rep = self.dev.program(0, self.w)
        self.assertGreater(rep["devices"], 0)
        rb = self.dev.readback(0, 64, 32)
        self.assertGreater(np.corrcoef(rb.ravel(), self.w.ravel())[0, 1], 0.95)
        x = rand((4, 64), 2)
        y = self.dev.mvm(0, x)
        self.assertGreater(np.corrcoef(y.ravel(), (x @ self.w).ravel())[0, 1], 0.95)
        y1 = np.empty((4, 32), np.float32)
        f = self.dev.submit_mvm(0, x, y1)
        self.assertIsInstance(f, int)
        self.dev.wait(f, timeout=5.0)
        self.assertTrue(np.isfinite(y1).all())

    def test_buffers_fences_digital(self):
        b_in = self.dev.buffer((4, 16))
        b_out = self.dev.buffer((4, 16), host_read=True)
        self.assertEqual(b_in.size, 4 * 16 * 4)
        self.assertNotEqual(b_in.addr, 0)
        a = b_in.array
        a[:] = rand((4, 16), 3)
        self.assertTrue(np.shares_memory(a, b_in.array) or
                        b_in.array.__array_interface__["data"][0] == a.__array_interface__["data"][0])
        b_in.sync("to_device")
        f1 = self.dev.submit_rmsnorm(4, 16, b_in, b_out.addr)
        f2 = self.dev.submit_fence()
        self.assertEqual(self.dev.wait_any([f2, f1], timeout=5.0) in (0, 1), True)
        self.dev.wait(f1)
        self.dev.wait(f2)
        b_out.sync("from_device")
        x = a.astype(np.float64)
        ref = x / np.sqrt((x * x).mean(axis=1, keepdims=True) + 1e-6)
        np.testing.assert_allclose(b_out.array, ref, rtol=1e-5)
        self.assertTrue(self.dev.poll(self.dev.submit_fence()) in (True, False))
        idx = self.dev.buffer(4, dtype=np.uint32)
        self.assertEqual(idx.array.dtype, np.uint32)
        g, u, o = (self.dev.buffer(8) for _ in range(3))
        g.array[:] = 1.0
        u.array[:] = 2.0
        self.dev.wait(self.dev.submit_silu_mul(8, g, u, o))
        np.testing.assert_allclose(o.array, 2.0 / (1 + np.exp(-1.0)), rtol=1e-6)

    def test_counters_profile_error_state_reset(self):
        self.dev.program(0, self.w)
        self.dev.mvm(0, rand((2, 64), 4))
        c = self.dev.counters()
        self.assertGreaterEqual(c["mvms"], 2)
        self.assertGreater(c["energy_pj"]["adc"], 0)
        p = self.dev.profile("matrix", 0)
        self.assertGreater(p["commands"], 0)
        self.assertGreater(self.dev.profile("opcode", 3)["vectors"], 0)
        self.assertAimcError(aimc.ERR_INVALID, self.dev.profile, "layer", 0)
        self.dev.counters_reset()
        self.assertEqual(self.dev.counters()["mvms"], 0)
        self.assertEqual(self.dev.error_state()["bits"], 0)
        self.dev.reset()
        self.assertAimcError(aimc.ERR_DEVICE, self.dev.wait,
                             self.dev.submit_mvm(0, rand((1, 64), 5), np.empty(32, np.float32)),
                             contains="not programmed")

    def test_device_errors_carry_status(self):
        # an MVM on a matrix never programmed: the device refuses it, the wait says why
        e = self.assertAimcError(aimc.ERR_DEVICE, self.dev.wait,
                                 self.dev.submit_mvm(7, rand((1, 64), 5), np.empty(32, np.float32)))
        self.assertIn("matrix 7 not programmed", e.message)
        self.assertEqual(self.dev.error_text, e.message)
        # a raw descriptor with an unknown opcode
        desc = bytearray(64)
        desc[0] = 0x7f
        e = self.assertAimcError(aimc.ERR_DEVICE, self.dev.wait, self.dev.submit_raw(bytes(desc)))
        self.assertIn("bad opcode 0x7f", e.message)
        self.assertAimcError(aimc.ERR_INVALID, self.dev.submit_raw, b"short")
        self.assertAimcError(aimc.ERR_INVALID, self.dev.wait, 10 ** 9, contains="never issued")
        self.assertAimcError(aimc.ERR_INVALID, self.dev.wait_any, [])
        self.assertAimcError(aimc.ERR_STATE, self.dev.mvm, 3, rand((1, 64), 1))
        with self.assertRaises(TypeError):
            self.dev.submit_mvm_addr(0, 1, "x", 0)

    def test_open_errors_and_close(self):
        self.assertAimcError(aimc.ERR_NOTFOUND, aimc.Device, "nope:", contains="unknown scheme")
        with aimc.Device("mock:") as d:
            self.assertAimcError(aimc.ERR_UNSUPPORTED, d.profile, "matrix", 0)
            b = d.buffer(16)
        self.assertAimcError(aimc.ERR_BADHANDLE, d.info, contains="closed")
        self.assertEqual(b.size, 64)   # the buffer outlives close(); the device goes with it
        t = aimc.Device("sim:", timing_only=True)
        self.assertTrue(t.info()["timing_only"])
        t.program(0, (64, 32))


if __name__ == "__main__":
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    bad = len(result.failures) + len(result.errors)
    print("python: %d passed, %d failed" % (result.testsRun - bad - len(result.skipped), bad))
    sys.exit(1 if bad else 0)
