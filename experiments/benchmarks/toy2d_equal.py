"""Mode collapse on the 2D mixtures at an equal budget: every method on the same seeds, the same number of generator
updates and the same judge, in one table (issue 22).

Configurations (G of 4 x 400 ReLU units with batch norm, D of 3 x 200, z of 2 dimensions, as PacGAN section 5.1):
- ``GAN (PacGAN settings)``, ``PacGAN2``, ``PacGAN4``: the model section of ``experiments/gan/<mixture>_pacgan.yaml``
  (non-saturating loss, Adam 1e-4 with beta1 0.8) with pack 1, 2, 4 and 100 packed examples a batch (batch 100 m);
- ``WGAN-GP``: the same widths (WGANGP's MLP generator has no batch norm), n_critic 5, lambda 10, Adam 1e-4 betas
  (0.5, 0.9), batch 100;
- ``ours``: the model and batch size of the shipped ``experiments/gan/<mixture>.yaml``.

Each run trains with a plain Lightning ``Trainer`` (one thread) for ``--g-updates`` generator updates, saves its
checkpoint and is scored by :func:`toy_judge.judge_checkpoint`: exactly ``lit-gans sample --ckpt last.ckpt --num 2500
--out s.pt`` then the PacGAN protocol. The seed is ``seed_everything``'s (as ``lit-gans fit --seed_everything``); the
data set is the config's (the same 100,000 points for every seed, as the CLI draws them).

    nice -n 10 python experiments/benchmarks/toy2d_equal.py --g-updates 1500 --seeds 5 --workers 1
    python experiments/benchmarks/toy2d_equal.py --g-updates 20000 50000 --workers 8   # longer: a many-core machine

Prints a Markdown table (mean ± standard error over seeds, CPU seconds per run) beside PacGAN's Table 1 at its own
400,000 updates, and writes ``experiments/results/toy2d_equal.json`` (``--out``), rewritten after every run.
Budgets run separately become one table with ``--combine a.json b.json --out experiments/results/toy2d_equal.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import lightning as L
import torch
import yaml
from cli_fit import ROOT, build_model
from toy2d import _finite, _StopAfterGeneratorSteps, summarise
from toy_judge import judge_checkpoint

from lit_gans.data.toy import Toy2DDataModule

RESULTS = ROOT / "experiments" / "results"
CONFIG_NAMES = ["GAN (PacGAN settings)", "PacGAN2", "PacGAN4", "WGAN-GP", "ours"]
#: the paper's discriminator and initialisation (``gan/*_pacgan.yaml`` as shipped); measured after the rows above
PAPER_D = ("d_maxout_pieces", "init_std")
PAPER_D_NAMES = ["GAN (PacGAN, maxout D)", "PacGAN4 (maxout D)"]

#: PacGAN Table 1 (mean ± standard error over 10 trials), after 400 epochs of 1,000 batches: another budget.
PUBLISHED_UPDATES = 400_000
PUBLISHED = [
    ("GAN", "ring", 6.3, 0.5, 98.2, 0.2, 0.45, 0.09), ("PacGAN2", "ring", 7.9, 0.1, 95.6, 2.0, 0.07, 0.03),
    ("PacGAN4", "ring", 7.8, 0.1, 95.9, 1.4, 0.07, 0.02), ("GAN", "grid", 17.3, 0.8, 94.8, 0.7, 0.70, 0.07),
    ("PacGAN2", "grid", 23.8, 0.7, 91.3, 0.8, 0.13, 0.04), ("PacGAN4", "grid", 24.8, 0.2, 93.6, 0.6, 0.04, 0.01),
]


def reference_rows() -> list[dict]:
    keys = ("modes", "modes_se", "hq", "hq_se", "reverse_kl", "reverse_kl_se")
    return [{"config": f"{name} [PacGAN Table 1, published]", "dataset": dataset, "g_updates": PUBLISHED_UPDATES,
             "seeds": 10, **dict(zip(keys, values)), "cpu_s_per_run": None, "reference": True}
            for name, dataset, *values in PUBLISHED]


def _model_section(path: Path) -> tuple[str, dict, int]:
    config = yaml.safe_load(path.read_text())
    return config["model"]["class_path"], config["model"]["init_args"], config["data"]["init_args"]["batch_size"]


def configs(dataset: str) -> dict[str, tuple[str, dict, int]]:
    """name -> (model class path, init_args as in a config's model section, batch size)."""
    _, pac, _ = _model_section(ROOT / "experiments" / "gan" / f"{dataset}_pacgan.yaml")
    paper_d = {k: pac[k] for k in PAPER_D}  # maxout D, N(0, 0.02): the yaml's since 2026-12-02
    gan = {k: v for k, v in pac.items() if k != "pack" and k not in PAPER_D}  # the rows measured before
    adam = {"class_path": "torch.optim.Adam", "init_args": {"lr": 1e-4, "betas": [0.5, 0.9]}}
    wgan_gp = {"net": "mlp", "z_dim": pac["z_dim"], "g_hidden": pac["g_hidden"], "d_hidden": pac["d_hidden"],
               "n_critic": 5, "gp_lambda": 10.0, "g_optimizer": adam, "d_optimizer": adam}
    return {
        "GAN (PacGAN settings)": ("lit_gans.models.VanillaGAN", gan, 100),
        "PacGAN2": ("lit_gans.models.VanillaGAN", gan | {"pack": 2}, 200),
        "PacGAN4": ("lit_gans.models.VanillaGAN", gan | {"pack": 4}, 400),
        "WGAN-GP": ("lit_gans.models.WGANGP", wgan_gp, 100),
        "ours": _model_section(ROOT / "experiments" / "gan" / f"{dataset}.yaml"),
        "GAN (PacGAN, maxout D)": ("lit_gans.models.VanillaGAN", gan | paper_d, 100),
        "PacGAN4 (maxout D)": ("lit_gans.models.VanillaGAN", gan | paper_d | {"pack": 4}, 400),
        **{f"trial: {name}": ("lit_gans.models.VanillaGAN", gan | _adam(lr, beta1) | extra, batch)
           for name, (lr, beta1, extra, batch) in TRIALS.items()},
    }


def _adam(lr: float, beta1: float) -> dict:
    adam = {"class_path": "torch.optim.Adam", "init_args": {"lr": lr, "betas": [beta1, 0.999]}}
    return {"g_optimizer": adam, "d_optimizer": adam}


#: the search for "ours" (``--configs trial:...``, written to toy2d_equal_search.json): PacGAN's networks, each trial
#: a (learning rate, beta1, other model options, batch size)
TRIALS = {
    "NS lr 1e-4 b1 0.5 (the old gan/*.yaml)": (1e-4, 0.5, {}, 100),
    "NS lr 1e-4 b1 0.5 EMA 0.999": (1e-4, 0.5, {"ema_decay": 0.999}, 100),
    "NS lr 5e-4 b1 0.5": (5e-4, 0.5, {}, 100),
    "NS lr 5e-4 b1 0.5 EMA 0.99": (5e-4, 0.5, {"ema_decay": 0.99}, 100),
    "NS lr 1e-3 b1 0.5 EMA 0.99": (1e-3, 0.5, {"ema_decay": 0.99}, 100),
    "hinge lr 5e-4 b1 0.5 EMA 0.99": (5e-4, 0.5, {"ema_decay": 0.99, "loss": "hinge"}, 100),
    "NS lr 5e-4 b1 0.5 EMA 0.99 batch 256": (5e-4, 0.5, {"ema_decay": 0.99}, 256),
    "NS lr 1e-4 b1 0.5 EMA 0.99": (1e-4, 0.5, {"ema_decay": 0.99}, 100),
    "NS lr 2e-4 b1 0.5 EMA 0.99": (2e-4, 0.5, {"ema_decay": 0.99}, 100),
    "NS lr 1e-4 b1 0.5 batch 256": (1e-4, 0.5, {}, 256),
    "NS lr 1e-4 b1 0.5 EMA 0.99 batch 256": (1e-4, 0.5, {"ema_decay": 0.99}, 256),
}


def train(config: tuple[str, dict, int], dataset: str, seed: int, g_updates: int, ckpt: Path, threads: int = 1,
          accelerator: str = "cpu") -> float:
    """Trains one configuration for ``g_updates`` generator updates, saves its checkpoint; returns the CPU seconds."""
    torch.set_num_threads(threads)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    class_path, init_args, batch_size = config
    L.seed_everything(seed, verbose=False)
    model = build_model(class_path, init_args, data_shape=(2,))
    data = Toy2DDataModule(dataset, batch_size=batch_size)
    trainer = L.Trainer(
        accelerator=accelerator, devices=1, max_epochs=-1,
        callbacks=[_StopAfterGeneratorSteps(g_updates, record_grad_norms=False)],
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, limit_val_batches=0,
    )
    cpu = time.process_time()
    trainer.fit(model, data)
    cpu = time.process_time() - cpu
    trainer.save_checkpoint(ckpt)
    return cpu


def run_one(name: str, dataset: str, seed: int, g_updates: int, accelerator: str = "cpu") -> dict:
    """One (configuration, mixture, seed, budget): trained, then judged as ``lit-gans sample`` draws it."""
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "last.ckpt"
        cpu = train(configs(dataset)[name], dataset, seed, g_updates, ckpt, accelerator=accelerator)
        stats = judge_checkpoint(ckpt, dataset)
    return {"config": name, "dataset": dataset, "g_updates": g_updates, "seed": seed, "modes": stats.modes,
            "hq": stats.high_quality, "reverse_kl": stats.reverse_kl, "counts": list(stats.counts), "cpu_s": cpu}


def markdown(rows: list[dict]) -> str:
    def cell(row, metric, fmt):
        se = row.get(f"{metric}_se")
        return f"{row[metric]:{fmt}}" + (f" ± {se:{fmt}}" if se is not None and math.isfinite(se) else "")

    lines = ["| dataset | configuration | G updates | seeds | modes | high quality (%) | reverse KL | CPU s / run |",
             "|---|---|---|---|---|---|---|---|"]
    for dataset in ("ring", "grid"):
        for row in [r for r in rows + reference_rows() if r["dataset"] == dataset]:
            cpu = "-" if row["cpu_s_per_run"] is None else f"{row['cpu_s_per_run']:.0f}"
            lines.append(f"| {dataset} | {row['config']} | {row['g_updates']:,} | {row['seeds']} | "
                         f"{cell(row, 'modes', '.1f')} | {cell(row, 'hq', '.1f')} | {cell(row, 'reverse_kl', '.3f')} | "
                         f"{cpu} |")
    return "\n".join(lines)


def _order(row: dict) -> tuple:
    names = CONFIG_NAMES + PAPER_D_NAMES + [f"trial: {t}" for t in TRIALS]
    return row["g_updates"], names.index(row["config"]) if row["config"] in names else len(names)


def write_report(path: Path, runs: list[dict], header: dict) -> dict:
    """Writes ``header`` + one row per (configuration, mixture, budget) over the seeds of ``runs`` + the table."""
    keys = [(r["config"], r["dataset"], r["g_updates"], r["seed"]) for r in runs]
    if len(set(keys)) < len(keys):
        raise SystemExit(f"error: a (config, dataset, g_updates, seed) run appears twice among {path.name}'s runs")
    rows = sorted(summarise(runs, keys=("config", "dataset", "g_updates")), key=_order)
    report = {**header, "cpu_s": sum(r["cpu_s"] for r in runs), "load_average": os.getloadavg()[0],
              "judge": "lit-gans sample --ckpt last.ckpt --num 2500 (seed 0)", "rows": rows + reference_rows(),
              "table": markdown(rows), "runs": runs}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_finite(report), indent=1))
    return report


