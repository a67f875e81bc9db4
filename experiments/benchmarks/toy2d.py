"""Mode collapse on 2D Gaussian mixtures: the protocol of PacGAN (Lin et al. 2018, arXiv:1712.04086, section 5.1,
Table 1) and VEEGAN (Srivastava et al. 2017, arXiv:1705.07761), for the losses of lit_gans side by side.

Data: the ring of 8 Gaussians (radius 1, std 0.01) and the 5x5 grid of 25 (spacing 2, std 0.05) of
:mod:`lit_gans.data.toy`. After training, 2,500 samples are drawn and scored by
:func:`lit_gans.metrics.modes.mode_statistics`: modes captured (a mode with at least one sample within 3 std), the
percentage of high-quality samples (within 3 std of their nearest mode) and the reverse KL divergence of the
high-quality samples' mode histogram from the uniform one. Each configuration runs on several seeds; the table gives
the mean and the standard error over seeds, beside the published rows.

Every configuration trains the same MLP widths for the same number of *generator* updates with a plain Lightning
``Trainer`` (the WGANs make ``n_critic`` = 5 critic updates per generator update, so they see 5x the batches).
The profiles differ in network widths and length; they are NOT the PacGAN architecture (G of 4 x 400 units with batch
norm, D of 3 x 200 maxout units, trained far longer), which this shared CPU cannot afford: compare the published
rows as a reference point, not as a replication.

    python experiments/benchmarks/toy2d.py --quick          # the committed table
    python experiments/benchmarks/toy2d.py                  # the full profile

Writes ``experiments/results/toy2d.json`` (``--out``) and, from seed 0 of the two GAN losses, the plot
``experiments/results/toy2d_generator_gradients.png``: the generator's gradient norm against its updates, the minimax
(saturating) loss beside the non-saturating one.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import lightning as L
import torch

from lit_gans.data.toy import Toy2DDataModule
from lit_gans.metrics.modes import mode_statistics
from lit_gans.models import WGAN, WGANGP, VanillaGAN

RESULTS = Path(__file__).resolve().parents[1] / "results"


class _factory:
    """A picklable optimizer factory (params -> optimizer), as LightningCLI would build from YAML."""

    def __init__(self, cls, **kwargs) -> None:
        self.cls, self.kwargs = cls, kwargs

    def __call__(self, params):
        return self.cls(params, **self.kwargs)


def configs(lr: float | None = None) -> dict[str, tuple[type, dict]]:
    """name -> (model class, its options). Each model keeps its paper's optimizer; ``lr`` None keeps the papers'
    learning rates too (GAN family Adam 2e-4, betas (0.5, 0.999) as DCGAN; WGAN RMSProp 5e-5; WGAN-GP Adam 1e-4,
    betas (0.5, 0.9) as its toy code), a number sets every player's learning rate to it."""
    gan_opt = _players(torch.optim.Adam, lr=lr or 2e-4, betas=(0.5, 0.999))
    return {
        "GAN (minimax)": (VanillaGAN, {"loss": "minimax", **gan_opt}),
        "GAN (non-saturating)": (VanillaGAN, {"loss": "non_saturating", **gan_opt}),
        "WGAN": (WGAN, _players(torch.optim.RMSprop, lr=lr or 5e-5)),
        "WGAN-GP": (WGANGP, _players(torch.optim.Adam, lr=lr or 1e-4, betas=(0.5, 0.9))),
        "hinge": (VanillaGAN, {"loss": "hinge", **gan_opt}),
        "PacGAN4 (non-saturating)": (VanillaGAN, {"loss": "non_saturating", "pack": 4, **gan_opt}),
    }


def _players(cls, **kwargs) -> dict:
    return {"g_optimizer": _factory(cls, **kwargs), "d_optimizer": _factory(cls, **kwargs)}


#: quick: every learning rate 1e-3 so that something is learnt in 400 generator updates; full: the papers' rates.
PROFILES = {
    "quick": {"seeds": 5, "g_steps": 400, "hidden": (64, 64, 64), "batch_size": 100, "lr": 1e-3},
    "full": {"seeds": 10, "g_steps": 10000, "hidden": (128, 128, 128), "batch_size": 100, "lr": None},
}

