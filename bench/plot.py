#!/usr/bin/python3
"""Draws the train part of a benchmark result (bench.py --out) as an SVG bar chart.

    python3 bench/plot.py bench-results.json [out.svg]   # default: bench-epochs.svg beside it

One group per configuration (SGD/Adam, batch, threads), one horizontal bar per system present
(nnc, PyTorch, numpy): the median epoch seconds over the rounds, with a min-max whisker when
there are several rounds, and the ratio PyTorch / nnc (above 1: nnc is faster) beside each group.
Standard library only; bench.py calls write_svg itself unless given --svg ''.
"""
import argparse
import json
import math
import os
import re
import statistics
import sys
from xml.sax.saxutils import escape, quoteattr

SYSTEMS = [("nnc", "nnc", "#0072B2"), ("torch", "PyTorch", "#E69F00"),
           ("numpy", "numpy", "#009E73")]  # Okabe-Ito colours, safe for colour blindness
OTHER_COLOURS = ["#CC79A7", "#D55E00", "#56B4E9", "#999999"]
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"


def config_label(cfg):
    """'sgd b64 t1' -> 'SGD b64 1 thread'."""
    m = re.fullmatch(r"(\w+) b(\d+) t(\d+)", cfg)
    if not m:
        return cfg
    opt = {"sgd": "SGD", "adam": "Adam"}.get(m.group(1), m.group(1))
    t = int(m.group(3))
    return f"{opt} b{m.group(2)} {t} thread{'s' if t != 1 else ''}"


def text_width(s, size):
    return len(s) * size * 0.6  # a generous average for sans-serif faces


def nice_step(span, ticks=6):
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag * 1.0000001:
            return m * mag
    return 10 * mag


def decimals(step):
    d = 0
    while d < 6 and abs(step * 10 ** d - round(step * 10 ** d)) > 1e-6:
        d += 1
    return d


def train_table(results):
    """Returns (configs, systems, {(system, config): [seconds...]}) for the train samples, the
    configurations and systems in the order they first appear (nnc, torch, numpy first)."""
    vals, configs, seen = {}, [], []
    for s in results.get("samples", []):
        if s.get("part") != "train" or s.get("value") is None:
            continue
        vals.setdefault((s["system"], s["config"]), []).append(float(s["value"]))
        if s["config"] not in configs:
            configs.append(s["config"])
        if s["system"] not in seen:
            seen.append(s["system"])
    known = [k for k, _, _ in SYSTEMS]
    systems = [k for k in known if k in seen] + [k for k in seen if k not in known]
    return configs, systems, vals


