"""What the shipped 2D-mixture configs reach: runs `lit-gans fit -c experiments/gan/<ring|grid>.yaml` as a user
would, then scores 2,500 samples of the final checkpoint with the PacGAN protocol (modes captured, % high quality
within 3 std, reverse KL; lit_gans.metrics.modes).

    python experiments/benchmarks/toy_configs.py --config experiments/gan/ring.yaml [--seeds 0 1 2] [--append]

Prints a Markdown table and writes experiments/results/toy_configs_<config stem>.json (or --out). ``--append`` adds
the new seeds' runs to the runs already in that file (each run is ~11 minutes on one CPU core, so seeds can be
measured in separate sittings); the summary is always recomputed from all runs in the file, with each run's command
kept.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

import yaml
from cli_fit import ROOT, fit_config

from lit_gans.data.toy import Toy2DDataModule
from lit_gans.metrics.modes import mode_statistics


def run(config: str, seed: int) -> dict:
    data_args = yaml.safe_load((ROOT / config).read_text())["data"]["init_args"]
    dm = Toy2DDataModule(mixture=data_args["mixture"])
    model, seconds = fit_config(config, "--seed_everything", str(seed))
    # noise seed 0 whatever the training seed: what `lit-gans sample --ckpt last.ckpt --num 2500` draws (runs recorded
    # before 2026-12-02 drew with the training seed; the same for seed 0)
    stats = mode_statistics(model.sample(2500, seed=0), dm.means, dm.std)
    return {"seed": seed, "modes": stats.modes, "hq": stats.high_quality, "reverse_kl": stats.reverse_kl,
            "fit_seconds": seconds, "g_steps": int(model.g_steps)}


def spread(values: list[float]) -> float:
    """Sample standard deviation; 0 for one run, nan when a value is inf (a run that captured no mode has reverse
    KL inf, lit_gans.metrics.modes: the spread is then undefined, and statistics.stdev would raise)."""
    if len(values) < 2:
        return 0.0
    return statistics.stdev(values) if all(math.isfinite(v) for v in values) else math.nan


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="experiments/gan/ring.yaml")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--append", action="store_true", help="keep the runs of other seeds already in the results file")
    p.add_argument("--out", type=Path, help="results file (default experiments/results/toy_configs_<config stem>.json)")
    args = p.parse_args()
    out = args.out or ROOT / "experiments" / "results" / f"toy_configs_{Path(args.config).stem}.json"
    command = (f"python experiments/benchmarks/toy_configs.py --config {args.config} --seeds "
               + " ".join(map(str, args.seeds)) + (" --append" if args.append else ""))
    old = json.loads(out.read_text()) if args.append and out.is_file() else {"runs": []}
    kept = [r | {"command": r.get("command", old.get("command"))} for r in old["runs"] if r["seed"] not in args.seeds]
    runs = sorted(kept + [run(args.config, s) | {"command": command} for s in args.seeds], key=lambda r: r["seed"])
    mean = lambda k: statistics.mean(r[k] for r in runs)  # noqa: E731
    stdev = lambda k: spread([r[k] for r in runs])  # noqa: E731
    result = {"config": args.config, "runs": runs, "seeds": len(runs)}
    for key in ("modes", "hq", "reverse_kl"):
        result[key], result[f"{key}_std"] = mean(key), stdev(key)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("| config | seeds | G steps | modes | high quality (%) | reverse KL | fit time (s) |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {args.config} | {len(runs)} | {runs[0]['g_steps']} | {result['modes']:.1f} ± {result['modes_std']:.1f} | "
          f"{result['hq']:.1f} ± {result['hq_std']:.1f} | {result['reverse_kl']:.2f} ± {result['reverse_kl_std']:.2f} | "
          f"{mean('fit_seconds'):.0f} |")


if __name__ == "__main__":
    main()
