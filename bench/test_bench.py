"""Checks of the benchmark's own arithmetic and plumbing (ctest -R bench): the cnn part's
benchmark variant of the example, its convolution FLOP count, the dropout it passes the peers,
the lines of bench/peak.c it parses (from a real run of peak.c) and how it sorts 2-thread
samples by the vCPUs' placement, the scale part's model of the
step time on N machines, and, where numpy is installed,
the numpy CNN peer's gradients against central differences.
    python3 bench/test_bench.py     (CC: the C compiler for peak.c, default cc)"""
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "peers"))
import bench  # noqa: E402
import cnn  # noqa: E402
import scale  # noqa: E402

CC = os.environ.get("CC", "cc")
EXAMPLE = """model m {
  input  x[1, 28, 28]
  h      = dropout(dense(flatten(x), 128, relu), p = 0.25)
}

train m {
  data      = idx("a.gz",
                  "b.gz", scale = 1/255)
  validate  = idx("c.gz",
                  "d.gz", scale = 1/255)
  validation_split = 0.1
  schedule  = step(factor = 0.5, every = 3)
  optimizer = adam(lr = 0.001)
  epochs    = 10
  batch     = 128
  checkpoint_every = 2
}
"""


class CnnPart(unittest.TestCase):
    def test_variant_keeps_the_data_and_drops_validation_schedule_and_checkpoints(self):
        v = cnn.bench_variant(EXAMPLE, 256)
        self.assertIn('data      = idx("a.gz",\n                  "b.gz", scale = 1/255)\n', v)
        self.assertIn("optimizer = adam(lr = 0.001)\n  epochs    = 10\n  batch     = 256\n}", v)
        for gone in ("validate", "validation_split", "c.gz", "d.gz", "schedule",
                     "checkpoint_every"):
            self.assertNotIn(gone, v)

    def test_variant_needs_one_batch_setting(self):
        with self.assertRaises(RuntimeError):
            cnn.bench_variant(EXAMPLE.replace("  batch     = 128\n", ""), 64)

    def test_conv_flops_per_image(self):
        conv1 = 2 * 28 * 28 * 32 * 1 * 9  # 2·OH·OW·F·C·k²
        conv2 = 2 * 14 * 14 * 64 * 32 * 9
        self.assertEqual(cnn.conv_flops(), (2 * conv1 + 3 * conv2, conv1 + conv2))

    def test_dropout_rate(self):
        self.assertEqual(cnn.dropout_rate(EXAMPLE), 0.25)
        self.assertEqual(cnn.dropout_rate("d = dropout(h, 0.5)"), 0.5)
        self.assertEqual(cnn.dropout_rate("h = dense(x, 10)"), 0.0)

    def test_peak_lines_parse(self):
        with tempfile.TemporaryDirectory() as d:
            exe = os.path.join(d, "peak")
            subprocess.run([CC, "-O2", "-pthread", os.path.join(HERE, "peak.c"), "-o", exe],
                           check=True)
            out = subprocess.run([exe, "0.01"], check=True, stdout=subprocess.PIPE,
                                 text=True).stdout
        peak = cnn.parse_peak(out)
        self.assertIn(("avx2", 1), peak, out)
        self.assertIn(("avx2", 2), peak, out)
        self.assertTrue(all(g > 0 for g in peak.values()), out)


class Placement(unittest.TestCase):
    """Where the host put the two vCPUs: bench/peak.c --round-trip and how samples are sorted."""

    def test_round_trip_line_parses(self):
        with tempfile.TemporaryDirectory() as d:
            exe = os.path.join(d, "peak")
            subprocess.run([CC, "-O2", "-pthread", os.path.join(HERE, "peak.c"), "-o", exe],
                           check=True)
            two = subprocess.run([exe, "--round-trip"], stdout=subprocess.PIPE, text=True)
            one = subprocess.run(["taskset", "-c", "0", exe, "--round-trip"],
                                 stdout=subprocess.PIPE, text=True)
        if len(os.sched_getaffinity(0)) >= 2:
            ns = bench.parse_round_trip(two.stdout)
            self.assertEqual(two.returncode, 0, two.stdout)
            self.assertTrue(ns is not None and 1 <= ns < 100000, two.stdout)
        self.assertEqual(one.returncode, 1, one.stdout)
        self.assertIsNone(bench.parse_round_trip(one.stdout), one.stdout)

    def test_samples_are_sorted_by_both_round_trips(self):
        self.assertEqual(bench.placement(62, 75), "near")
        self.assertEqual(bench.placement(340, 361), "apart")
        self.assertEqual(bench.placement(60, 345), "moved")
        self.assertEqual(bench.placement(350, 58), "moved")
        self.assertIsNone(bench.placement(None, 60))


class ScaleModel(unittest.TestCase):
    def test_ring_allreduce_cost(self):
        # 4 machines, 1 MB at 1 GB/s: 2·3/4 MB moved = 1.5 ms, plus 6 latencies of 10 us
        self.assertAlmostEqual(scale.allreduce_seconds(4, 1e6, 1e9, 10e-6), 1.5e-3 + 60e-6)
        self.assertEqual(scale.allreduce_seconds(1, 1e6, 1e9), 0.0)

    def test_linear_fit_recovers_a_line(self):
        t0, t_row = scale.fit_linear([(b, 2e-5 + b * 3e-6) for b in (16, 64, 256, 1024)])
        self.assertAlmostEqual(t0, 2e-5)
        self.assertAlmostEqual(t_row, 3e-6)

    def test_step_model_and_where_it_pays(self):
        fit = (0.0, 1e-6)  # 1 us a row, no fixed cost
        sec, hidden, speedup, hidden_speedup = scale.step_model(fit, 1000, 2, 1e6, 1e9)
        self.assertAlmostEqual(sec, 500e-6 + 1e-3 + 2 * scale.LATENCY_S)
        self.assertAlmostEqual(hidden, 1e-3 + 2 * scale.LATENCY_S)
        self.assertAlmostEqual(speedup, 1e-3 / sec)
        self.assertAlmostEqual(hidden_speedup, 1e-3 / hidden)
        # two machines pay once the half batch they save (B/2 us) exceeds the allreduce (1.02 ms)
        self.assertEqual(scale.pays_from(fit, 2, 1e6, 1e9), 2048)


class NumpyCnn(unittest.TestCase):
    def test_gradients_match_central_differences(self):
        try:
            import numpy as np
            import numpy_cnn
        except ImportError:
            self.skipTest("numpy is not installed")
        rng = np.random.default_rng(0)
        p = [q.astype(np.float64) for q in numpy_cnn.init(rng)]
        for k in (1, 3, 5, 7):  # biases off zero: no ReLU input or pooling tie sits at a kink
            p[k] += rng.normal(0, 0.05, p[k].shape)
        x = rng.random((3, 784))
        y = np.array([1, 4, 9])
        _, g = numpy_cnn.grads(p, x, y, rng, 0.0)
        for k in range(len(p)):
            for _ in range(3):
                i = tuple(rng.integers(0, s) for s in p[k].shape)
                old = p[k][i]
                p[k][i] = old + 1e-6
                up = numpy_cnn.grads(p, x, y, rng, 0.0)[0]
                p[k][i] = old - 1e-6
                down = numpy_cnn.grads(p, x, y, rng, 0.0)[0]
                p[k][i] = old
                num = (up - down) / 2e-6
                self.assertLess(abs(num - g[k][i]), 1e-4 * max(1e-3, abs(num)), (k, i))


if __name__ == "__main__":
    unittest.main()
