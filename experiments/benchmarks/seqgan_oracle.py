"""MLE-only vs SeqGAN on the synthetic oracle benchmark (Yu et al. 2017, arXiv:1609.05473, Table 1), at CPU size.

For each seed, one SeqGAN run of ``experiments/seqgan/oracle_cpu.yaml`` (or ``--config``) is measured at its stage
boundaries by NLL-oracle (per-token NLL of ``--num-eval`` generated sequences under the oracle):

- ``random``: the untrained generator (N(0, 0.1) parameters), before any update;
- ``mle``: the generator at the end of MLE pre-training, i.e. the MLE-only model SeqGAN starts from;
- ``mle_continued``: with ``--mle-extra E``, a second run trained by MLE alone for E more epochs (same seed), so that
  MLE gets more generator updates than SeqGAN's adversarial stage uses;
- ``seqgan``: the generator after the adversarial rounds.

The oracle is the same in every run (``oracle_seed`` of the config); seeds change the initialisation and training
order. Runs go two at a time (``--workers``), each in its own process on one thread. Prints a Markdown table and
writes ``experiments/results/seqgan_oracle.json``.

    python experiments/benchmarks/seqgan_oracle.py --seeds 0 1 2 --mle-extra 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import lightning as L
import torch
import yaml
from cli_fit import ROOT
from cli_fit import build_model as build_from_config

from lit_gans.callbacks.sequences import SequenceMetrics
from lit_gans.data.sequences import OracleDataModule
from lit_gans.metrics.sequences import oracle_nll
from lit_gans.models.seqgan import SeqGAN

DEFAULT_CONFIG = (ROOT / "experiments/seqgan/oracle_cpu.yaml").resolve()
PAPER = {"random": 10.310, "mle": 9.038, "seqgan": 8.736}  # Table 1 of the paper (NLL-oracle, vocabulary 5,000)


def load_config(path: Path) -> tuple[dict, dict]:
    config = yaml.safe_load(path.read_text())
    return config["model"]["init_args"], config["data"]["init_args"]


def build_model(model_args: dict, data: OracleDataModule) -> SeqGAN:
    """SeqGAN from a config's init_args, with the vocabulary and length of ``data``."""
    return build_from_config("lit_gans.models.SeqGAN", model_args, data_shape=data.data_shape,
                             num_classes=data.num_classes)


class PrintedMetrics(SequenceMetrics):
    """Prints each measurement as it is made (the runs are long on a shared CPU)."""

    def measure(self, trainer, pl_module):
        values = super().measure(trainer, pl_module)
        print(f"  epoch {trainer.current_epoch:3d} {pl_module.stage()[0]:12s} {values}", flush=True)
        return values


def run(model_args: dict, data: OracleDataModule, seed: int, num_eval: int,
        every: int = 0) -> tuple[dict[str, float], float, list]:
    """One training run; NLL-oracle at the start and at the end of each stage (and every ``every`` epochs), the run's
    seconds, and all the measurements as (epoch, stage, NLL-oracle) rows."""
    L.seed_everything(seed, verbose=False)
    model = build_model(model_args, data)
    metrics = PrintedMetrics(every_n_epochs=every, num_samples=num_eval, seed=10_000 + seed)
    trainer = L.Trainer(
        max_epochs=-1, accelerator="cpu", callbacks=[metrics], logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )
    start = time.perf_counter()
    trainer.fit(model, data)
    seconds = time.perf_counter() - start
    nll = {"random": metrics.history[0][3]}
    nll |= {stage: value for _, stage, name, value in metrics.history[1:] if name == "nll_oracle"}
    curve = [(epoch, stage, value) for epoch, stage, name, value in metrics.history if name == "nll_oracle"]
    return nll, seconds, curve