#: PacGAN Table 1 (ring and grid) and VEEGAN's grid row as PacGAN quotes it; None where not reported.
PUBLISHED = [
    {"config": "GAN [PacGAN Table 1]", "dataset": "ring", "modes": 6.3, "hq": 98.2, "reverse_kl": 0.45},
    {"config": "GAN [PacGAN Table 1]", "dataset": "grid", "modes": 17.3, "hq": 94.8, "reverse_kl": 0.70},
    {"config": "PacGAN4 [PacGAN Table 1]", "dataset": "grid", "modes": 24.8, "hq": 93.6, "reverse_kl": 0.04},
    {"config": "VEEGAN [PacGAN Table 1]", "dataset": "grid", "modes": 24.6, "hq": 40.0, "reverse_kl": None},
]


class _StopAfterGeneratorSteps(L.Callback):
    """Stops training after ``g_steps`` generator updates; with ``record_grad_norms`` records the generator's gradient
    norm after each (the Trainer must then log every step: models log it only on logging steps)."""

    def __init__(self, g_steps: int, record_grad_norms: bool = True) -> None:
        self.g_steps, self.grad_norms, self.record = g_steps, [], record_grad_norms

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        done = int(pl_module.g_steps)
        if self.record and done > len(self.grad_norms):
            self.grad_norms.append(float(trainer.callback_metrics["train/g_grad_norm"]))
        if done >= self.g_steps:
            trainer.should_stop = True


def run_one(config: str, dataset: str, seed: int, profile: dict) -> dict:
    """Trains one configuration on one mixture with one seed; returns its mode statistics and costs."""
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    L.seed_everything(seed, verbose=False)
    cls, options = configs(profile["lr"])[config]
    model = cls(data_shape=(2,), z_dim=2, g_hidden=profile["hidden"], d_hidden=profile["hidden"], **options)
    data = Toy2DDataModule(dataset, seed=seed, batch_size=profile["batch_size"])
    stop = _StopAfterGeneratorSteps(profile["g_steps"])
    # every step a logging step: the models log (and compute) gradient norms only there, and the gradient plot needs
    # the norm of every generator update (with the default 50, a later update would read an earlier one's norm)
    trainer = L.Trainer(
        accelerator="cpu", max_epochs=-1, callbacks=[stop], logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
        log_every_n_steps=1,
    )
    wall, cpu = time.perf_counter(), time.process_time()
    trainer.fit(model, data)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stats = mode_statistics(model.sample(2500, seed=10_000 + seed), data.means, data.std)
    return {"config": config, "dataset": dataset, "seed": seed, "modes": stats.modes, "hq": stats.high_quality,
            "reverse_kl": stats.reverse_kl, "g_steps": int(model.g_steps), "d_steps": int(model.d_steps),
            "wall_s": wall, "cpu_s": cpu, "g_grad_norms": stop.grad_norms if seed == 0 else None}


def summarise(runs: list[dict], keys: tuple[str, ...] = ("config", "dataset")) -> list[dict]:
    """Mean and standard error over seeds, one row per value of ``keys`` (by default (config, dataset))."""
    rows = []
    for key in dict.fromkeys(tuple(r[k] for k in keys) for r in runs):
        group = [r for r in runs if tuple(r[k] for k in keys) == key]
        row = {**dict(zip(keys, key)), "seeds": len(group)}
        for metric in ("modes", "hq", "reverse_kl"):
            values = torch.tensor([r[metric] for r in group], dtype=torch.float64)
            row[metric] = float(values.mean())
            row[f"{metric}_se"] = float(values.std() / math.sqrt(len(values))) if len(values) > 1 else float("nan")
        row["cpu_s_per_run"] = sum(r["cpu_s"] for r in group) / len(group)
        rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    def cell(row, metric, fmt):
        if row.get(metric) is None:
            return "-"
        se = row.get(f"{metric}_se")
        return f"{row[metric]:{fmt}}" + (f" ± {se:{fmt}}" if se is not None and math.isfinite(se) else "")

    lines = ["| dataset | configuration | seeds | modes | high quality (%) | reverse KL |", "|---|---|---|---|---|---|"]
    for dataset in ("ring", "grid"):
        for row in [r for r in rows + PUBLISHED if r["dataset"] == dataset]:
            lines.append(f"| {dataset} | {row['config']} | {row.get('seeds', '-')} | {cell(row, 'modes', '.1f')} | "
                         f"{cell(row, 'hq', '.1f')} | {cell(row, 'reverse_kl', '.2f')} |")
    return "\n".join(lines)


