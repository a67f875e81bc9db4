"""Training-loop overhead of lit_gans: the same DCGAN, on the same batches, for the same number of steps, trained by
``lit_gans.models.DCGAN`` under the Lightning Trainer and by a plain PyTorch loop written out here.

Both runs start from the same initial weights and see the same pre-made batches (the digits at 32x32, batch 64);
the plain loop does exactly the work of the algorithm (D step with G frozen, G step with D frozen, the same losses,
the same Adam settings) and nothing else. Runs alternate (plain, lightning, plain, ...) so that a noisy, shared
machine slows both alike; the ratio is the median over repeats of lightning time / plain time.

    python experiments/benchmarks/overhead.py [--steps 40] [--repeats 3] [--image-size 32] [--batch-size 64]

Prints a Markdown table and writes experiments/results/overhead.json ({"ratio": ..., ...}).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import platform
import statistics
import time
import warnings
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from lit_gans.data.digits import load_digits_tensors
from lit_gans.losses import d_logistic_loss, g_nonsaturating_loss
from lit_gans.models import DCGAN

RESULTS = Path(__file__).resolve().parents[1] / "results" / "overhead.json"


class FixedBatches(Dataset):
    """A list of ready-made batches served one per index (the DataLoader adds no work)."""

    def __init__(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int):
        return self.batches[i]


def make_batches(steps: int, image_size: int, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    x, y = load_digits_tensors(image_size)
    g = torch.Generator().manual_seed(0)
    return [(x[idx], y[idx]) for idx in (torch.randint(len(x), (batch_size,), generator=g) for _ in range(steps))]


def plain_loop(model: DCGAN, batches, z_dim: int) -> float:
    """The textbook loop on the same networks; returns seconds."""
    G, D = model.generator, model.discriminator
    g_opt = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    start = time.perf_counter()
    for real, _ in batches:
        # 1. discriminator step, G frozen
        G.requires_grad_(False)
        fake = G(torch.randn(real.shape[0], z_dim))
        d_loss = d_logistic_loss(D(real).flatten(), D(fake).flatten())
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        G.requires_grad_(True)
        # 2. generator step, D frozen
        D.requires_grad_(False)
        g_loss = g_nonsaturating_loss(D(G(torch.randn(real.shape[0], z_dim))).flatten())
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        D.requires_grad_(True)
    return time.perf_counter() - start


def lightning_run(model: DCGAN, batches) -> float:
    """lit_gans' module under the Trainer on the same batches; returns the seconds of ``fit``'s training loop."""
    loader = DataLoader(FixedBatches(batches), batch_size=None, shuffle=False)
    trainer = L.Trainer(
        max_steps=2 * len(batches), accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
    )
    timer = _LoopTimer()
    trainer.callbacks.append(timer)
    trainer.fit(model, train_dataloaders=loader)
    return timer.seconds


class _LoopTimer(L.Callback):
    """From the first training batch to the end of the last one: the loop itself, not Trainer start-up."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == 0:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.seconds = time.perf_counter() - self.start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    batches = make_batches(args.steps, args.image_size, args.batch_size)
    torch.manual_seed(0)
    template = DCGAN(data_shape=(1, args.image_size, args.image_size), z_dim=100)
    plain_loop(copy.deepcopy(template), batches[:3], 100)  # warm-up: allocator, kernels
    plain, lightning = [], []
    for _ in range(args.repeats):
        plain.append(plain_loop(copy.deepcopy(template), batches, 100))
        lightning.append(lightning_run(copy.deepcopy(template), batches))
    ratios = [lt / pt for lt, pt in zip(lightning, plain)]
    result = {
        "ratio": statistics.median(ratios),
        "ratios": ratios,
        "plain_seconds": plain,
        "lightning_seconds": lightning,
        "steps": args.steps,
        "image_size": args.image_size,
        "batch_size": args.batch_size,
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "lightning": L.__version__,
        "machine": platform.machine(),
        "command": "python experiments/benchmarks/overhead.py "
        f"--steps {args.steps} --repeats {args.repeats} --image-size {args.image_size} --batch-size {args.batch_size}",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    ms = lambda s: f"{1000 * statistics.median(s) / args.steps:.1f}"  # noqa: E731
    print(f"| loop (DCGAN {args.image_size}x{args.image_size}, batch {args.batch_size}, {args.steps} steps, CPU) "
          "| ms / step (median) | ratio to plain |")
    print("|---|---|---|")
    print(f"| plain PyTorch | {ms(plain)} | 1.00 |")
    print(f"| lit_gans DCGAN + Lightning Trainer | {ms(lightning)} | {result['ratio']:.3f} |")


if __name__ == "__main__":
    main()
