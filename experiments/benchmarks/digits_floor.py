"""The floor any GAN on the digits is measured against: the metrics of real held-out digits against the real
training digits, on the digits classifier; and noise for the other end. Also the stacked-digits protocol on real
stacks.

    python experiments/benchmarks/digits_floor.py [--classifier PATH] [--image_size 8] [--stacked 26000] [--out PATH]

The classifier (made here with ``lit-gans train-classifier`` unless --classifier is given) holds out the first 20%
of the seed-0 permutation of the digits; DigitsDataModule(val_fraction=0.1, seed=0) holds out the first 10% of the
same permutation, so its validation digits were never seen by the classifier either. Prints a Markdown table;
writes experiments/results/digits_floor.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from lit_gans.commands.train_classifier import split_digits
from lit_gans.data.digits import DigitsDataModule
from lit_gans.metrics.classifier import ClassifierFeatures, accuracy
from lit_gans.metrics.scores import FeatureScores
from lit_gans.metrics.stacked import stack_digits, stacked_mode_statistics


def scores_against_train(backbone, train: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
    scores = FeatureScores(backbone, kid_subset_size=min(1000, len(fake)))
    scores.update(train, real=True)
    scores.update(fake, real=False)
    return scores.compute()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--classifier", type=str, default=None)
    p.add_argument("--image_size", type=int, default=8)
    p.add_argument("--stacked", type=int, default=26_000, help="real stacked digits drawn for the stacked protocol")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results" / "digits_floor.json")
    args = p.parse_args()
    clf = args.classifier
    if clf is None:
        from lit_gans.commands.train_classifier import main as train_classifier

        clf = str(Path(tempfile.mkdtemp(prefix="digits_floor_")) / "digits.pt")
        train_classifier(["--out", clf])
    backbone = ClassifierFeatures.load(clf)
    _, (x_test, y_test) = split_digits(8, 0.2, 0)
    data = DigitsDataModule(image_size=args.image_size)
    data.setup()
    train, val = data.train_set.tensors[0], data.val_set.tensors[0]
    noise = torch.rand(val.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    rows = {
        "held-out digits": scores_against_train(backbone, train, val),
        "uniform noise": scores_against_train(backbone, train, noise),
    }
    stacked, _ = stack_digits(*split_digits(8, 0.2, 0)[1], args.stacked, torch.Generator().manual_seed(0))
    modes = stacked_mode_statistics(stacked, backbone)
    result = {"classifier_accuracy": accuracy(backbone.net, x_test, y_test), "num_test": len(x_test),
              "num_train_real": len(train), "num_val_real": len(val), "image_size": args.image_size,
              "scores": rows, "stacked_real": {"modes": modes.modes, "kl": modes.reverse_kl, "samples": args.stacked}}
    keys = list(rows["held-out digits"])
    print(f"classifier held-out accuracy: {result['classifier_accuracy']:.4f} on {len(x_test)} digits\n")
    print("| set vs train digits | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(f"{row[k]:.4g}" for k in keys) + " |")
    print(f"\nreal stacked digits ({args.stacked:,}): {modes.modes} of 1000 modes, "
          f"KL to uniform {modes.reverse_kl:.4f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
