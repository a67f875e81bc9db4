"""``lit-gans report RUN_DIR [RUN_DIR ...]``: compares finished runs from their local log files (W&B offline runs,
TensorBoard event files, or Lightning's CSV ``metrics.csv``), for machines with no dashboard at hand.

Prints, and writes to ``--out`` (default ``report.md``), a Markdown summary of the runs (steps, wall time, images
seen, images/s) and, for each run, a table of every metric's final and best value; draws one PNG per metric with
every run's curve against the training step (``trainer.global_step``: optimizer steps, two per batch for a GAN)
into ``--plots`` (default ``<out>_plots/``).

"Best" is the minimum for losses, FID, KID, KL and NLL, the maximum for IS, precision, recall, density, coverage,
accuracy, modes, high-quality share and BLEU; other metrics (D outputs, gradient norms, standard deviations, health
ratios) have no direction and show no best. Wall time and images/s come from ``time/elapsed_s`` and ``time/images``,
which ``lit-gans fit`` logs (:class:`~lit_gans.callbacks.throughput.Throughput`); a run without them shows the span
of its log's own timestamps (W&B, TensorBoard) and no images/s.
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path
from typing import Optional, Sequence

from lit_gans.errors import UserError
from lit_gans.commands.runlogs import RunLog, RunLogError, read_run

_HIGHER = re.compile(r"(^|[_/])(is|inception_score|precision|recall|density|coverage|acc|accuracy|cas|modes|"
                     r"high_quality|bleu\d*)$")
_LOWER = re.compile(r"(^|[_/])(loss|fid|kid|kl|reverse_kl|nll|nll_oracle)$")
_CLOCK = ("time/elapsed_s", "time/images")


def direction(metric: str) -> Optional[str]:
    """``"min"``, ``"max"`` or ``None`` (no best) for a metric name, by its last path component.

    >>> direction("train/d_loss"), direction("eval/fid"), direction("eval/is"), direction("eval/kid_std")
    ('min', 'min', 'max', None)
    """
    leaf = metric.rsplit("/", 1)[-1]
    return "max" if _HIGHER.search(leaf) else "min" if _LOWER.search(leaf) else None


def best(points: list[tuple[int, float]], metric: str) -> Optional[tuple[int, float]]:
    """(step, value) of the best finite point of a metric, the first one on ties; None without a direction."""
    how = direction(metric)
    finite = [p for p in points if math.isfinite(p[1])]
    if how is None or not finite:
        return None
    sign = -1.0 if how == "max" else 1.0
    return min(finite, key=lambda p: sign * p[1])


def speed(run: RunLog) -> tuple[float, float, float]:
    """(wall seconds, images seen, images/s); NaN where the log does not tell."""
    elapsed, images = (run.scalars[k][-1][1] if run.scalars.get(k) else math.nan for k in _CLOCK)
    wall = elapsed if math.isfinite(elapsed) else run.wall_s
    return wall, images, images / elapsed if elapsed > 0 else math.nan


def _fmt(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.4g}"


def markdown(runs: list[RunLog], names: list[str], plots: dict[str, Path], out_dir: Path) -> str:
    lines = ["# Run comparison", "", "| # | run | logs | tags | last step | wall time (s) | images | images/s |",
             "|---|---|---|---|---|---|---|---|"]
    for i, (run, name) in enumerate(zip(runs, names), 1):
        steps = max((p[-1][0] for p in run.scalars.values() if p), default=0)
        wall, images, rate = speed(run)
        lines.append(f"| {i} | `{name}` | {run.source} | {', '.join(run.tags)} | {steps} | {_fmt(wall)} | "
                     f"{_fmt(images)} | {_fmt(rate)} |")
    lines += ["", "Best = min for losses, FID, KID, KL, NLL; max for IS, precision, recall, density, coverage, "
              "accuracy, modes, high-quality share, BLEU; none for other metrics.", ""]
    for i, (run, name) in enumerate(zip(runs, names), 1):
        lines += [f"## {i}. `{name}`", "", "| metric | final | best | best at step |", "|---|---|---|---|"]
        for metric, points in sorted(run.scalars.items()):
            if metric in _CLOCK or not points:
                continue
            b = best(points, metric)
            lines.append(f"| {metric} | {_fmt(points[-1][1])} | {_fmt(b[1]) if b else '—'} | {b[0] if b else '—'} |")
        lines.append("")
    if plots:
        lines += ["## Plots", ""] + [f"![{m}]({_relative(p, out_dir)})" for m, p in plots.items()] + [""]
    return "\n".join(lines)


def _relative(path: Path, start: Path) -> str:
    try:
        return path.resolve().relative_to(start.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def draw_plots(runs: list[RunLog], names: list[str], folder: Path) -> dict[str, Path]:
    """One PNG per metric (every run that logged it, one line each) against the training step."""
    try:
        import matplotlib
    except ImportError:
        raise UserError("the plots need matplotlib: pip install matplotlib (or pass --no-plots)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    metrics = sorted({m for run in runs for m, pts in run.scalars.items() if pts and m not in _CLOCK})
    files = {}
    for metric in metrics:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for i, (run, name) in enumerate(zip(runs, names), 1):
            if run.scalars.get(metric):
                steps, values = zip(*run.scalars[metric])
                ax.plot(steps, values, marker="." if len(steps) < 30 else None, label=f"{i}. {name}")
        ax.set(title=metric, xlabel="trainer.global_step", ylabel=metric)
        ax.legend(fontsize="small")
        fig.tight_layout()
        files[metric] = folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", metric) + ".png")
        fig.savefig(files[metric], dpi=100)
        plt.close(fig)
    return files


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="lit-gans report", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="folder of one run (searched recursively)")
    parser.add_argument("--out", default="report.md", help="Markdown file to write (default report.md)")
    parser.add_argument("--plots", default=None, help="folder of the PNG plots (default <out>_plots)")
    parser.add_argument("--no-plots", action="store_true", help="write no plots (needs no matplotlib)")
    args = parser.parse_args(list(argv))
    try:
        runs = [read_run(d) for d in args.run_dirs]
    except RunLogError as e:
        raise UserError(str(e)) from None
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot_dir = Path(args.plots) if args.plots else out.with_name(out.stem + "_plots")
    plots = {} if args.no_plots else draw_plots(runs, args.run_dirs, plot_dir)
    text = markdown(runs, list(args.run_dirs), plots, out.parent)
    out.write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"written: {out}" + (f" and {len(plots)} plots in {plot_dir}" if plots else ""))
