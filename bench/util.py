"""Helpers shared by the benchmark driver (bench/bench.py) and its parts (bench/cnn.py): running
a process and timing it, the JSON line a peer prints, medians, ratios and number formatting."""
import json
import statistics
import subprocess
import sys
import time

PY = "/usr/bin/python3"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, env=None, check=True):
    """Runs cmd; returns (wall seconds, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr[-2000:]}")
    return wall, p.stdout


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


def median(xs):
    return statistics.median(xs) if xs else None


def ratio(peer, mine):
    return peer / mine if peer and mine else None


def fmt(x, d=3):
    return "-" if x is None else f"{x:.{d}f}"