def write_svg(results, path):
    """Writes the chart of results (the dict bench.py writes with --out) to path."""
    configs, systems, vals = train_table(results)
    if not configs:
        raise ValueError("no train samples to plot")
    names = {k: n for k, n, _ in SYSTEMS}
    colours = {k: c for k, _, c in SYSTEMS}
    for i, k in enumerate(s for s in systems if s not in colours):
        colours[k] = OTHER_COLOURS[i % len(OTHER_COLOURS)]
        names[k] = k
    rounds = results.get("rounds") or max(len(v) for v in vals.values())
    whiskers = any(len(v) > 1 for v in vals.values())
    ratio = "torch" in systems and "nnc" in systems
    title = (f"Fashion-MNIST MLP 784-128-64-10, one epoch, median of {rounds} round"
             f"{'s' if rounds != 1 else ''} (lower is better)")
    m = results.get("machine", {})
    sub = ", ".join(str(x) for x in (m.get("cpu"), m.get("cores") and f"{m['cores']} cores",
                                     m.get("nnc")) if x)

    # Geometry, in pixels.
    labels = [config_label(c) for c in configs]
    left = 16 + max(text_width(s, 13) for s in labels) + 12
    ratio_w = 110 if ratio else 16
    plot_w = 520
    width = left + plot_w + ratio_w
    width = max(width, text_width(title, 15) + 32)
    plot_w = width - left - ratio_w
    bar_h, bar_gap, group_gap = 15, 3, 16
    nbar = len(systems)
    group_h = nbar * bar_h + (nbar - 1) * bar_gap
    top = 48 + (18 if sub else 0)
    legend_y = top
    plot_top = legend_y + 26
    plot_bot = plot_top + len(configs) * (group_h + group_gap)
    height = plot_bot + 50 + (18 if ratio else 0) + 10

    hi = max(max(v) if whiskers else statistics.median(v) for v in vals.values())
    if hi <= 0:
        hi = 1.0
    step = nice_step(hi)
    xmax = math.ceil(hi / step * 0.9999999) * step
    if xmax < hi * 1.03:  # room for the whisker's cap
        xmax += step
    dec = decimals(step)

    def x(v):
        return left + v / xmax * plot_w

    out = []
    add = out.append
    add('<?xml version="1.0" encoding="UTF-8"?>')
    add(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family={quoteattr(FONT)} '
        f'font-size="13" fill="#222">')
    add(f"<title>{escape(title)}</title>")
    add('<rect width="100%" height="100%" fill="#fff"/>')
    add(f'<text x="{width / 2:.1f}" y="26" text-anchor="middle" font-size="15" '
        f'font-weight="bold">{escape(title)}</text>')
    if sub:
        add(f'<text x="{width / 2:.1f}" y="46" text-anchor="middle" font-size="11" '
            f'fill="#555">{escape(sub)}</text>')

    # Legend: one swatch per system, then the whisker.
    lx = left
    for k in systems:
        add(f'<rect x="{lx:.1f}" y="{legend_y:.1f}" width="12" height="12" '
            f'fill="{colours[k]}"/>')
        add(f'<text x="{lx + 17:.1f}" y="{legend_y + 11:.1f}">{escape(names[k])}</text>')
        lx += 17 + text_width(names[k], 13) + 18
    if whiskers:
        cy = legend_y + 6
        add(f'<path d="M{lx:.1f} {cy - 5:.1f}v10M{lx:.1f} {cy:.1f}h22M{lx + 22:.1f} '
            f'{cy - 5:.1f}v10" stroke="#222" stroke-width="1.2" fill="none"/>')
        add(f'<text x="{lx + 28:.1f}" y="{legend_y + 11:.1f}">min–max over the rounds</text>')

    # Grid and axis.
    n = int(round(xmax / step))
    for i in range(n + 1):
        v = i * step
        gx = x(v)
        add(f'<line x1="{gx:.1f}" y1="{plot_top:.1f}" x2="{gx:.1f}" y2="{plot_bot:.1f}" '
            f'stroke="{"#888" if i == 0 else "#e3e3e3"}" stroke-width="1"/>')
        add(f'<line x1="{gx:.1f}" y1="{plot_bot:.1f}" x2="{gx:.1f}" y2="{plot_bot + 5:.1f}" '
            f'stroke="#888"/>')
        add(f'<text x="{gx:.1f}" y="{plot_bot + 18:.1f}" text-anchor="middle" '
            f'font-size="11">{v:.{dec}f}</text>')
    add(f'<line x1="{left:.1f}" y1="{plot_bot:.1f}" x2="{left + plot_w:.1f}" '
        f'y2="{plot_bot:.1f}" stroke="#888"/>')
    add(f'<text x="{left + plot_w / 2:.1f}" y="{plot_bot + 36:.1f}" text-anchor="middle" '
        f'font-size="12">seconds per epoch (bar: median{"; whisker: min–max" if whiskers else ""}'
        f')</text>')
    if ratio:
        add(f'<text x="{left + plot_w + 12:.1f}" y="{plot_top - 6:.1f}" font-size="11" '
            f'fill="#555">PyTorch / nnc</text>')
        add(f'<text x="16" y="{plot_bot + 56:.1f}" font-size="11" fill="#555">PyTorch / nnc: '
            f'ratio of the medians; above 1 means nnc is faster.</text>')

    # The groups.
    for gi, (cfg, label) in enumerate(zip(configs, labels)):
        gy = plot_top + group_gap / 2 + gi * (group_h + group_gap)
        add(f'<text x="{left - 10:.1f}" y="{gy + group_h / 2 + 4.5:.1f}" '
            f'text-anchor="end">{escape(label)}</text>')
        for bi, k in enumerate(systems):
            v = vals.get((k, cfg))
            if not v:
                continue
            by = gy + bi * (bar_h + bar_gap)
            med = statistics.median(v)
            tip = f"{names[k]}, {label}: median {med:.3f} s"
            if len(v) > 1:
                tip += f" ({min(v):.3f}–{max(v):.3f}, {len(v)} rounds)"
            add(f'<rect x="{left:.1f}" y="{by:.1f}" width="{x(med) - left:.1f}" '
                f'height="{bar_h}" fill="{colours[k]}"><title>{escape(tip)}</title></rect>')
            if whiskers and len(v) > 1:
                cy = by + bar_h / 2
                x0, x1 = x(min(v)), x(max(v))
                add(f'<path d="M{x0:.1f} {cy - 4:.1f}v8M{x0:.1f} {cy:.1f}H{x1:.1f}M{x1:.1f} '
                    f'{cy - 4:.1f}v8" stroke="#222" stroke-width="1.2" fill="none"/>')
        if ratio:
            n_ = vals.get(("nnc", cfg))
            t_ = vals.get(("torch", cfg))
            if n_ and t_ and statistics.median(n_) > 0:
                r = statistics.median(t_) / statistics.median(n_)
                add(f'<text x="{left + plot_w + 12:.1f}" y="{gy + group_h / 2 + 4.5:.1f}" '
                    f'font-weight="bold">{r:.2f}x</text>')
    add("</svg>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="the JSON file bench.py wrote with --out")
    ap.add_argument("svg", nargs="?",
                    help="the SVG to write (default: bench-epochs.svg beside the JSON file)")
    a = ap.parse_args()
    svg = a.svg or os.path.join(os.path.dirname(a.results), "bench-epochs.svg")
    with open(a.results) as f:
        results = json.load(f)
    try:
        write_svg(results, svg)
    except ValueError as e:
        sys.exit(f"{a.results}: {e}")
    print(f"wrote {svg}")


if __name__ == "__main__":
    main()
