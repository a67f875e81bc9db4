"""CycleGAN on the embedded digit styles (thin <-> thick strokes): does the translation keep the digit and reach the
target style?

Trains :class:`lit_gans.models.CycleGAN` on :class:`lit_gans.data.DigitsStylesDataModule` (16x16, domain A the
digits, domain B their 3x3-dilated rendering, from disjoint halves of the digits; split seed 0) on the CPU, once per
``--seeds`` (training seed), then measures on the held-out test digits, per direction:

- label preservation: a small CNN trained here on real training images of the target domain (seed 0, the same for
  every run) labels the translations; the fraction given the source digit's class (goal: >= 0.95 both ways).
  Beside it: the same classifier's accuracy on real test images of its domain, on the untranslated source images
  and on the ground-truth translations. (The project's ``DigitsClassifier`` of ``lit_gans.metrics``, trained on the
  same 719 images per domain, reaches only 0.84-0.94 on the real test images, below the goal it would judge: the
  script keeps its own, 0.98-0.99.)
- pixel error against the known ground truth (the test digit rendered in the target style), mean |.| in [-1, 1]
  units, beside the error of the untranslated source image;
- cycle reconstruction error, mean |G_BA(G_AB(a)) - a| and |G_AB(G_BA(b)) - b|;
- FID in the classifier's 64-d penultimate features between translations and real target-domain test images
  (goal: within 1.5x of the floor), beside the FID of the untranslated source images, of real training vs real test
  images of the target domain (the floor), and of the ground-truth translations (a perfect translator's score, with
  the translations' own sample size).

Writes experiments/results/cyclegan_digits.json (the mean over seeds of every number, the same key + ``_std``, the
per-seed runs with their training CPU seconds; rewritten after each seed, ``complete`` false until all are done),
and .png (translation triplets of test digits, first seed); prints a Markdown table.

    nice -n 10 python experiments/benchmarks/cyclegan_digits.py            # 3 seeds, ~2 CPU minutes of training each
    python experiments/benchmarks/cyclegan_digits.py --epochs 1 --seeds 0 --out /tmp/smoke.json   # smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import lightning as L
import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_gans.callbacks.translations import triplet_grid
from lit_gans.data.unpaired import DigitsStylesDataModule
from lit_gans.models.cyclegan import CycleGAN

RESULTS = Path(__file__).resolve().parents[1] / "results" / "cyclegan_digits.json"
SIZE = 16


class SmallCNN(nn.Module):
    """(N, 1, 16, 16) -> 10 logits; ``features`` is the 64-d penultimate layer used for FID."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (N, 32, 8, 8)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (N, 64, 4, 4)
            nn.Flatten(), nn.Linear(64 * 16, 64), nn.ReLU(),
        )
        self.head = nn.Linear(64, 10)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


def train_classifier(x: Tensor, y: Tensor, epochs: int = 30, seed: int = 0) -> SmallCNN:
    torch.manual_seed(seed)
    net = SmallCNN()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(64):
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


@torch.no_grad()
def accuracy(net: SmallCNN, x: Tensor, y: Tensor) -> float:
    return float((net(x).argmax(1) == y).float().mean())


@torch.no_grad()
def fid(net: SmallCNN, x: Tensor, y: Tensor) -> float:
    """Frechet distance between Gaussians fitted to the classifier features of two image sets."""
    f1, f2 = net.features(x).double().numpy(), net.features(y).double().numpy()
    mu1, mu2 = f1.mean(0), f2.mean(0)
    eps = 1e-6 * np.eye(f1.shape[1])  # dead ReLU units make the covariances singular
    s1, s2 = np.cov(f1, rowvar=False) + eps, np.cov(f2, rowvar=False) + eps
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2.0 * covmean))


def mae(x: Tensor, y: Tensor) -> float:
    return float((x - y).abs().mean())


class EpochReport(L.Callback):
    """One line per epoch, so that a long run shows progress."""

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: CycleGAN) -> None:
        m = trainer.callback_metrics
        print(f"epoch {trainer.current_epoch}: {int(pl_module.g_steps)} steps, cycle_a {float(m['train/cycle_a']):.3f}, "
              f"cycle_b {float(m['train/cycle_b']):.3f}", flush=True)


def train_cyclegan(dm: DigitsStylesDataModule, args: argparse.Namespace, seed: int) -> tuple[CycleGAN, float]:
    """Trains for ``--epochs`` (the last ``--epochs-decay`` with the linear learning-rate decay); returns the model
    and the CPU seconds of training (this process, one thread)."""
    L.seed_everything(seed, verbose=False)
    model = CycleGAN(
        data_shape=dm.data_shape, g_channels=args.g_channels, d_channels=args.d_channels,
        n_residual_blocks=args.n_residual_blocks, d_layers=args.d_layers, lambda_identity=args.lambda_identity,
        n_epochs=args.epochs - args.epochs_decay, n_epochs_decay=args.epochs_decay,
        g_optimizer=partial(torch.optim.Adam, lr=args.lr, betas=(0.5, 0.999)),
        d_optimizer=partial(torch.optim.Adam, lr=args.lr, betas=(0.5, 0.999)),
    )
    trainer = L.Trainer(
        max_epochs=args.epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu", devices=1, callbacks=[EpochReport()], limit_val_batches=0,
    )
    start = time.process_time()
    trainer.fit(model, dm)
    return model.eval(), time.process_time() - start


def judges(split: dict) -> dict[str, SmallCNN]:
    """Per domain, a classifier trained on that domain's real training images (seed 0, the same for every run)."""
    return {d: train_classifier(split[f"train_{d}"]["images"], split[f"train_{d}"]["labels"]) for d in ("a", "b")}


