"""MLE pre-training on the official SeqGAN oracle, side by side with the official run's log (Yu et al. 2017,
arXiv:1609.05473, Table 1; LantaoYu/SeqGAN ``save/experiment-log.txt``).

The MLE stage of ``experiments/seqgan/oracle_official.yaml`` (or ``--config``), run through lit_gans' own code path
(the model built as the CLI builds it, ``OracleDataModule`` loading the official oracle, ``Trainer.fit``): 10,000
training sequences drawn from the official oracle, the paper's generator (embedding 32, hidden 32), Adam lr 0.01,
gradient clipped to norm 5, batch 64. NLL-oracle (per-token NLL under the oracle of ``--num-eval`` generated sequences)
is measured where the official script measures it, after 1, 6, 11, ... epochs (its "epoch 0, 5, 10, ..."), and after
the last epoch. Curves are keyed by epochs trained. Prints a Markdown table, writes
``experiments/results/seqgan_official_oracle.json`` and a plot beside it (after every measurement, so a run cut
short keeps its curve; ``complete`` says whether it reached the last epoch).

    nice -n 10 python experiments/benchmarks/seqgan_official_oracle.py
    python experiments/benchmarks/seqgan_official_oracle.py --table-only     # the table of the JSON written so far
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightning as L
import torch
from seqgan_oracle import ROOT, PrintedMetrics, _relative, build_model, load_config

from lit_gans.data.sequences import OracleDataModule
from lit_gans.metrics.sequences import oracle_nll

DEFAULT_CONFIG = ROOT / "experiments/seqgan/oracle_official.yaml"
#: NLL-oracle of the official run during MLE pre-training, printed after its epochs 0, 5, ..., 115 (1, 6, ..., 116
#: epochs trained)
OFFICIAL_LOG = (10.1716, 9.42939, 9.2388, 9.11899, 9.13099, 9.14474, 9.12539, 9.13982, 9.135, 9.13081, 9.10678,
                9.10694, 9.10349, 9.10403, 9.07613, 9.091, 9.08909, 9.0807, 9.08434, 9.08936, 9.07443, 9.08305,
                9.06973, 9.07058)
OFFICIAL_CURVE = {1 + 5 * i: nll for i, nll in enumerate(OFFICIAL_LOG)}
PAPER = {"random": 10.310, "mle": 9.038}  # Table 1


class OfficialCadence(PrintedMetrics):
    """NLL-oracle after 1, 1 + every, 1 + 2 every, ... epochs trained (the official script's cadence) and at the end."""

    def __init__(self, epochs: int, on_measure=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.epochs, self.on_measure = epochs, on_measure

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        trained = trainer.current_epoch + 1
        if (trained - 1) % self.every_n_epochs == 0 or trained == self.epochs:
            self.measure(trainer, pl_module)
            if self.on_measure is not None:
                self.on_measure(self.curve())

    def curve(self) -> dict[int, float]:
        """NLL-oracle by epochs trained (0: the untrained generator)."""
        return {0: self.history[0][3]} | {epoch + 1: value for epoch, _, _, value in self.history[1:]}


def run(args: argparse.Namespace) -> dict:
    """Trains, writing the JSON and plot after every measurement (``complete`` false until the last epoch)."""
    model_args, data_args = load_config(args.config)
    model_args = model_args | {"g_pretrain_epochs": args.epochs, "d_pretrain_steps": 0, "adversarial_rounds": 0}
    data_args = data_args | {"oracle_path": str(ROOT / data_args["oracle_path"]), "num_val_samples": 0}
    if args.num_samples is not None:
        data_args["num_samples"] = args.num_samples
    data = OracleDataModule(**data_args)
    data.setup()
    L.seed_everything(args.seed, verbose=False)
    model = build_model(model_args, data)
    nll_data = oracle_nll(data.oracle, data.train_set.tensors[0])
    start = time.perf_counter()

    def result(curve: dict[int, float]) -> dict:
        return {
            "nll_random": curve[0], f"nll_mle_{args.epochs}": curve.get(args.epochs), "curve": curve,
            "complete": args.epochs in curve, "official_curve": OFFICIAL_CURVE, "official_mle_end": OFFICIAL_LOG[-1],
            "paper": PAPER, "nll_data": nll_data, "epochs": args.epochs, "num_samples": data_args["num_samples"],
            "num_eval": args.num_eval, "seed": args.seed, "seconds": time.perf_counter() - start,
            "threads": torch.get_num_threads(),
        "command": f"nice -n 10 python experiments/benchmarks/seqgan_official_oracle.py --epochs {args.epochs} "
                   f"--every {args.every} --num-eval {args.num_eval} --seed {args.seed}"
                   + (f" --num-samples {args.num_samples}" if args.num_samples is not None else "")
                   + (f" --config {_relative(args.config)}"
                      if args.config.resolve() != DEFAULT_CONFIG.resolve() else ""),
        }

    metrics = OfficialCadence(args.epochs, on_measure=lambda curve: write(result(curve), args.out),
                              every_n_epochs=args.every, num_samples=args.num_eval, seed=10_000 + args.seed)
    # no validation loop: the data has no held-out split, and lit_gans would score the whole training set instead
    trainer = L.Trainer(max_epochs=-1, accelerator="cpu", callbacks=[metrics], logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(model, data)
    return result(metrics.curve())


def write(result: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    plot(result, out.with_suffix(".png"))


def table(result: dict) -> str:
    """One Markdown table: this run against the official log, by epochs trained."""
    rows = ["| epochs trained | lit_gans | official log |", "|---|---|---|"]
    official = result["official_curve"]
    for epoch in sorted(set(result["curve"]) | set(official)):
        ours, theirs = result["curve"].get(epoch), official.get(epoch)
        cells = [f"{v:.3f}" if v is not None else "—" for v in (ours, theirs)]
        rows.append(f"| {epoch} | {cells[0]} | {cells[1]} |")
    return "\n".join(rows)


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for label, curve, style in (("lit_gans", result["curve"], "o-"), ("official log", result["official_curve"], "s--")):
        epochs = [e for e in sorted(curve) if e > 0]
        ax.plot(epochs, [curve[e] for e in epochs], style, ms=3, label=label)
    mle = result["paper"]["mle"]
    ax.axhline(mle, color="gray", lw=0.8, ls=":", label=f"paper Table 1 MLE ({mle})")
    ax.set(xlabel="MLE epochs trained", ylabel="NLL-oracle (nats per token)",
           title="SeqGAN MLE pre-training, official oracle")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--epochs", type=int, default=120, help="MLE epochs (official: 120)")
    parser.add_argument("--every", type=int, default=5, help="measure every N epochs (official: 5)")
    parser.add_argument("--num-eval", type=int, default=10_000,
                        help="generated sequences per NLL-oracle (official: 9,984)")
    parser.add_argument("--num-samples", type=int, help="training sequences (the config's 10,000 if not given)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/results/seqgan_official_oracle.json")
    parser.add_argument("--table-only", action="store_true",
                        help="print the table of an existing --out JSON (a finished or cut-short run) and exit")
    args = parser.parse_args()
    if args.table_only:
        result = json.loads(args.out.read_text())
        for key in ("curve", "official_curve"):
            result[key] = {int(epoch): nll for epoch, nll in result[key].items()}
        print(table(result))
        return
    torch.set_num_threads(args.threads)
    result = run(args)
    write(result, args.out)
    print(table(result))
    print(f"\nNLL-oracle after {args.epochs} MLE epochs: {result[f'nll_mle_{args.epochs}']:.3f} (official log's last, "
          f"116 epochs: {OFFICIAL_LOG[-1]}; paper: {PAPER['mle']}); untrained: {result['nll_random']:.3f}; the "
          f"training "
          f"data itself: {result['nll_data']:.3f}; {result['seconds'] / 60:.1f} min; wrote {_relative(args.out)} and "
          f"{_relative(args.out.with_suffix('.png'))}")


if __name__ == "__main__":
    main()