def combine(paths: list[Path], out: Path) -> dict:
    """One report from several runs of this script (budgets or configurations run separately, each file's runs
    kept as they are); ``sources`` records each file's command, completeness and cost."""
    sources, runs = [], []
    for path in paths:
        try:
            part = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise SystemExit(f"error: cannot read {path} as a toy2d_equal.py report ({err})") from None
        if "runs" not in part:
            raise SystemExit(f"error: {path} has no 'runs': not a toy2d_equal.py report")
        sources.append({"file": path.name, **{k: part.get(k) for k in (
            "command", "complete", "runs_done", "runs_planned", "workers", "cpu_s", "wall_s", "load_average")}})
        # a run's null reverse KL is the infinity JSON cannot hold (no high-quality sample; see toy2d._finite)
        runs += [r | {"reverse_kl": math.inf if r["reverse_kl"] is None else r["reverse_kl"]} for r in part["runs"]]
    header = {"command": " ".join(["python", *sys.argv]), "combined": True,
              "g_updates": sorted({r["g_updates"] for r in runs}),
              "complete": all(s["complete"] for s in sources), "runs_done": len(runs),
              "wall_s": sum(s["wall_s"] or 0 for s in sources), "sources": sources}
    return write_report(out, runs, header)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--g-updates", type=int, nargs="+", default=[1500], help="generator updates (one row each)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--configs", nargs="+", default=CONFIG_NAMES, metavar="CONFIG",
                        choices=CONFIG_NAMES + PAPER_D_NAMES + [f"trial: {t}" for t in TRIALS],
                        help="default: the table's first five")
    parser.add_argument("--datasets", nargs="+", default=["ring", "grid"], choices=["ring", "grid"])
    parser.add_argument("--workers", type=int, default=1, help="parallel training processes (one thread each)")
    parser.add_argument("--accelerator", default="cpu", help="Lightning's: cpu (one thread a run), gpu, auto")
    parser.add_argument("--out", type=Path, default=RESULTS / "toy2d_equal.json")
    parser.add_argument("--combine", type=Path, nargs="+", metavar="JSON",
                        help="write --out from these reports of this script instead of training (their runs kept)")
    args = parser.parse_args(argv)
    if args.combine:
        print(combine(args.combine, args.out)["table"])
        return
    if min(args.g_updates) < 1 or args.seeds < 1:
        parser.error("--g-updates and --seeds must be >= 1")
    # seed-major order: an interrupted run still has every (configuration, dataset, budget) on its first seeds
    jobs = [(c, d, s, g, args.accelerator)
            for s in range(args.seeds) for g in args.g_updates for d in args.datasets for c in args.configs]
    start, runs = time.perf_counter(), []
    with ProcessPoolExecutor(args.workers) as pool:
        for future in as_completed([pool.submit(run_one, *job) for job in jobs]):
            runs.append(future.result())
            r = runs[-1]
            print(f"{r['config']} {r['dataset']} seed {r['seed']} {r['g_updates']} updates: {r['modes']} modes, "
                  f"{r['hq']:.1f} % hq, KL {r['reverse_kl']:.3f}, {r['cpu_s']:.0f} CPU s", flush=True)
            report = write_report(args.out, runs, {
                "command": " ".join(["python", *sys.argv]), "g_updates": args.g_updates, "seeds": args.seeds,
                "workers": args.workers, "accelerator": args.accelerator, "complete": len(runs) == len(jobs),
                "runs_done": len(runs), "runs_planned": len(jobs), "wall_s": time.perf_counter() - start})
    print(report["table"])
    print(f"\n{len(runs)} runs, CPU {report['cpu_s'] / 60:.1f} min, wall {report['wall_s'] / 60:.1f} min, "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
