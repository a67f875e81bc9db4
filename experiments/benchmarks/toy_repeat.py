"""The spread over repeated runs of one seed on a 2D mixture, and what else moves the judged numbers (issue 22).

Trains one configuration of ``toy2d_equal.py`` several times with the same seed, each with its own thread count
(``--threads 1 1 2``: a repeat at the same count, then another count), and judges each as ``lit-gans sample`` does.
On the first run's checkpoint it also scores the same 2,500 latents three other ways: batch norm on the batch's
statistics instead of its running ones, another noise seed, and the reverse KL over every sample's nearest mode
instead of over the high-quality samples only.

    nice -n 10 python experiments/benchmarks/toy_repeat.py --config ours --dataset ring --seed 0 --g-updates 1000 \\
        --threads 1 1 2

Writes ``experiments/results/toy_repeat.json`` (``--out``) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch
from toy2d_equal import RESULTS, configs, train
from toy_judge import judge_checkpoint, user_samples

from lit_gans.checkpoints import load_model
from lit_gans.data.toy import Toy2DDataModule
from lit_gans.metrics.modes import kl_to_uniform, mode_statistics


def other_judges(ckpt: Path, mixture: str) -> dict[str, dict]:
    """The same checkpoint scored with batch statistics, with noise seed 1, and with the all-samples reverse KL."""
    data = Toy2DDataModule(mixture)
    model = load_model(ckpt)
    with torch.no_grad():
        net = model.sampling_generator().train()  # batch norm normalises with the 2,500 samples' own statistics
        batch_stats = model.generate(net, model.sample_latent(2500, generator=model.seeded_rng(0)))
    samples = user_samples(ckpt)
    nearest = torch.cdist(samples.double(), data.means.double()).argmin(dim=1)
    stats = {"batch norm on batch statistics": mode_statistics(batch_stats, data.means, data.std).as_dict(),
             "noise seed 1": mode_statistics(user_samples(ckpt, seed=1), data.means, data.std).as_dict()}
    stats["reverse KL over all samples (no 3-std filter)"] = {
        "reverse_kl": kl_to_uniform(torch.bincount(nearest, minlength=len(data.means)))}
    return stats


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="ours")
    parser.add_argument("--dataset", default="ring", choices=["ring", "grid"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--g-updates", type=int, default=1000)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 1, 2], help="one run per entry, its thread count")
    parser.add_argument("--out", type=Path, default=RESULTS / "toy_repeat.json")
    args = parser.parse_args(argv)
    config = configs(args.dataset).get(args.config)
    if config is None:
        parser.error(f"unknown --config {args.config!r}; choose from {sorted(configs(args.dataset))}")
    runs, others = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for i, threads in enumerate(args.threads):
            ckpt = Path(tmp) / f"run{i}.ckpt"
            cpu = train(config, args.dataset, args.seed, args.g_updates, ckpt, threads=threads)
            stats = judge_checkpoint(ckpt, args.dataset)
            same = torch.equal(user_samples(ckpt), user_samples(Path(tmp) / "run0.ckpt"))
            runs.append({"threads": threads, "modes": stats.modes, "hq": stats.high_quality,
                         "reverse_kl": stats.reverse_kl, "same_samples_as_run_0": same, "cpu_s": cpu})
            others = others or other_judges(ckpt, args.dataset)
    report = {"command": " ".join(["python", *sys.argv]), "config": args.config, "dataset": args.dataset,
              "seed": args.seed, "g_updates": args.g_updates, "runs": runs, "first_checkpoint_other_judges": others}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print("| run | threads | modes | high quality (%) | reverse KL | samples identical to run 0 |")
    print("|---|---|---|---|---|---|")
    for i, r in enumerate(runs):
        print(f"| {i} | {r['threads']} | {r['modes']} | {r['hq']:.2f} | {r['reverse_kl']:.4f} | "
              f"{r['same_samples_as_run_0']} |")
    for name, s in others.items():
        print(f"| run 0, {name} | | {s.get('modes', '')} | {s.get('high_quality', '')} | {s['reverse_kl']:.4f} | |")


if __name__ == "__main__":
    main()
