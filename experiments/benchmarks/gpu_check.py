"""Throughput of lit_gans on an accelerator: DCGAN and StyleGAN2 trained by the Lightning Trainer against a plain
PyTorch loop on the same networks and the same batches, in images per second, with the synchronising calls counted.

    python experiments/benchmarks/gpu_check.py                      # a CUDA machine: 64x64, batch 32, 300 steps
    python experiments/benchmarks/gpu_check.py --device cpu --image-size 16 --batch-size 4 --steps 4 --warmup 1 \\
        --dcgan-config experiments/dcgan/digits.yaml --stylegan2-config experiments/stylegan2/digits.yaml

The models are built from the shipped configs' ``model`` sections (``experiments/dcgan/celeba64.yaml``, the
``experiments/stylegan2/cifar10.yaml`` preset at 64x64 by default) with ``data_shape`` set to the image size, as
LightningCLI builds them. The plain loops use only ``model.generator``, ``model.discriminator`` and the losses of
``lit_gans.losses``: DCGAN's is ``overhead.plain_loop``; StyleGAN2's (below) runs the main D and G steps every batch,
the lazy R1 penalty every ``r1_interval`` batches, the config's DiffAugment policy and an EMA generator; configs with
path length regularisation or style mixing are refused (that plain loop does not do them).

The batches are random images made once on the device, so no data loading is measured. After ``--warmup`` batches
(kernel selection, allocator) both sides are timed to the end with one ``synchronize`` before and after. On CUDA a
second, shorter run of each side (``--sync-steps`` batches after the warm-up) under
``torch.cuda.set_sync_debug_mode("warn")``, switched on after the warm-up only, counts the calls that wait for the
device (one warning each).

Prints a Markdown table and writes experiments/results/gpu_check.json (``--out``).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import platform
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import lightning as L
import torch
import yaml
from cli_fit import ROOT, build_model
from overhead import FixedBatches, plain_loop
from torch.utils.data import DataLoader

from lit_gans.augment import diff_augment
from lit_gans.losses import d_logistic_loss, g_nonsaturating_loss, r1_penalty
from lit_gans.models import GANModule

RESULTS = ROOT / "experiments" / "results" / "gpu_check.json"
SYNC_WARNING = "called a synchronizing CUDA operation"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_batches(n: int, shape: tuple[int, ...], batch_size: int, device: torch.device) -> list:
    g = torch.Generator().manual_seed(0)
    return [((torch.rand(batch_size, *shape, generator=g) * 2 - 1).to(device),
             torch.zeros(batch_size, dtype=torch.long, device=device)) for _ in range(n)]


def model_from_config(config: str, image_shape: tuple[int, ...]) -> GANModule:
    section = yaml.safe_load((ROOT / config).read_text())["model"]
    torch.manual_seed(0)
    return build_model(section["class_path"], section["init_args"], data_shape=list(image_shape))


# --- the plain loops -------------------------------------------------------------------------------------------------
def plain_stylegan2(model: GANModule, batches) -> None:
    """StyleGAN2's algorithm written out on the model's networks: D main step, lazy R1 every r1_interval batches,
    G main step, EMA generator. Optimizer settings do not change the cost; Adam with the paper's betas."""
    hp = model.hparams
    if hp.pl_weight or hp.style_mixing_prob:
        raise ValueError("the plain StyleGAN2 loop has no path length regularisation or style mixing: "
                         "use a config with pl_weight: 0 and style_mixing_prob: 0")
    G, D, policy = model.generator, model.discriminator, model.augment_policy
    G_ema = copy.deepcopy(G).requires_grad_(False)
    g_opt = torch.optim.Adam(G.parameters(), lr=0.0025, betas=(0.0, 0.99), eps=1e-8)
    d_opt = torch.optim.Adam(D.parameters(), lr=0.0025, betas=(0.0, 0.99), eps=1e-8)
    disc = lambda x: D(diff_augment(x, policy)).flatten()  # noqa: E731  D(T(x))
    z = lambda n: torch.randn(n, hp.z_dim, device=batches[0][0].device)  # noqa: E731
    for step, (real, _) in enumerate(batches, start=1):
        G.requires_grad_(False)  # 1. D main step
        d_loss = d_logistic_loss(disc(real), disc(G(z(real.shape[0]))))
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        if hp.r1_gamma and step % hp.r1_interval == 0:  # 2. lazy R1
            x = real.detach().requires_grad_(True)
            r1 = r1_penalty(disc(x), x) * (hp.r1_gamma / 2) * hp.r1_interval
            d_opt.zero_grad(set_to_none=True)
            r1.backward()
            d_opt.step()
        G.requires_grad_(True)
        D.requires_grad_(False)  # 3. G main step
        g_loss = g_nonsaturating_loss(disc(G(z(real.shape[0]))))
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        D.requires_grad_(True)
        with torch.no_grad():  # 4. EMA generator
            torch._foreach_lerp_(list(G_ema.parameters()), list(G.parameters()), 0.001)


def sync_debug(on: bool, device: torch.device) -> None:
    """Warn on every synchronising CUDA call (``on``) or stop warning; nothing off CUDA."""
    if device.type == "cuda":
        torch.cuda.set_sync_debug_mode("warn" if on else "default")