def evaluate(model: CycleGAN, split: dict, clf: dict[str, SmallCNN]) -> dict[str, float]:
    out: dict[str, float] = {}
    for src, dst, direction in (("a", "b", "AtoB"), ("b", "a", "BtoA")):
        test, other = split[f"test_{src}"], split[f"test_{dst}"]
        back = "BtoA" if direction == "AtoB" else "AtoB"
        fake = model.translate(test["images"], direction)
        rec = model.translate(fake, back)
        tag, judge = f"{src}{dst}", clf[dst]
        out |= {
            f"label_preservation_{tag}": accuracy(judge, fake, test["labels"]),
            f"classifier_accuracy_real_{dst}": accuracy(judge, other["images"], other["labels"]),
            f"label_accuracy_untranslated_{tag}": accuracy(judge, test["images"], test["labels"]),
            f"pixel_error_{tag}": mae(fake, test["other"]),
            f"pixel_error_untranslated_{tag}": mae(test["images"], test["other"]),
            f"cycle_error_{src}": mae(rec, test["images"]),
            f"fid_{tag}": fid(judge, fake, other["images"]),
            f"fid_untranslated_{tag}": fid(judge, test["images"], other["images"]),
            f"fid_real_train_vs_test_{dst}": fid(judge, split[f"train_{dst}"]["images"], other["images"]),
            # a perfect translator's output: the same test digits rendered in the target style (the same number of
            # images as the translations, so the same small-sample bias; independent of the model)
            f"label_accuracy_ground_truth_{tag}": accuracy(judge, test["other"], test["labels"]),
            f"fid_ground_truth_{tag}": fid(judge, test["other"], other["images"]),
        }
    return out


def markdown(r: dict) -> str:
    rows = [
        ("label preservation (translated)", "label_preservation_ab", "label_preservation_ba"),
        ("label accuracy, untranslated source", "label_accuracy_untranslated_ab", "label_accuracy_untranslated_ba"),
        ("classifier accuracy on real target images", "classifier_accuracy_real_b", "classifier_accuracy_real_a"),
        ("pixel error vs ground truth (translated)", "pixel_error_ab", "pixel_error_ba"),
        ("pixel error vs ground truth, untranslated", "pixel_error_untranslated_ab", "pixel_error_untranslated_ba"),
        ("cycle reconstruction error", "cycle_error_a", "cycle_error_b"),
        ("FID, translated vs real target", "fid_ab", "fid_ba"),
        ("FID, untranslated source vs real target", "fid_untranslated_ab", "fid_untranslated_ba"),
        ("FID, real train vs real test (floor)", "fid_real_train_vs_test_b", "fid_real_train_vs_test_a"),
        ("FID, ground-truth translations vs real target", "fid_ground_truth_ab", "fid_ground_truth_ba"),
        ("label accuracy, ground-truth translations", "label_accuracy_ground_truth_ab", "label_accuracy_ground_truth_ba"),
    ]
    n = len(r["runs"])
    lines = [f"| metric (test digits, mean ± std over {n} seeds) | A→B (thin→thick) | B→A (thick→thin) |", "|---|---|---|"]
    lines += [f"| {name} | {r[ab]:.3f} ± {r[ab + '_std']:.3f} | {r[ba]:.3f} ± {r[ba + '_std']:.3f} |"
              for name, ab, ba in rows]
    return "\n".join(lines)


def summary(runs: list[dict], args: argparse.Namespace) -> dict:
    """Mean and ``_std`` (over seeds) of every per-seed number, the runs themselves, the settings and the command."""
    result: dict = {}
    for key in (k for k in runs[0] if k != "seed"):
        values = [r[key] for r in runs]
        result[key] = statistics.fmean(values)
        result[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
    return result | {"complete": len(runs) == len(args.seeds), "runs": runs, "config": vars(args) | {"out": str(args.out)},
                     "command": "python experiments/benchmarks/cyclegan_digits.py " + " ".join(sys.argv[1:])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=30, help="training epochs in all (an epoch is 719 A images)")
    p.add_argument("--epochs-decay", type=int, default=15, help="final epochs of linear learning-rate decay")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate of both players (the paper's 2e-4)")
    p.add_argument("--lambda-identity", type=float, default=0.5, help="identity weight, times lambda_cycle (10)")
    p.add_argument("--g-channels", type=int, default=16)
    p.add_argument("--d-channels", type=int, default=16)
    p.add_argument("--n-residual-blocks", type=int, default=3)
    p.add_argument("--d-layers", type=int, default=1)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (the data split is seed 0)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    dm = DigitsStylesDataModule(image_size=SIZE, style="thick", batch_size=args.batch_size, seed=0)
    dm.setup()
    clf = judges(dm.split)
    runs = []
    for seed in args.seeds:
        model, cpu_s = train_cyclegan(dm, args, seed)
        runs.append(evaluate(model, dm.split, clf) | {"seed": seed, "train_cpu_s": round(cpu_s, 1),
                                                         "g_steps": int(model.g_steps)})
        print(json.dumps(runs[-1]), flush=True)
        if seed == args.seeds[0]:  # rows: a, G_AB(a), G_BA(G_AB(a)), b, G_BA(b), G_AB(G_BA(b)), first 10 test digits
            picture = triplet_grid(model, dm.split["test_a"]["images"][:10], dm.split["test_b"]["images"][:10])
            args.out.parent.mkdir(parents=True, exist_ok=True)
            picture.resize((picture.width * 3, picture.height * 3), resample=0).save(args.out.with_suffix(".png"))
        result = summary(runs, args)  # written after every seed: a run cut short keeps the seeds it finished
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))
    print(f"\n{result['g_steps']:.0f} generator steps in {result['train_cpu_s']:.0f} CPU s per seed; wrote {args.out}")


if __name__ == "__main__":
    main()
