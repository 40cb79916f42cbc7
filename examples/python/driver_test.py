"""driver_test.py - a driver test written in Python, as a team testing its driver would write
one before silicon: unittest cases on the aimc driver API (aimc.Device) against the simulated
device ("sim:"), or any other backend URI given in AIMC_URI (sysc:, rtl:).

    PYTHONPATH=python /usr/bin/python3 examples/python/driver_test.py
"""
import os
import unittest

import numpy as np

import aimc

URI = os.environ.get("AIMC_URI", "sim:")


class DriverTest(unittest.TestCase):
    def setUp(self):
        self.dev = aimc.Device(URI, machine=aimc.Machine(), seed=7)
        rng = np.random.default_rng(0)
        self.w = rng.standard_normal((96, 40)).astype(np.float32)
        self.x = rng.standard_normal((8, 96)).astype(np.float32)

    def tearDown(self):
        self.dev.close()

    def test_capabilities(self):
        info = self.dev.info()
        self.assertGreaterEqual(info["max_batch"], 8)
        self.assertGreater(info["max_matrices"], 1)

    def test_mvm_close_to_float(self):
        self.dev.program(0, self.w)
        y = self.dev.mvm(0, self.x, timeout=10)
        ref = self.x @ self.w
        err = np.linalg.norm(y - ref) / np.linalg.norm(ref)
        self.assertLess(err, 0.2)

    def test_verify_shortfall_is_reported_and_matrix_usable(self):
        with self.assertRaises(aimc.Error) as cm:
            self.dev.program(0, self.w, verify=1, tolerance=0.0)
        self.assertEqual(cm.exception.status, aimc.ERR_DEVICE)
        self.assertIn("outside the tolerance", cm.exception.message)
        self.assertEqual(self.dev.readback(0, 96, 40).shape, (96, 40))  # programmed anyway

    def test_jobs_overlap_and_complete(self):
        self.dev.program(0, self.w)
        self.dev.program(1, self.w[:, :20].copy())
        y0, y1 = np.empty((8, 40), np.float32), np.empty((8, 20), np.float32)
        fences = [self.dev.submit_mvm(0, self.x, y0), self.dev.submit_mvm(1, self.x, y1)]
        done = set()
        while len(done) < 2:
            left = [f for f in fences if f not in done]
            done.add(left[self.dev.wait_any(left, timeout=10)])
        self.assertGreater(np.corrcoef(y1.ravel(), y0[:, :20].ravel())[0, 1], 0.9)

    def test_topk_on_device_buffers(self):
        logits = self.dev.buffer((4, 16))
        idx = self.dev.buffer((4, 2), dtype=np.uint32, host_read=True)
        p = self.dev.buffer((4, 2), host_read=True)
        logits.array[:] = np.arange(64, dtype=np.float32).reshape(4, 16) % 7
        logits.sync("to_device")
        self.dev.wait(self.dev.submit_topk(4, 16, 2, logits, idx, p), timeout=10)
        idx.sync("from_device")
        p.sync("from_device")
        ref = np.argsort(-logits.array, axis=1, kind="stable")[:, :2]
        np.testing.assert_array_equal(idx.array, ref)
        np.testing.assert_allclose(p.array.sum(axis=1), 1.0, rtol=1e-6)

    def test_unprogrammed_matrix_is_a_device_error(self):
        with self.assertRaises(aimc.Error) as cm:
            self.dev.wait(self.dev.submit_mvm(5, self.x, np.empty((8, 40), np.float32)), timeout=10)
        self.assertEqual(cm.exception.status, aimc.ERR_DEVICE)
        self.assertIn("not programmed", cm.exception.message)
        self.dev.program(5, self.w)                  # the device stays usable
        self.assertEqual(self.dev.mvm(5, self.x).shape, (8, 40))

    def test_reset_forgets_matrices(self):
        self.dev.program(0, self.w)
        self.dev.reset()
        with self.assertRaises(aimc.Error) as cm:
            self.dev.mvm(0, self.x, timeout=10)
        self.assertEqual(cm.exception.status, aimc.ERR_DEVICE)


if __name__ == "__main__":
    unittest.main()