def _relative(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def config_flag(path: Path) -> str:
    """`` --config PATH`` for a recorded command, or nothing for the default config."""
    return f" --config {_relative(path)}" if path.resolve() != DEFAULT_CONFIG else ""


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--num-eval", type=int, default=2000, help="generated sequences per NLL-oracle estimate")
    parser.add_argument("--mle-extra", type=int, default=0, help="extra MLE-only epochs for the continued baseline")
    parser.add_argument("--every", type=int, default=0,
                        help="also measure every N training epochs (a learning curve in the JSON's 'curves')")
    parser.add_argument("--threads", type=int, default=1, help="threads per run")
    parser.add_argument("--workers", type=int, default=2, help="runs at a time, each in its own process")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/results/seqgan_oracle.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model_args, data_args = load_config(args.config)
    data = OracleDataModule(**data_args)
    data.setup()
    nll_data = oracle_nll(data.oracle, data.train_set.tensors[0])
    rows: dict[str, list[float]] = {"random": [], "mle": [], "seqgan": [], "mle_continued": []}
    seconds, curves = [], {}
    start = time.perf_counter()
    # every run in its own worker process (one thread each): the seeds' SeqGAN runs, then the MLE-only baselines
    jobs = [("seqgan", seed) for seed in args.seeds] + [("mle_continued", seed) for seed in args.seeds if args.mle_extra]
    with ProcessPoolExecutor(args.workers) as pool:
        futures = {job: pool.submit(_job, job, model_args, data_args, args) for job in jobs}
        for (kind, seed), future in futures.items():
            nll, sec, curve = future.result()
            curves[f"{kind} seed {seed}"] = curve
            if kind == "seqgan":
                rows["random"].append(nll["random"]), rows["mle"].append(nll["mle"])
                rows["seqgan"].append(nll["adversarial"]), seconds.append(sec)
            else:
                rows["mle_continued"].append(nll["mle"])
            print(f"{kind} seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in nll.items()) + f" ({sec:.0f} s)", flush=True)
    args.wall_s = time.perf_counter() - start
    summarise(args, rows, seconds, nll_data, model_args, data_args, final=True, curves=curves if args.every else None)


def _job(job: tuple[str, int], model_args: dict, data_args: dict, args: argparse.Namespace):
    """One run in a worker process: SeqGAN with its stages, or MLE alone for ``--mle-extra`` more epochs."""
    torch.set_num_threads(args.threads)
    kind, seed = job
    if kind == "mle_continued":
        model_args = model_args | {"g_pretrain_epochs": model_args["g_pretrain_epochs"] + args.mle_extra,
                                   "d_pretrain_steps": 0, "adversarial_rounds": 0}
    data = OracleDataModule(**data_args)
    data.setup()
    return run(model_args, data, seed, args.num_eval, args.every)


def stage_means(curves: dict[str, list], seeds: list[int], pretrain_epochs: int) -> dict:
    """NLL-oracle averaged over the stage after MLE pre-training, per seed: SeqGAN's measurements during its
    adversarial rounds against MLE alone's during its extra epochs (same number of points, the same seeds).

    One measurement swings by a few hundredths from one epoch to the next, for MLE and SeqGAN alike (see the curve
    table), so the value at a single epoch compares two noisy points; the stage mean compares the levels the two
    trainings hold."""
    per_seed = {"seqgan": [], "mle_continued": []}
    for seed in seeds:
        seqgan = [v for _, stage, v in curves.get(f"seqgan seed {seed}", []) if stage == "adversarial"]
        mle = [v for epoch, _, v in curves.get(f"mle_continued seed {seed}", []) if epoch >= pretrain_epochs]
        if seqgan and mle:
            per_seed["seqgan"].append(statistics.fmean(seqgan))
            per_seed["mle_continued"].append(statistics.fmean(mle))
    if not per_seed["seqgan"]:
        return {}
    (seqgan, seqgan_std), (mle, mle_std) = mean_std(per_seed["seqgan"]), mean_std(per_seed["mle_continued"])
    gains = [m - g for m, g in zip(per_seed["mle_continued"], per_seed["seqgan"])]
    return {"stage_mean": {"nll_seqgan": seqgan, "nll_seqgan_std": seqgan_std, "nll_mle_continued": mle,
                           "nll_mle_continued_std": mle_std, "gain": mle - seqgan, "gain_std": mean_std(gains)[1],
                           "per_seed": per_seed}}


def summarise(args, rows, seconds, nll_data, model_args, data_args, final: bool, curves=None) -> None:
    """Writes the JSON; with ``final``, prints the tables."""
    stats = {k: mean_std(v) for k, v in rows.items() if v}
    result = {
        "config": _relative(args.config), "seeds": args.seeds[: len(seconds)], "num_eval": args.num_eval,
        "nll_data": nll_data,
        "nll_random": stats["random"][0], "nll_mle": stats["mle"][0], "nll_seqgan": stats["seqgan"][0],
        "nll_random_std": stats["random"][1], "nll_mle_std": stats["mle"][1], "nll_seqgan_std": stats["seqgan"][1],
        "gain_over_mle": stats["mle"][0] - stats["seqgan"][0],
        "per_seed": rows, "seconds_per_seqgan_run": seconds, "wall_s": getattr(args, "wall_s", None),
        "workers": args.workers, "model": model_args, "data": data_args,
        "command": f"python experiments/benchmarks/seqgan_oracle.py --seeds {' '.join(map(str, args.seeds))} "
                   f"--num-eval {args.num_eval} --mle-extra {args.mle_extra}"
                   + (f" --every {args.every}" if args.every else "")
                   + config_flag(args.config),
    }
    if curves:
        result["curves"] = curves
        result |= stage_means(curves, args.seeds, model_args["g_pretrain_epochs"])
    if "mle_continued" in stats:
        result |= {"nll_mle_continued": stats["mle_continued"][0], "nll_mle_continued_std": stats["mle_continued"][1],
                   "mle_extra_epochs": args.mle_extra}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    if not final:
        return

    print(f"\nNLL-oracle (lower is better), mean ± std over seeds {args.seeds}; the oracle's own data: {nll_data:.3f}\n")
    print("| generator | this run | paper Table 1 (full size) |")
    print("|---|---|---|")
    names = {"random": "Random (untrained G)", "mle": "MLE (end of pre-training)", "mle_continued": f"MLE, +{args.mle_extra} epochs",
             "seqgan": "SeqGAN"}
    for key, label in names.items():
        if key in stats:
            mean, std = stats[key]
            print(f"| {label} | {mean:.3f} ± {std:.3f} | {PAPER.get(key, '—')} |")
    if curves:
        runs = [c for name, c in curves.items() if name.startswith("seqgan")]
        print("\nNLL-oracle along the SeqGAN runs, mean over seeds (epochs count MLE, D pre-training and rounds)\n")
        print("| epoch | stage | NLL-oracle | per seed |\n|---|---|---|---|")
        for points in zip(*runs):  # the same measurement epochs in every run
            values = [v for _, _, v in points]
            print(f"| {points[0][0]} | {points[0][1]} | {statistics.fmean(values):.3f} | "
                  + ", ".join(f"{v:.3f}" for v in values) + " |")
    if "stage_mean" in result:
        sm = result["stage_mean"]
        print(f"\nAveraged over the stage after pre-training (SeqGAN's adversarial rounds vs MLE alone's extra epochs): "
              f"SeqGAN {sm['nll_seqgan']:.3f} ± {sm['nll_seqgan_std']:.3f}, MLE {sm['nll_mle_continued']:.3f} ± "
              f"{sm['nll_mle_continued_std']:.3f}; gain {sm['gain']:.3f} (per seed: "
              + ", ".join(f"{m - g:+.3f}" for m, g in zip(sm["per_seed"]["mle_continued"], sm["per_seed"]["seqgan"])) + ")")
    print(f"\nSeqGAN gain over MLE: {result['gain_over_mle']:.3f} (paper: {PAPER['mle'] - PAPER['seqgan']:.3f}); "
          f"{statistics.fmean(seconds):.0f} s per SeqGAN run, {args.wall_s / 60:.1f} min in all; wrote {_relative(args.out)}")


if __name__ == "__main__":
    main()
