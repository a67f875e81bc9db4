"""Training-loop overhead of lit_gans: the same DCGAN, on the same batches, for the same number of steps, trained by
``lit_gans.models.DCGAN`` under the Lightning Trainer and by a plain PyTorch loop written out here.

Both runs start from the same initial weights and see the same pre-made batches (the digits at 32x32, batch 64);
the plain loop does exactly the work of the algorithm (D step with G frozen, G step with D frozen, the same losses,
the same Adam settings) and nothing else. Runs alternate in ABBA order (plain, lightning, lightning, plain, ...)
so that a noisy, shared machine, and whatever the run before leaves behind (caches, allocator, garbage), weigh on
both alike; the ratio is the median over repeats of lightning time / plain time. Both the wall time and the
process CPU time of each loop are recorded: on a machine shared with other jobs the CPU time is the steadier one.

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


def plain_loop(model: DCGAN, batches, z_dim: int) -> tuple[float, float]:
    """The textbook loop on the same networks; returns (wall seconds, CPU seconds)."""
    G, D = model.generator, model.discriminator
    g_opt = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    start, cpu = time.perf_counter(), time.process_time()
    for real, _ in batches:
        # 1. discriminator step, G frozen
        G.requires_grad_(False)
        fake = G(torch.randn(real.shape[0], z_dim, device=real.device))
        d_loss = d_logistic_loss(D(real).flatten(), D(fake).flatten())
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        G.requires_grad_(True)
        # 2. generator step, D frozen
        D.requires_grad_(False)
        g_loss = g_nonsaturating_loss(D(G(torch.randn(real.shape[0], z_dim, device=real.device))).flatten())
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        D.requires_grad_(True)
    return time.perf_counter() - start, time.process_time() - cpu


class PlainInLightning(L.LightningModule):
    """The plain loop's step as a manual-optimisation LightningModule (``manual_backward``, Lightning's optimizer
    wrappers, its hooks, no logging): what the Lightning Trainer alone costs, the floor under any module of it."""

    def __init__(self, model: DCGAN, z_dim: int) -> None:
        super().__init__()
        self.G, self.D, self.z_dim = model.generator, model.discriminator, z_dim
        self.automatic_optimization = False

    def configure_optimizers(self):
        return [torch.optim.Adam(net.parameters(), lr=2e-4, betas=(0.5, 0.999)) for net in (self.G, self.D)]

    def training_step(self, batch, batch_idx: int) -> None:
        real, (g_opt, d_opt) = batch[0], self.optimizers()
        self.G.requires_grad_(False)
        fake = self.G(torch.randn(real.shape[0], self.z_dim, device=real.device))
        d_opt.zero_grad(set_to_none=True)
        self.manual_backward(d_logistic_loss(self.D(real).flatten(), self.D(fake).flatten()))
        d_opt.step()
        self.G.requires_grad_(True)
        self.D.requires_grad_(False)
        g_opt.zero_grad(set_to_none=True)
        self.manual_backward(g_nonsaturating_loss(self.D(self.G(torch.randn(real.shape[0], self.z_dim))).flatten()))
        g_opt.step()
        self.D.requires_grad_(True)


def lightning_run(model: DCGAN, batches) -> tuple[float, float]:
    """lit_gans' module under the Trainer on the same batches; returns (wall, CPU) seconds of ``fit``'s training loop."""
    loader = DataLoader(FixedBatches(batches), batch_size=None, shuffle=False)
    trainer = L.Trainer(
        max_steps=2 * len(batches), accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
    )
    timer = _LoopTimer()
    trainer.callbacks.append(timer)
    trainer.fit(model, train_dataloaders=loader)
    return timer.seconds, timer.cpu_seconds


class _LoopTimer(L.Callback):
    """From the first training batch to the end of the last one: the loop itself, not Trainer start-up."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == 0:
            self.start, self.cpu = time.perf_counter(), time.process_time()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.seconds, self.cpu_seconds = time.perf_counter() - self.start, time.process_time() - self.cpu