def plot_gradients(runs: list[dict], path: Path) -> None:
    """Generator gradient norm against generator updates, seed 0, minimax against non-saturating."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
    for ax, dataset in zip(axes, ("ring", "grid")):
        for r in runs:
            if r["dataset"] == dataset and r["g_grad_norms"] and r["config"].startswith("GAN ("):
                ax.plot(range(1, len(r["g_grad_norms"]) + 1), r["g_grad_norms"], label=r["config"], lw=0.8)
        ax.set(title=dataset, xlabel="generator updates", yscale="log")
        ax.legend()
    axes[0].set_ylabel("||grad of generator loss||")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the short profile (see PROFILES)")
    parser.add_argument("--seeds", type=int, help="override the profile's number of seeds")
    parser.add_argument("--g-steps", type=int, help="override the profile's generator updates")
    parser.add_argument("--configs", nargs="+", help="a subset of the configurations")
    parser.add_argument("--datasets", nargs="+", default=["ring", "grid"], choices=["ring", "grid"])
    parser.add_argument("--workers", type=int, default=2, help="parallel training processes (one thread each)")
    parser.add_argument("--out", type=Path, default=RESULTS / "toy2d.json")
    args = parser.parse_args(argv)
    name = "quick" if args.quick else "full"
    profile = dict(PROFILES[name])
    profile.update({k: v for k, v in (("seeds", args.seeds), ("g_steps", args.g_steps)) if v is not None})
    names = args.configs or list(configs(profile["lr"]))
    unknown = set(names) - set(configs(profile["lr"]))
    if unknown:
        sys.exit(f"unknown configuration(s) {sorted(unknown)}; choose from {list(configs(profile['lr']))}")
    # seed-major order: an interrupted run still has every (configuration, dataset) on its first seeds
    jobs = [(c, d, s, profile) for s in range(profile["seeds"]) for d in args.datasets for c in names]

    start, runs = time.perf_counter(), []
    with ProcessPoolExecutor(args.workers) as pool:
        for future in as_completed([pool.submit(run_one, *job) for job in jobs]):
            runs.append(future.result())
            # the report is rewritten after every run, so that an interrupted benchmark leaves its finished runs
            write_report(args.out, runs, name, profile, args.workers, time.perf_counter() - start, len(jobs))
    report = write_report(args.out, runs, name, profile, args.workers, time.perf_counter() - start, len(jobs))
    print(report["table"])
    print(f"\n{len(runs)} runs, wall {report['wall_s'] / 60:.1f} min with {args.workers} workers, "
          f"CPU {report['cpu_s'] / 60:.1f} min, load average {os.getloadavg()[0]:.1f}")
    plot_gradients(runs, args.out.with_name(args.out.stem + "_generator_gradients.png"))


def _finite(obj):
    """JSON has no infinity: a non-finite number (reverse KL with no high-quality sample) is written as null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    return [_finite(v) for v in obj] if isinstance(obj, (list, tuple)) else obj


def write_report(path: Path, runs: list[dict], name: str, profile: dict, workers: int, wall: float, planned: int):
    rows = summarise(runs)
    report = {"profile": name, "settings": profile, "command": " ".join(["python", *sys.argv]), "workers": workers,
              "runs_done": len(runs), "runs_planned": planned, "wall_s": wall, "cpu_s": sum(r["cpu_s"] for r in runs),
              "load_average": os.getloadavg()[0], "rows": rows, "published": PUBLISHED, "table": markdown(rows),
              "runs": [{k: v for k, v in r.items() if k != "g_grad_norms"} for r in runs]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_finite(report), indent=1, default=list))
    return report


if __name__ == "__main__":
    main()
