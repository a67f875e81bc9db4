"""The README's first command, measured: `lit-gans fit -c experiments/dcgan/digits.yaml` on this machine's CPU.

Runs the fit as a subprocess (as a user would), times it, then scores 1,000 samples of the final checkpoint with a
logistic-regression digit classifier trained on the real 8x8 digits (samples are downsampled to 8x8): the class
histogram shows whether every digit class is drawn, and the mean top-class probability how digit-like they are
(real held-out digits score about 0.9 with this classifier; see the JSON).

    python experiments/benchmarks/quickstart.py [--config experiments/dcgan/digits.yaml]

Prints a Markdown table and writes experiments/results/quickstart.json.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression

from cli_fit import ROOT, fit_config

from lit_gans.data.digits import load_digits_tensors


def digit_scores(images: torch.Tensor, clf: LogisticRegression) -> tuple[list[int], float]:
    small = F.interpolate(images, size=(8, 8), mode="bilinear", antialias=True) if images.shape[-1] != 8 else images
    probs = torch.as_tensor(clf.predict_proba(small.flatten(1).clamp(-1, 1).numpy()))
    return torch.bincount(probs.argmax(1), minlength=10).tolist(), float(probs.max(1).values.mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="experiments/dcgan/digits.yaml")
    p.add_argument("--out", type=Path, default=ROOT / "experiments" / "results" / "quickstart.json")
    args = p.parse_args()

    x, y = load_digits_tensors(8)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, held = perm[:1500], perm[1500:]
    clf = LogisticRegression(max_iter=3000).fit(x[train].flatten(1).numpy(), y[train].numpy())
    _, real_conf = digit_scores(x[held], clf)

    model, seconds = fit_config(args.config)
    untrained = type(model)(**{k: v for k, v in model.hparams.items() if not k.startswith("_")})
    hist, conf = digit_scores(model.sample(1000, seed=0), clf)
    hist0, conf0 = digit_scores(untrained.sample(1000, seed=0), clf)
    result = {
        "config": args.config, "fit_seconds": seconds, "cpu_cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "class_histogram": hist, "classes_drawn": sum(h > 0 for h in hist), "mean_confidence": conf,
        "untrained_class_histogram": hist0, "untrained_mean_confidence": conf0, "real_heldout_mean_confidence": real_conf,
        "command": f"python experiments/benchmarks/quickstart.py --config {args.config}",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"| `lit-gans fit -c {args.config}` | value |")
    print("|---|---|")
    print(f"| wall time (whole command, {os.cpu_count()} cores) | {seconds / 60:.1f} min |")
    print(f"| classes drawn among 1,000 samples | {result['classes_drawn']} of 10; per class {hist} |")
    print(f"| mean top-class probability: samples / untrained G / real held-out digits | {conf:.2f} / {conf0:.2f} / {real_conf:.2f} |")


if __name__ == "__main__":
    main()
