"""``lit-gans train-classifier --out PATH``: trains the digits feature network of the evaluation metrics.

Trains :class:`~lit_gans.nets.classifier.DigitsClassifier` on scikit-learn's digits (a seeded split: the held-out
share is never trained on), prints its held-out accuracy, and saves a checkpoint that ``Evaluation(backbone=PATH)``
and :meth:`lit_gans.metrics.classifier.ClassifierFeatures.load` take. Seconds on a laptop CPU.

It classifies at the digits' native 8x8 by default: images upsampled to 16x16 or 32x32 carry no more information,
and the samples of a GAN trained at those sizes are resized (antialiased) to 8x8 before classification.
"""

from __future__ import annotations

import time
from typing import Sequence

import torch
from jsonargparse import ArgumentParser

from lit_gans.errors import UserError


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="lit-gans train-classifier", description=__doc__, exit_on_error=False)
    p.add_argument("--out", type=str, required=True, help="checkpoint to write (.pt)")
    p.add_argument("--image_size", type=int, default=8, help="side it classifies at; larger samples are resized to it")
    p.add_argument("--epochs", type=int, default=10, help="passes over the training digits")
    p.add_argument("--test_fraction", type=float, default=0.2, help="share of the digits held out for the accuracy")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and of the training")
    return p


def split_digits(image_size: int, test_fraction: float, seed: int):
    """The digits as ((x_train, y_train), (x_test, y_test)) by a seeded permutation."""
    from lit_gans.data.digits import load_digits_tensors

    x, y = load_digits_tensors(image_size)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_test = int(round(test_fraction * len(x)))
    test, train = perm[:n_test], perm[n_test:]
    return (x[train], y[train]), (x[test], y[test])


def main(argv: Sequence[str]) -> None:
    from lit_gans.metrics.classifier import ClassifierFeatures, accuracy, fit_classifier

    try:
        args = build_parser().parse_args(list(argv))
    except Exception as e:  # jsonargparse's ArgumentError: unknown or missing options
        raise UserError(str(e).splitlines()[0]) from e
    if args.image_size < 4:
        raise UserError(f"--image_size must be >= 4, got {args.image_size}")
    if not 0.0 < args.test_fraction < 1.0 or args.epochs < 1:
        raise UserError("--test_fraction must be in (0, 1) and --epochs >= 1")
    (x_train, y_train), (x_test, y_test) = split_digits(args.image_size, args.test_fraction, args.seed)
    start = time.perf_counter()
    net = fit_classifier(x_train, y_train, epochs=args.epochs, seed=args.seed)
    seconds = time.perf_counter() - start
    acc = accuracy(net, x_test, y_test)
    meta = {"test_accuracy": acc, "seed": args.seed, "test_fraction": args.test_fraction, "epochs": args.epochs}
    path = ClassifierFeatures(net, args.image_size).save(args.out, **meta)
    print(f"held-out accuracy {acc:.4f} on {len(x_test)} digits after {seconds:.1f} s of training; wrote {path}")
