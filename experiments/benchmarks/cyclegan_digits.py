"""CycleGAN on the embedded digit styles (thin <-> thick strokes): does the translation keep the digit and reach the
target style?

Trains :class:`lit_gans.models.CycleGAN` on :class:`lit_gans.data.DigitsStylesDataModule` (16x16, domain A the
digits, domain B their 3x3-dilated rendering, from disjoint halves of the digits) on the CPU, then measures on the
held-out test digits, per direction:

- label preservation: a small CNN trained here on real training images of the target domain labels the
  translations; the fraction given the source digit's class (the goal is >= 0.9 both ways). Beside it: the same
  classifier's accuracy on real test images of its domain (the ceiling) and on the untranslated source images;
- pixel error against the known ground truth (the test digit rendered in the target style), mean |.| in [-1, 1]
  units, beside the error of the untranslated source image;
- cycle reconstruction error, mean |G_BA(G_AB(a)) - a| and |G_AB(G_BA(b)) - b|;
- FID in the classifier's 64-d penultimate features between translations and real target-domain test images,
  beside the FID of the untranslated source images and of real training vs real test images of the target domain.

Writes experiments/results/cyclegan_digits.json (and .png, translation triplets of test digits) and prints a
Markdown table.

    nice -n 10 python experiments/benchmarks/cyclegan_digits.py            # ~6-10 minutes on a busy 2-core CPU
    python experiments/benchmarks/cyclegan_digits.py --epochs 1 --out /tmp/smoke.json   # smoke run
"""

from __future__ import annotations

import argparse
import json
import time
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


def train_cyclegan(dm: DigitsStylesDataModule, args: argparse.Namespace) -> tuple[CycleGAN, float]:
    L.seed_everything(args.seed)
    model = CycleGAN(
        data_shape=dm.data_shape, g_channels=args.g_channels, d_channels=args.d_channels,
        n_residual_blocks=args.n_residual_blocks, d_layers=args.d_layers,
        n_epochs=args.epochs - args.epochs_decay, n_epochs_decay=args.epochs_decay,
    )
    trainer = L.Trainer(
        max_epochs=args.epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu", devices=1, callbacks=[EpochReport()],
    )
    start = time.perf_counter()
    trainer.fit(model, dm)
    return model.eval(), time.perf_counter() - start


def evaluate(model: CycleGAN, dm: DigitsStylesDataModule) -> dict[str, float]:
    s = dm.split
    clf = {"a": train_classifier(s["train_a"]["images"], s["train_a"]["labels"]),
           "b": train_classifier(s["train_b"]["images"], s["train_b"]["labels"])}
    out: dict[str, float] = {}
    for src, dst, direction in (("a", "b", "AtoB"), ("b", "a", "BtoA")):
        test, other = s[f"test_{src}"], s[f"test_{dst}"]
        back = "BtoA" if direction == "AtoB" else "AtoB"
        fake = model.translate(test["images"], direction)
        rec = model.translate(fake, back)
        tag, net = f"{src}{dst}", clf[dst]
        out |= {
            f"label_preservation_{tag}": accuracy(net, fake, test["labels"]),
            f"classifier_accuracy_real_{dst}": accuracy(net, other["images"], other["labels"]),
            f"label_accuracy_untranslated_{tag}": accuracy(net, test["images"], test["labels"]),
            f"pixel_error_{tag}": mae(fake, test["other"]),
            f"pixel_error_untranslated_{tag}": mae(test["images"], test["other"]),
            f"cycle_error_{src}": mae(rec, test["images"]),
            f"fid_{tag}": fid(net, fake, other["images"]),
            f"fid_untranslated_{tag}": fid(net, test["images"], other["images"]),
            f"fid_real_train_vs_test_{dst}": fid(net, s[f"train_{dst}"]["images"], other["images"]),
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
    ]
    lines = ["| metric (test digits) | A→B (thin→thick) | B→A (thick→thin) |", "|---|---|---|"]
    lines += [f"| {name} | {r[ab]:.3f} | {r[ba]:.3f} |" for name, ab, ba in rows]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=8, help="training epochs in all (an epoch is 719 A images)")
    p.add_argument("--epochs-decay", type=int, default=4, help="final epochs of linear learning-rate decay")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--g-channels", type=int, default=16)
    p.add_argument("--d-channels", type=int, default=16)
    p.add_argument("--n-residual-blocks", type=int, default=3)
    p.add_argument("--d-layers", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    dm = DigitsStylesDataModule(image_size=16, style="thick", batch_size=args.batch_size, seed=args.seed)
    dm.setup()
    model, seconds = train_cyclegan(dm, args)
    result = evaluate(model, dm)
    result |= {"train_seconds": round(seconds, 1), "g_steps": int(model.g_steps), "config": vars(args) | {"out": str(args.out)}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    # rows: a, G_AB(a), G_BA(G_AB(a)), b, G_BA(b), G_AB(G_BA(b)) for the first 10 test digits of each domain
    picture = triplet_grid(model, dm.split["test_a"]["images"][:10], dm.split["test_b"]["images"][:10])
    picture.resize((picture.width * 3, picture.height * 3), resample=0).save(args.out.with_suffix(".png"))
    print(markdown(result))
    print(f"\n{result['g_steps']} generator steps in {seconds:.0f} s; wrote {args.out}")


if __name__ == "__main__":
    main()
