"""Start-up time of the ``lit-gans`` command: how long ``lit-gans --help``, ``lit-gans sample --help`` and (for
comparison) ``lit-gans fit --help`` take before they answer, each a fresh process, as a user waits for them.

``--help`` and ``sample --help`` import neither torch nor Lightning (:mod:`lit_gans.cli`); ``fit --help`` needs
Lightning to list the Trainer's options. Each command runs ``--repeats`` times; the median wall time is reported,
with the machine's load average at the start (a shared machine slows every process alike).

    python experiments/benchmarks/startup.py [--repeats 5] [--out PATH]

Prints a Markdown table and writes experiments/results/startup.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "experiments" / "results" / "startup.json"
COMMANDS = {"lit-gans --help": ["--help"], "lit-gans sample --help": ["sample", "--help"],
            "lit-gans fit --help": ["fit", "--help"]}


def seconds(argv: list[str]) -> float:
    """Wall time of one ``lit-gans ARGV`` in a fresh process (the installed console script when there is one)."""
    script = shutil.which("lit-gans")
    cmd = [script, *argv] if script else [sys.executable, "-m", "lit_gans.cli", *argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if out.returncode != 0 or "usage" not in out.stdout.lower():
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    times = {name: [seconds(argv) for _ in range(args.repeats)] for name, argv in COMMANDS.items()}
    medians = {name: statistics.median(t) for name, t in times.items()}
    print("| command | median s | runs (s) |\n|---|---|---|")
    for name, t in times.items():
        print(f"| `{name}` | {medians[name]:.2f} | {', '.join(f'{x:.2f}' for x in t)} |")
    result = {"median_seconds": medians, "seconds": times, "repeats": args.repeats, "load_average_1min": load,
              "cpus": os.cpu_count(), "machine": platform.platform(), "python": platform.python_version(),
              "command": "python experiments/benchmarks/startup.py " + " ".join(sys.argv[1:])}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {args.out} (load average {load:.1f} at the start)")


if __name__ == "__main__":
    main()
