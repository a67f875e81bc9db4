"""Training-loop overhead of lit_gans on a 2D mixture config: the config's own networks trained under the Lightning
Trainer against ``overhead.plain_loop`` (the textbook loop) on the same batches, with the same thread count.

    python experiments/benchmarks/toy_overhead.py [--config experiments/gan/ring.yaml] [--steps 2000] [--repeats 3]
                                                  [--threads 1]

The model is built from the config's ``model`` section as LightingCLI builds it (``data_shape`` from its data module);
the batches are drawn once from the config's data module (its batch size), so data loading weighs on neither side.
The comparison is ``overhead.compare``: a warm-up of each, then ABBA-ordered repeats; the ratio is the median of
lit_gans time / plain time, in wall time and in process CPU time (the steadier of the two on a shared machine).
Each side does one D and one G update per batch (the toy configs' loss is the non-saturating one of the plain loop).

Prints a Markdown table and writes experiments/results/toy_overhead_<config stem>.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import warnings
from pathlib import Path

import torch
import yaml
from cli_fit import ROOT, build_model
from lightning.pytorch.cli import instantiate_class
from overhead import compare


def config_batches(data_section: dict, steps: int) -> tuple[list, tuple[int, ...]]:
    """``steps`` batches of the config's data module (cycled through its epochs) and its data shape."""
    dm = instantiate_class((), data_section)
    dm.setup("fit")
    batches: list = []
    while len(batches) < steps:
        batches.extend(tuple(b) for b in dm.train_dataloader())
    return batches[:steps], tuple(dm.data_shape)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="experiments/gan/ring.yaml")
    p.add_argument("--steps", type=int, default=2000, help="batches, one D and one G update each")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch threads of both loops")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    config = yaml.safe_load((ROOT / args.config).read_text())
    load_before = os.getloadavg()
    batches, data_shape = config_batches(config["data"], args.steps)
    torch.manual_seed(0)
    model = config["model"]
    template = build_model(model["class_path"], model["init_args"], data_shape=list(data_shape))
    plain, lightning = compare(template, batches, template.hparams.z_dim, args.repeats)
    ratios = [lt[0] / pt[0] for lt, pt in zip(lightning, plain)]
    cpu_ratios = [lt[1] / pt[1] for lt, pt in zip(lightning, plain)]
    ms = lambda runs, k: 1000 * statistics.median(r[k] for r in runs) / args.steps  # noqa: E731
    result = {
        "config": args.config, "ratio": statistics.median(ratios), "ratios": ratios,
        "cpu_ratio": statistics.median(cpu_ratios), "cpu_ratios": cpu_ratios,
        "plain_ms_per_step": ms(plain, 0), "lit_gans_ms_per_step": ms(lightning, 0),
        "plain_cpu_ms_per_step": ms(plain, 1), "lit_gans_cpu_ms_per_step": ms(lightning, 1),
        "extra_cpu_ms_per_step": ms(lightning, 1) - ms(plain, 1),
        "plain_seconds": [w for w, _ in plain], "lit_gans_seconds": [w for w, _ in lightning],
        "steps": args.steps, "batch_size": len(batches[0][0]), "torch_threads": torch.get_num_threads(),
        "load_average_before": list(load_before), "load_average_after": list(os.getloadavg()),
        "command": f"python experiments/benchmarks/toy_overhead.py --config {args.config} --steps {args.steps} "
                   f"--repeats {args.repeats} --threads {args.threads}",
    }
    out = args.out or ROOT / "experiments" / "results" / f"toy_overhead_{Path(args.config).stem}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"| loop ({args.config}, {args.steps} steps, {args.threads} thread(s)) | wall ms / step | CPU ms / step "
          "| wall ratio | CPU ratio |\n|---|---|---|---|---|")
    print(f"| plain PyTorch | {result['plain_ms_per_step']:.2f} | {result['plain_cpu_ms_per_step']:.2f} | 1.00 | 1.00 |")
    print(f"| lit_gans + Lightning Trainer | {result['lit_gans_ms_per_step']:.2f} | "
          f"{result['lit_gans_cpu_ms_per_step']:.2f} | {result['ratio']:.3f} | {result['cpu_ratio']:.3f} |")


if __name__ == "__main__":
    main()