def compare(template: DCGAN, batches, z_dim: int, repeats: int, floor: bool = False) -> tuple[list, ...]:
    """(plain runs, lightning runs[, floor runs]) of (wall, CPU) seconds, after a warm-up of each, in ABBA order
    (the floor, :class:`PlainInLightning`, between the two)."""
    runs = {"plain": lambda b: plain_loop(copy.deepcopy(template), b, z_dim),
            "lightning": lambda b: lightning_run(copy.deepcopy(template), b)}
    if floor:
        runs = {"plain": runs["plain"], "floor": lambda b: lightning_run(PlainInLightning(copy.deepcopy(template), z_dim), b),
                "lightning": runs["lightning"]}
    for fn in runs.values():
        fn(batches[:3])  # warm-up: allocator, kernels, the Trainer path
    out: dict[str, list] = {name: [] for name in runs}
    for i in range(repeats):
        for name in list(runs) if i % 2 == 0 else list(runs)[::-1]:  # ABBA: none always goes first
            out[name].append(runs[name](batches))
    return tuple(out.values())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--tiny-steps", type=int, default=300, help="steps of the fixed-cost run on tiny nets")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    batches = make_batches(args.steps, args.image_size, args.batch_size)
    torch.manual_seed(0)
    template = DCGAN(data_shape=(1, args.image_size, args.image_size), z_dim=100)
    plain, lightning = compare(template, batches, 100, args.repeats)
    # The fixed cost per step, apart from the networks' compute: the same comparison on nets so small (4 channels,
    # 8x8, batch 4) that the compute nearly vanishes, many steps; extra CPU ms per step of the Lightning loop.
    torch.manual_seed(0)
    tiny = DCGAN(data_shape=(1, 8, 8), z_dim=4, g_channels=4, d_channels=4)
    tiny_plain, tiny_floor, tiny_lightning = compare(tiny, make_batches(args.tiny_steps, 8, 4), 4, args.repeats, floor=True)
    extra_ms = lambda runs: statistics.median(  # noqa: E731
        (r[1] - pt[1]) * 1000 / args.tiny_steps for r, pt in zip(runs, tiny_plain))
    fixed_ms, floor_ms = extra_ms(tiny_lightning), extra_ms(tiny_floor)
    ratios = [lt[0] / pt[0] for lt, pt in zip(lightning, plain)]
    cpu_ratios = [lt[1] / pt[1] for lt, pt in zip(lightning, plain)]
    plain_ms = 1000 * statistics.median(c for _, c in plain) / args.steps
    result = {
        "ratio": statistics.median(ratios),
        "ratios": ratios,
        "cpu_ratio": statistics.median(cpu_ratios),
        "cpu_ratios": cpu_ratios,
        "plain_seconds": [w for w, _ in plain],
        "lightning_seconds": [w for w, _ in lightning],
        "plain_cpu_seconds": [c for _, c in plain],
        "lightning_cpu_seconds": [c for _, c in lightning],
        "fixed_overhead_ms_per_step": fixed_ms,
        # the same step written as a bare manual-optimisation LightningModule: what the Trainer alone adds
        "lightning_floor_ms_per_step": floor_ms,
        "tiny_cpu_seconds": {"plain": [c for _, c in tiny_plain], "floor": [c for _, c in tiny_floor],
                             "lit_gans": [c for _, c in tiny_lightning]},
        "estimated_ratio": 1 + fixed_ms / plain_ms,
        "tiny_steps": args.tiny_steps,
        "steps": args.steps,
        "image_size": args.image_size,
        "batch_size": args.batch_size,
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "lightning": L.__version__,
        "machine": platform.machine(),
        "command": "python experiments/benchmarks/overhead.py "
        f"--steps {args.steps} --repeats {args.repeats} --image-size {args.image_size} --batch-size {args.batch_size}"
        + f" --tiny-steps {args.tiny_steps}" + (f" --threads {args.threads}" if args.threads else ""),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    ms = lambda runs, k: f"{1000 * statistics.median(r[k] for r in runs) / args.steps:.1f}"  # noqa: E731
    print(f"| loop (DCGAN {args.image_size}x{args.image_size}, batch {args.batch_size}, {args.steps} steps, CPU) "
          "| wall ms / step (median) | wall ratio | CPU ms / step (median) | CPU ratio |")
    print("|---|---|---|---|---|")
    print(f"| plain PyTorch | {ms(plain, 0)} | 1.00 | {ms(plain, 1)} | 1.00 |")
    print(f"| lit_gans DCGAN + Lightning Trainer | {ms(lightning, 0)} | {result['ratio']:.3f} | {ms(lightning, 1)} | "
          f"{result['cpu_ratio']:.3f} |")
    print(f"\nFixed cost of the Lightning loop (tiny nets, {args.tiny_steps} steps): {fixed_ms:.2f} CPU ms per step more "
          f"than the plain loop; added to the plain loop's {plain_ms:.0f} ms per step above: ratio "
          f"{result['estimated_ratio']:.3f}. The same step as a bare manual-optimisation LightningModule (the Trainer's "
          f"own cost): {floor_ms:.2f} CPU ms per step more than the plain loop.")


if __name__ == "__main__":
    main()
