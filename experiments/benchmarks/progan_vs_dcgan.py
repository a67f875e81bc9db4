"""ProGAN vs DCGAN on digits at 16x16 for the same wall-clock budget on this machine's CPU.

Both models train from their shipped configs (experiments/progan/digits.yaml, experiments/dcgan/digits.yaml) through
the ``lit-gans fit`` entry point with ``trainer.max_time`` set to the budget; ProGAN's schedule is shortened with
``--phase-kimg`` so that it reaches 16x16 within the budget. Each is then scored by a Frechet distance on the
features of a small digits classifier (a 2-conv CNN trained here on the training digits in a few seconds, with its
test accuracy reported) between 1,000 samples and the held-out real digits; the same distance between real training
and held-out digits is the floor. Prints a Markdown table, writes experiments/results/progan_vs_dcgan.json.

    python experiments/benchmarks/progan_vs_dcgan.py --budget 300
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy import linalg
from torch import nn

from lit_gans.checkpoints import load_model
from lit_gans.cli import main as cli_main
from lit_gans.data.digits import DigitsDataModule

ROOT = Path(__file__).resolve().parents[2]


def digits_split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The configs' split: 16x16 training and held-out digits with labels."""
    dm = DigitsDataModule(image_size=16)
    dm.setup("fit")
    return (*dm.train_set.tensors, *dm.val_set.tensors)


def train_feature_net(x: torch.Tensor, y: torch.Tensor, epochs: int = 15) -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1),
                        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 16, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for _ in range(epochs):
        for idx in torch.randperm(len(x)).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
            opt.step()
    return net.eval()


@torch.no_grad()
def features(net: nn.Sequential, x: torch.Tensor) -> np.ndarray:
    return net[:-1](x.clamp(-1, 1)).double().numpy()  # the 128-d penultimate layer


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))."""
    mu_a, mu_b, s_a, s_b = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s_a @ s_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * covmean))


def train(config: str, budget_s: int, root: Path, extra: list[str]) -> tuple[Path, float]:
    t0 = time.perf_counter()
    hh, rem = divmod(budget_s, 3600)
    cli_main(["fit", "-c", str(ROOT / config), "--trainer.max_time", f"00:{hh:02d}:{rem // 60:02d}:{rem % 60:02d}",
              "--trainer.max_steps", "-1", "--trainer.max_epochs", "100000", "--trainer.default_root_dir", str(root),
              "--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--samples.every_n_steps", "0",
              "--checkpoint.every_n_train_steps", "20", *extra])  # max_time stops mid-epoch: keep a recent last.ckpt
    return next(root.rglob("last.ckpt")), time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=300, help="training seconds per model")
    parser.add_argument("--phase-kimg", type=float, default=0.5, help="ProGAN's fade and stable kimg per phase")
    parser.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    x_train, y_train, x_val, y_val = digits_split()
    net = train_feature_net(x_train, y_train)
    accuracy = float((net(x_val).argmax(1) == y_val).float().mean())
    real_val = features(net, x_val)
    rows = {"fid_floor_real": frechet(features(net, x_train), real_val)}
    runs = {
        "progan": ("experiments/progan/digits.yaml",
                   ["--model.init_args.fade_kimg", str(args.phase_kimg), "--model.init_args.stable_kimg", str(args.phase_kimg)]),
        "dcgan": ("experiments/dcgan/digits.yaml", []),
    }
    details = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (config, extra) in runs.items():
            ckpt, seconds = train(config, args.budget, Path(tmp) / name, extra)
            model = load_model(ckpt)
            rows[f"fid_{name}"] = frechet(features(net, model.sample(args.samples, seed=0)), real_val)
            details[name] = {"config": config, "train_seconds": seconds, "g_steps": int(model.g_steps),
                             **({"phase": list(model.phase[:2]), "kimg": int(model.images_shown) / 1000}
                                if name == "progan" else {})}
    result = {**rows, "budget_s": args.budget, "feature_net_accuracy": accuracy, "samples": args.samples,
              "phase_kimg": args.phase_kimg, "runs": details}
    print("| model | FID (digits features) | G steps | notes |\n|---|---|---|---|")
    for name in ("progan", "dcgan"):
        note = f"ended at {details[name].get('phase')}" if name == "progan" else ""
        print(f"| {name} | {rows[f'fid_{name}']:.2f} | {details[name]['g_steps']} | {note} |")
    print(f"| real train vs held-out | {rows['fid_floor_real']:.2f} | | feature net accuracy {accuracy:.3f} |")
    out = ROOT / "experiments/results/progan_vs_dcgan.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
