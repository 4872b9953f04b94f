"""The benchmark's scale part (bench/bench.py --parts scale): data-parallel training over MPI,
measured on this machine and modelled past it.

  ranks    one epoch of the train part's SGD MLP at global batch 256 under
           `mpirun -np P ./m train --threads 1` for P = 1, 2, 4 (loopback, --oversubscribe: with 2
           cores, P = 4 shares them), against the same program without MPI; the epoch's seconds
           and the share of them spent waiting for the gradients' reduction (--log-json's
           "comm_seconds", the time the ranks wait in the reduction).
  compute  the time of one training step at batch b (b = 16 ... 1024) of the MLP and of the CNN
           example on one thread: the compute side of the model.
  model    the step time of global batch B on N machines with a ring allreduce of the gradients,
           2(N-1)/N x bytes / bandwidth + 2(N-1) x latency, for 10 and 100 Gb/s links
           (docs/scale-out.md): speedup = t(B) / (t(B/N) + allreduce), without overlap, and the
           bound with the allreduce fully hidden behind the backward pass, t(B) / max(t(B/N),
           allreduce). The latency per message is an assumption (LATENCY_S), not a measurement.
"""
import os
import re
import shutil
import subprocess

from util import fmt, last_json, log, median, run

MLP_PARAMS = 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10  # 109,386
LINKS = (("10 Gb/s", 10e9 / 8), ("100 Gb/s", 100e9 / 8))
LATENCY_S = 10e-6  # one message's latency on a datacentre Ethernet link (assumed)
RANKS = (1, 2, 4)
BATCHES = (16, 64, 256, 1024)
MACHINES = (2, 4, 8, 16, 64)


def allreduce_seconds(n, nbytes, bandwidth, latency=LATENCY_S):
    """A ring allreduce of nbytes among n machines: a reduce-scatter and an allgather, each
    n - 1 steps of nbytes / n."""
    if n == 1:
        return 0.0
    return 2 * (n - 1) / n * nbytes / bandwidth + 2 * (n - 1) * latency


def fit_linear(points):
    """Least squares t(b) = t0 + b * t_row through [(b, seconds)]: (t0, t_row)."""
    n = len(points)
    sb = sum(b for b, _ in points)
    st = sum(t for _, t in points)
    sbb = sum(b * b for b, _ in points)
    sbt = sum(b * t for b, t in points)
    den = n * sbb - sb * sb
    t_row = (n * sbt - sb * st) / den if den else 0.0
    return max((st - t_row * sb) / n, 0.0), t_row


def step_model(fit, batch, machines, nbytes, bandwidth):
    """(seconds without overlap, seconds with the allreduce hidden, speedup, hidden speedup)."""
    t0, t_row = fit
    t1 = t0 + t_row * batch
    tn = t0 + t_row * batch / machines
    c = allreduce_seconds(machines, nbytes, bandwidth)
    return tn + c, max(tn, c), t1 / (tn + c), t1 / max(tn, c)


def pays_from(fit, machines, nbytes, bandwidth, batches=tuple(2 ** k for k in range(4, 17))):
    """The smallest global batch (a power of two) at which `machines` machines train faster
    than one without overlap, or None up to 65,536."""
    for b in batches:
        if b >= machines and step_model(fit, b, machines, nbytes, bandwidth)[2] > 1.0:
            return b
    return None


def idx_subset(src_images, src_labels, rows, dst_dir):
    """The first `rows` images and labels of a gzipped IDX pair, as a new gzipped pair."""
    import gzip
    import struct
    paths = []
    for src, item in ((src_images, 28 * 28), (src_labels, 1)):
        with gzip.open(src, "rb") as f:
            magic, n = struct.unpack(">II", f.read(8))
            dims = f.read(8 if item > 1 else 0)
            body = f.read(rows * item)
        dst = os.path.join(dst_dir, os.path.basename(src).replace(".gz", f".{rows}.gz"))
        with gzip.open(dst, "wb") as f:
            f.write(struct.pack(">II", magic, rows) + dims + body)
        paths.append(dst)
    return paths


