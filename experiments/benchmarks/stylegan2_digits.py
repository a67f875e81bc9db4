"""StyleGAN2 on digits: against DCGAN at an equal CPU budget, and the limited-data experiments (DiffAugment, transfer).

Every run trains for the same CPU time (``--budget`` seconds of this process's CPU time, one thread: on a shared
machine wall-clock time measures the neighbours, CPU time measures the run) and is scored by a digits-feature FID:
the Frechet distance between the penultimate-layer features of a small CNN classifier (trained here on all 1,797
digits, seeded) of ``--n-fake`` samples and of all real digits, at 16x16.

Runs (keys of experiments/results/stylegan2_digits.json):
- fid_stylegan2 / fid_dcgan: all digits, the experiments/{stylegan2,dcgan}/digits.yaml models, same budget;
- fid_10pct_plain / fid_10pct_diffaug: a seeded 10% of the digits (180 images), StyleGAN2 without / with DiffAugment
  (color, translation, cutout);
- fid_10pct_scratch / fid_10pct_transfer: the same 10%, DiffAugment on, from scratch (the run above) versus initialised
  (``init_from``) from a StyleGAN2 trained for the same budget on the other 90%.

    PYTHONPATH=$PWD python experiments/benchmarks/stylegan2_digits.py --budget 60
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg
from torch import nn
from torch.utils.data import TensorDataset

from lit_gans.data.base import GANDataModule
from lit_gans.data.digits import load_digits_tensors
from lit_gans.models import DCGAN, StyleGAN2

ADAM_SG2 = dict(lr=0.0025, betas=(0.0, 0.99), eps=1e-8)
ADAM_DCGAN = dict(lr=0.0002, betas=(0.5, 0.999))


class TensorImages(GANDataModule):
    """A fixed set of (N, 1, 16, 16) digit images as a DataModule."""

    def __init__(self, x: torch.Tensor, batch_size: int = 32) -> None:
        super().__init__(batch_size=batch_size)
        self.x = x

    @property
    def data_shape(self):
        return tuple(self.x.shape[1:])

    def setup(self, stage=None):
        self.train_set = TensorDataset(self.x, torch.zeros(len(self.x), dtype=torch.long))


class CPUBudget(L.Callback):
    """Stops training once this process has used ``seconds`` of CPU time."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.start = seconds, None

    def on_train_start(self, trainer, pl_module):
        self.start = time.process_time()

    def on_train_batch_end(self, trainer, pl_module, *args):
        if time.process_time() - self.start > self.seconds:
            trainer.should_stop = True


def train(model, x, budget: float, seed: int) -> dict:
    L.seed_everything(seed, verbose=False)
    trainer = L.Trainer(max_epochs=100_000, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", limit_val_batches=0,
                        callbacks=[CPUBudget(budget)])
    trainer.fit(model, TensorImages(x))
    return {"batches": int(model.d_steps), "epochs": trainer.current_epoch}


def stylegan2(**kw) -> StyleGAN2:
    """The experiments/stylegan2/digits.yaml model."""
    args = dict(data_shape=(1, 16, 16), z_dim=64, w_dim=64, mapping_layers=2, channel_base=256, channel_max=32,
                r1_gamma=0.1, ema_kimg=2.0, ema_rampup=0.05, g_optimizer=lambda p: torch.optim.Adam(p, **ADAM_SG2),
                d_optimizer=lambda p: torch.optim.Adam(p, **ADAM_SG2))
    return StyleGAN2(**{**args, **kw})


def dcgan() -> DCGAN:
    """The experiments/dcgan/digits.yaml model."""
    return DCGAN(data_shape=(1, 16, 16), z_dim=64, g_channels=64, d_channels=32,
                 g_optimizer=lambda p: torch.optim.Adam(p, **ADAM_DCGAN),
                 d_optimizer=lambda p: torch.optim.Adam(p, **ADAM_DCGAN))


# --- digits-feature FID -----------------------------------------------------------------------------------------------
class DigitFeatures(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Flatten(), nn.Linear(64 * 16, 64), nn.ReLU())
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.body(x))


def train_classifier(x, y, seed=0, steps=600) -> DigitFeatures:
    torch.manual_seed(seed)
    net, g = DigitFeatures(), torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=g)
        loss = F.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


@torch.no_grad()
def fid(net: DigitFeatures, real: torch.Tensor, fake: torch.Tensor) -> float:
    a, b = net.body(real).double().numpy(), net.body(fake.clamp(-1, 1)).double().numpy()
    mu_a, mu_b, cov_a, cov_b = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0, help="CPU seconds of training per run")
    parser.add_argument("--n-fake", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="experiments/results/stylegan2_digits.json")
    args = parser.parse_args()
    torch.set_num_threads(1)

    x, y = load_digits_tensors(16)
    net = train_classifier(x, y, args.seed)
    accuracy = float((net(x).argmax(1) == y).float().mean())
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(args.seed))
    small, rest = x[perm[: len(x) // 10]], x[perm[len(x) // 10:]]

    score = lambda m: fid(net, x, m.sample(args.n_fake, seed=args.seed))
    results, runs = {}, {}
    for key, make, data, kw in [
        ("fid_stylegan2", lambda: stylegan2(augment=None), x, {}),
        ("fid_dcgan", dcgan, x, {}),
        ("fid_10pct_plain", lambda: stylegan2(augment=None), small, {}),
        ("fid_10pct_diffaug", lambda: stylegan2(augment="color,translation,cutout"), small, {}),
    ]:
        L.seed_everything(args.seed, verbose=False)  # the same initial weights whatever ran before
        model = make()
        runs[key] = train(model, data, args.budget, args.seed)
        results[key] = score(model)
        print(f"{key}: {results[key]:.2f} {runs[key]}", flush=True)

    L.seed_everything(args.seed, verbose=False)
    source = stylegan2(augment="color,translation,cutout")
    runs["source_90pct"] = train(source, rest, args.budget, args.seed)
    ckpt = Path("runs/benchmarks/stylegan2_digits_source.ckpt")
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": source.state_dict(), "lit_gans_model": "StyleGAN2"}, ckpt)
    results["fid_90pct_source"] = score(source)
    L.seed_everything(args.seed, verbose=False)
    target = stylegan2(augment="color,translation,cutout", init_from=str(ckpt))
    runs["fid_10pct_transfer"] = train(target, small, args.budget, args.seed)
    results["fid_10pct_scratch"] = results["fid_10pct_diffaug"]  # the same run: 10%, DiffAugment, from scratch
    results["fid_10pct_transfer"] = score(target)
    results["fid_real_10pct_vs_all"] = fid(net, x, small)  # the floor: the 10% set itself against all digits

    report = {**results, "budget_cpu_s": args.budget, "n_fake": args.n_fake, "seed": args.seed,
              "classifier_train_accuracy": accuracy, "runs": runs}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"\n| run | digits-feature FID (lower is better) |\n|---|---|")
    for k, v in results.items():
        print(f"| {k} | {v:.2f} |")
    print(f"\nbudget {args.budget:.0f} CPU s per run, {args.n_fake} samples, classifier accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
