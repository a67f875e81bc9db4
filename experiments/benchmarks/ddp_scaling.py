"""DDP scaling of DCGAN training: images per second with 1 and with 2 processes (more with --processes), the same
per-process batch size, so 2 processes train on a global batch twice as large.

Each measurement is a fresh ``lit_gans.models.DCGAN`` fit on the digits (upsampled to ``--image-size``) under
``Trainer(strategy="ddp", devices=P)`` (P = 1: a plain single-device run), launched in a child process; Lightning
starts the other P - 1 processes itself. The first ``--warmup`` batches are not timed; the next ``--steps`` batches
are, on rank 0, whose clock every rank follows (each step ends with an all-reduce). Throughput = steps x batch x P /
seconds. The runs alternate (1, 2, 1, 2, ...) so that a shared machine's noise hits both alike; the table reports
the median over ``--repeats``.

    python experiments/benchmarks/ddp_scaling.py                              # CPU, gloo
    python experiments/benchmarks/ddp_scaling.py --accelerator gpu --processes 1 2 4 8 --batch-size 128 --image-size 64

Prints a Markdown table and writes experiments/results/ddp_scaling.json (``throughput_1``, ``throughput_2``, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results" / "ddp_scaling.json"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    p.add_argument("--accelerator", default="cpu")
    p.add_argument("--batch-size", type=int, default=64, help="per process")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--channels", type=int, default=64, help="g_channels and d_channels of DCGAN")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads per process")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)  # one measurement; result file
    p.add_argument("--world", type=int, default=1, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def measure(args: argparse.Namespace) -> None:
    """Child mode: one fit with ``args.world`` processes; rank 0 writes {"seconds", "images"} to ``args.child``."""
    import lightning as L
    import torch

    from lit_gans.data.digits import DigitsDataModule
    from lit_gans.models import DCGAN

    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)

    class Clock(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
            if trainer.fit_loop.total_batch_idx == args.warmup:
                self.start = time.perf_counter()

        def on_train_end(self, trainer, pl_module) -> None:
            if trainer.global_rank == 0:
                seconds = time.perf_counter() - self.start
                images = args.steps * args.batch_size * trainer.world_size
                args.child.write_text(json.dumps({"seconds": seconds, "images": images}))

    L.seed_everything(0, verbose=False)
    data = DigitsDataModule(image_size=args.image_size, batch_size=args.batch_size)
    model = DCGAN(data_shape=data.data_shape, z_dim=100, g_channels=args.channels, d_channels=args.channels)
    trainer = L.Trainer(
        accelerator=args.accelerator, devices=args.world, strategy="ddp" if args.world > 1 else "auto",
        max_steps=2 * (args.warmup + args.steps),  # two optimizer steps per batch
        max_epochs=-1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0, callbacks=[Clock()],
    )
    trainer.fit(model, datamodule=data)


def run_child(args: argparse.Namespace, world: int) -> float:
    """Images per second of one fit with ``world`` processes."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(result), "--world", str(world),
               "--accelerator", args.accelerator, "--batch-size", str(args.batch_size),
               "--image-size", str(args.image_size), "--channels", str(args.channels),
               "--warmup", str(args.warmup), "--steps", str(args.steps), "--threads", str(args.threads)]
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONWARNINGS": "ignore"}
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        r = json.loads(result.read_text())
    return r["images"] / r["seconds"]


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.child is not None:
        return measure(args)
    runs: dict[int, list[float]] = {p: [] for p in args.processes}
    for repeat in range(args.repeats):
        for p in args.processes:  # alternating, so that the machine's noise falls on every process count alike
            runs[p].append(run_child(args, p))
            print(f"repeat {repeat + 1}: {p} process(es) {runs[p][-1]:.1f} images/s", flush=True)
    median = {p: statistics.median(v) for p, v in runs.items()}
    base = median[args.processes[0]]
    print(f"\n| processes | images/s (median of {args.repeats}) | speed-up | per-process efficiency |")
    print("|---|---|---|---|")
    for p in args.processes:
        print(f"| {p} | {median[p]:.1f} | {median[p] / base:.2f} | {median[p] / base / p * args.processes[0]:.2f} |")
    result = {f"throughput_{p}": median[p] for p in args.processes}
    result |= {"runs": {str(p): v for p, v in runs.items()}, "accelerator": args.accelerator,
               "batch_size_per_process": args.batch_size, "image_size": args.image_size,
               "channels": args.channels, "warmup_batches": args.warmup, "timed_batches": args.steps,
               "repeats": args.repeats, "torch_threads_per_process": args.threads, "cpu_count": os.cpu_count(),
               "platform": platform.platform(), "command": "python " + " ".join(sys.argv)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