class ScalePart:
    def __init__(self, b, here, root):
        self.b, self.here, self.root = b, here, root
        self.ready = False
        self.mpirun = None
        self.why_no_mpi = None
        self.exe = {}
        self.cnn_params = None

    # ---- setup -------------------------------------------------------------------------------
    def setup(self):
        self.ready = True
        tmp = self.b.tmp
        with open(os.path.join(self.here, "models", "fm_sgd_b256.nn")) as f:
            mlp = f.read()
        self.exe["mlp"] = self.compile("scale_mlp", re.sub(r"batch\s*=\s*\d+", "batch = 1024",
                                                           mlp))
        cnn_src = os.path.join(self.root, self.b.a.cnn_example)
        if os.path.exists(cnn_src):
            from cnn import bench_variant
            with open(cnn_src) as f:
                src = bench_variant(f.read(), 1024)
            data = "/usr/share/datasets/fashion-mnist/"
            imgs, labels = idx_subset(data + "train-images-idx3-ubyte.gz",
                                      data + "train-labels-idx1-ubyte.gz", 4096, tmp)
            self.cnn_data = imgs, labels
            self.exe["cnn"] = self.compile("scale_cnn", src)
            _, info = run([self.exe["cnn"], "info"])
            m = re.search(r"^\s*parameters\s+([\d,]+) floats", info, re.M)
            self.cnn_params = int(m.group(1).replace(",", "")) if m else None
        self.find_mpi(mlp)

    def compile(self, name, src):
        path = os.path.join(self.b.tmp, name + ".nn")
        with open(path, "w") as f:
            f.write(src)
        exe = os.path.join(self.b.tmp, name)
        run([self.b.nnc, path, "-o", exe])
        return exe

    def find_mpi(self, mlp_src):
        mpirun = shutil.which("mpirun")
        if not mpirun:
            self.why_no_mpi = "mpirun not found (apt-get install openmpi-bin libopenmpi-dev)"
            return
        path = os.path.join(self.b.tmp, "scale_mpi.nn")
        with open(path, "w") as f:
            f.write(mlp_src)
        exe = os.path.join(self.b.tmp, "scale_mpi")
        p = subprocess.run([self.b.nnc, path, "-o", exe, "--mpi"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            self.why_no_mpi = "nnc --mpi failed: " + p.stdout.strip().splitlines()[-1]
            return
        self.exe["mpi"] = exe
        self.mpirun = [mpirun, "--oversubscribe", "--allow-run-as-root", "--bind-to", "none"]

    # ---- one round ---------------------------------------------------------------------------
    def round(self, r):
        if not self.ready:
            self.setup()
        for b in BATCHES:
            self.b.add("scale", "nnc", f"mlp step b{b}", self.step_seconds("mlp", b))
        if "cnn" in self.exe:
            for b in (16, 64, 256):
                self.b.add("scale", "nnc", f"cnn step b{b}", self.step_seconds("cnn", b))
        if self.mpirun:
            order = RANKS if r % 2 == 0 else tuple(reversed(RANKS))
            for p in order:
                sec, comm = self.ranks_epoch(p)
                self.b.add("scale", "nnc", f"mpi np{p}", sec, comm=comm)
        log(f"  scale: round {r + 1} done")

    def epoch_json(self, cmd):
        js = os.path.join(self.b.tmp, "scale.json")
        run(cmd + ["--log-json", js, "--save", os.path.join(self.b.tmp, "scale.safetensors")],
            env=self.b.env)
        with open(js) as f:
            return last_json(f.read())

    def step_seconds(self, model, batch):
        cmd = [self.exe[model], "train", "--epochs", "1", "--batch", str(batch), "--threads", "1"]
        rows = 60000
        if model == "cnn":
            cmd += ["--data", self.cnn_data[0], self.cnn_data[1]]
            rows = 4096
        e = self.epoch_json(cmd)
        return e["seconds"] / -(-rows // batch)

    def ranks_epoch(self, p):
        e = self.epoch_json(self.mpirun + ["-np", str(p), self.exe["mpi"], "train", "--threads",
                                           "1"])
        return e["seconds"], e.get("comm_seconds")

    # ---- report ------------------------------------------------------------------------------
    def fit(self, model, batches):
        pts = [(b, median(self.b.values("scale", "nnc", f"{model} step b{b}"))) for b in batches]
        return fit_linear([(b, t) for b, t in pts if t]), pts

    def report(self, out):
        out("\n-- scale: data-parallel training over MPI (bench/scale.py) --")
        if self.mpirun:
            out("  MLP SGD, global batch 256, 1 epoch, mpirun -np P on loopback, 1 thread a rank:")
            base = median(self.b.values("scale", "nnc", "mpi np1"))
            for p in RANKS:
                v = self.b.values("scale", "nnc", f"mpi np{p}")
                comm = [s.get("comm") for s in self.b.samples
                        if s["part"] == "scale" and s["config"] == f"mpi np{p}"]
                comm = [c for c in comm if c is not None]
                share = (f", waiting for the reduction {median(comm) / median(v):.0%}"
                         if comm else "")
                out(f"    P = {p}: {fmt(median(v))} s ({fmt(base / median(v), 2)}x P = 1)"
                    f"{share}")
        else:
            out(f"  loopback ranks: skipped, {self.why_no_mpi}")
        models = [("MLP 784-128-64-10", MLP_PARAMS, *self.fit("mlp", BATCHES))]
        if "cnn" in self.exe and self.cnn_params:
            models.append(("CNN example", self.cnn_params, *self.fit("cnn", (16, 64, 256))))
        for name, params, fit, pts in models:
            nbytes = 4 * params
            out(f"  {name}: {params:,} parameters, {nbytes / 1e6:.2f} MB of gradients a step; "
                "step seconds at batch b on 1 thread: "
                + ", ".join(f"b{b} {t * 1e3:.3f} ms" for b, t in pts if t))
            out(f"    fit t(b) = {fit[0] * 1e6:.1f} us + b x {fit[1] * 1e6:.2f} us")
            for link, bw in LINKS:
                out(f"    {link}, ring allreduce {allreduce_seconds(2, nbytes, bw) * 1e3:.3f} ms "
                    f"(N = 2) .. {allreduce_seconds(64, nbytes, bw) * 1e3:.3f} ms (N = 64); "
                    "speedup over one machine (no overlap / allreduce hidden):")
                out("      B      " + "".join(f"N={n:<11d}" for n in MACHINES))
                for batch in (64, 256, 1024, 4096, 16384):
                    row = f"      {batch:<6d} "
                    for n in MACHINES:
                        _, _, s, h = step_model(fit, batch, n, nbytes, bw)
                        row += f"{s:5.2f}/{h:<5.2f} "
                    out(row)
                out("      pays (no overlap) from global batch: " + ", ".join(
                    f"N={n}: {pays_from(fit, n, nbytes, bw) or '> 65536'}" for n in MACHINES))