def run_plain(name: str, model: GANModule, batches, warmup: int, count: bool = False) -> float:
    """Seconds of the batches after ``warmup``; with ``count``, their synchronising calls warn."""
    loop = plain_stylegan2 if name == "stylegan2" else lambda m, b: plain_loop(m, b, m.hparams.z_dim)
    device = batches[0][0].device
    loop(model, batches[:warmup])
    synchronize(device)
    start = time.perf_counter()
    sync_debug(count, device)
    loop(model, batches[warmup:])
    sync_debug(False, device)
    synchronize(device)
    return time.perf_counter() - start


# --- the Lightning side ------------------------------------------------------------------------------------------------
class WarmTimer(L.Callback):
    """From the start of batch ``warmup`` to the end of training, one device synchronisation at each end; with
    ``count``, the synchronising calls in between warn."""

    def __init__(self, warmup: int, count: bool = False) -> None:
        self.warmup, self.count, self.start, self.seconds = warmup, count, None, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.warmup:
            synchronize(pl_module.device)
            self.start = time.perf_counter()
            sync_debug(self.count, pl_module.device)

    def on_train_end(self, trainer, pl_module):
        sync_debug(False, pl_module.device)
        synchronize(pl_module.device)
        self.seconds = time.perf_counter() - self.start


def run_lightning(model: GANModule, batches, warmup: int, device: torch.device, count: bool = False) -> float:
    """Seconds of the batches after ``warmup``: one epoch over the batches under the Trainer."""
    timer = WarmTimer(warmup, count)
    trainer = L.Trainer(max_epochs=1, accelerator=device.type, devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        limit_val_batches=0, callbacks=[timer])
    trainer.fit(model, train_dataloaders=DataLoader(FixedBatches(batches), batch_size=None, shuffle=False))
    return timer.seconds


@contextmanager
def count_syncs(device: torch.device):
    """Counts the sync-debug warnings raised in the block (``None`` off CUDA): a list holding the count afterwards."""
    counted: list = [None]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield counted
        finally:
            sync_debug(False, device)
    if device.type == "cuda":
        counted[0] = sum(SYNC_WARNING in str(w.message) for w in caught)


def measure(name: str, config: str, args, device: torch.device) -> dict:
    shape = (args.channels, args.image_size, args.image_size)
    batches = make_batches(args.warmup + args.steps, shape, args.batch_size, device)
    template = model_from_config(config, shape)
    timed = args.steps * args.batch_size
    plain_s = run_plain(name, copy.deepcopy(template).to(device), batches, args.warmup)
    lit_s = run_lightning(copy.deepcopy(template), batches, args.warmup, device)
    sync_batches = batches[: args.warmup + args.sync_steps]
    with count_syncs(device) as plain_syncs:
        run_plain(name, copy.deepcopy(template).to(device), sync_batches, args.warmup, count=True)
    with count_syncs(device) as lit_syncs:
        run_lightning(copy.deepcopy(template), sync_batches, args.warmup, device, count=True)
    per_step = lambda c: None if c[0] is None else c[0] / args.sync_steps  # noqa: E731
    return {"config": config, "plain_images_per_s": timed / plain_s, "lit_gans_images_per_s": timed / lit_s,
            "ratio": lit_s / plain_s, "plain_seconds": plain_s, "lit_gans_seconds": lit_s,
            "plain_syncs_per_step": per_step(plain_syncs), "lit_gans_syncs_per_step": per_step(lit_syncs)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=300, help="timed batches (one D and one G update each)")
    p.add_argument("--warmup", type=int, default=20, help="batches run before the clock starts")
    p.add_argument("--sync-steps", type=int, default=50, help="batches of the sync-counting run (CUDA only)")
    p.add_argument("--dcgan-config", default="experiments/dcgan/celeba64.yaml")
    p.add_argument("--stylegan2-config", default="experiments/stylegan2/cifar10.yaml")
    p.add_argument("--models", nargs="+", choices=("dcgan", "stylegan2"), default=["dcgan", "stylegan2"])
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.warmup < 1 or args.steps < 1 or args.sync_steps < 1:
        p.error("--warmup, --steps and --sync-steps must be >= 1")
    device = torch.device(args.device)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    configs = {"dcgan": args.dcgan_config, "stylegan2": args.stylegan2_config}
    results = {name: measure(name, configs[name], args, device) for name in args.models}
    report = {"models": results, "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "image_size": args.image_size, "batch_size": args.batch_size, "steps": args.steps,
              "warmup": args.warmup, "sync_steps": args.sync_steps, "torch_threads": torch.get_num_threads(),
              "torch": torch.__version__, "lightning": L.__version__, "machine": platform.machine(),
              "command": "python experiments/benchmarks/gpu_check.py " + " ".join(
                  f"--{k.replace('_', '-')} {' '.join(v) if isinstance(v, list) else v}"
                  for k, v in vars(args).items() if k != "out" and v is not None)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"| model ({report['device']}, {args.image_size}x{args.image_size}, batch {args.batch_size}) | plain images/s "
          "| lit_gans images/s | time ratio | syncs / step plain | syncs / step lit_gans |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['plain_images_per_s']:.1f} | {r['lit_gans_images_per_s']:.1f} | {r['ratio']:.3f} | "
              f"{r['plain_syncs_per_step']} | {r['lit_gans_syncs_per_step']} |")


if __name__ == "__main__":
    main()
