"""CPU cost of one adversarial round of ``experiments/seqgan/oracle_official.yaml`` (the paper's protocol on the
official oracle), measured through lit_gans' own training path and extrapolated to the full round.

A round is one policy-gradient step (64 sequences, 16 rollouts of each of their 19 prefixes, all scored by the
paper's discriminator) and 5 draws of 10,000 negatives, each trained 3 epochs against the 10,000 real sequences.
Two runs of a single round with a small data set (``--sizes``, sequences) give the D part's cost per sequence (the
slope) and the policy-gradient step's (the intercept); the full round and the whole protocol are extrapolated from
them. Process CPU seconds on one thread, so the numbers hold on a shared machine too.

    nice -n 10 python experiments/benchmarks/seqgan_round_cost.py
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightning as L
import torch
from seqgan_oracle import ROOT, build_model, load_config

from lit_gans.data.sequences import OracleDataModule

CONFIG = ROOT / "experiments/seqgan/oracle_official.yaml"


def one_round_cpu_s(model_args: dict, data_args: dict, num_samples: int) -> tuple[float, float]:
    """Process CPU seconds of a fit made of one adversarial round (1 g-step, 1 draw of negatives, 1 D epoch), and of
    generating one sequence by the model's generator."""
    data = OracleDataModule(**(data_args | {"num_samples": num_samples}))
    data.setup()
    L.seed_everything(0, verbose=False)
    model = build_model(model_args | {"g_pretrain_epochs": 0, "d_pretrain_steps": 0, "adversarial_rounds": 1,
                                      "d_steps": 1, "d_epochs": 1}, data)
    trainer = L.Trainer(max_epochs=-1, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    start = time.process_time()
    trainer.fit(model, data)
    fit_s = time.process_time() - start
    start = time.process_time()
    model.generate_sequences(model.generator, 2048)
    return fit_s, (time.process_time() - start) / 2048


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[640, 1920], help="two data sizes (multiples of 64)")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/results/seqgan_round_cost.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model_args, data_args = load_config(CONFIG)
    data_args = data_args | {"oracle_path": str(ROOT / data_args["oracle_path"]), "num_val_samples": 0}
    small, large = args.sizes
    runs = {n: one_round_cpu_s(model_args, data_args, n) for n in (small, large)}
    cost = {n: fit_s for n, (fit_s, _) in runs.items()}
    generate = sum(g for _, g in runs.values()) / 2  # CPU s to generate one negative
    per_sequence = (cost[large] - cost[small]) / (large - small)  # one draw + one D epoch, per real sequence
    g_step = cost[small] - small * per_sequence
    d_epoch = per_sequence - generate  # one D epoch, per real sequence (and its negative)
    h, n = model_args, data_args["num_samples"]
    draw = n * (generate + h["d_epochs"] * d_epoch)  # n negatives generated once, then d_epochs epochs
    round_s = g_step + h["d_steps"] * draw
    result = {
        "config": str(CONFIG.relative_to(ROOT)), "cpu_s": {str(k): v for k, v in cost.items()},
        "g_step_cpu_s": g_step, "generate_cpu_s_per_sequence": generate, "d_epoch_cpu_s_per_sequence": d_epoch,
        "adversarial_round_cpu_s": round_s, "d_pretrain_cpu_h": h["d_pretrain_steps"] * draw / 3600,
        "adversarial_stage_cpu_h": h["adversarial_rounds"] * round_s / 3600,
        "command": "nice -n 10 python experiments/benchmarks/seqgan_round_cost.py"
                   + (f" --sizes {small} {large}" if args.sizes != [640, 1920] else ""),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
