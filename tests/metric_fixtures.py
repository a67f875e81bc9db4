"""Helpers of the evaluation tests, importable by every test file: random Inception weights (nothing is downloaded),
a quickly trained digits classifier, and a transparent feature "network" for testing the statistics alone."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import torch

from lit_gans.metrics.features import FeatureExtractor


def random_inception_state_dict(seed: int = 0, calibration_images: int = 1) -> dict:
    """torch-fidelity's Inception v3 architecture with random weights, nothing downloaded.

    Its batch-norm statistics are set from one batch of noise images (a train-mode pass with cumulative averages):
    with the default statistics (mean 0, variance 1) the random network's features shrink to ~1e-8 over its ~90
    layers, too small for a meaningful test.
    """
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class RandomInception(FeatureExtractorInceptionV3):
        def load_state_dict(self, state_dict, strict=True, assign=False):
            return None  # keep the random initialisation

        def train(self, mode=True):
            return torch.nn.Module.train(self, mode)

    with tempfile.NamedTemporaryFile(suffix=".pt") as empty, torch.random.fork_rng():
        torch.save({}, empty.name)
        torch.manual_seed(seed)
        net = RandomInception("inception-v3-compat", ["2048"], feature_extractor_weights_path=empty.name)
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.momentum = None  # cumulative average: one batch sets the statistics exactly
        net.train()
        with torch.no_grad():
            net(torch.randint(0, 256, (calibration_images, 3, 64, 64), dtype=torch.uint8))
    return net.state_dict()


@functools.lru_cache(maxsize=None)
def random_inception_weights_file() -> str:
    """A file holding :func:`random_inception_state_dict`, written once per process."""
    path = Path(tempfile.mkdtemp(prefix="lit_gans_inception_")) / "random_inception.pt"
    torch.save(random_inception_state_dict(), path)
    return str(path)


@functools.lru_cache(maxsize=None)
def digits_classifier_file(epochs: int = 4) -> str:
    """A digits classifier made by ``lit-gans train-classifier`` (few epochs), written once per process."""
    from lit_gans.commands.train_classifier import main

    path = Path(tempfile.mkdtemp(prefix="lit_gans_classifier_")) / "digits.pt"
    main(["--out", str(path), "--epochs", str(epochs)])
    return str(path)


class FlatFeatures(FeatureExtractor):
    """A transparent "backbone" for testing the statistics: features are the flattened input, logits its first
    ``num_classes`` values."""

    def __init__(self, num_features: int, num_classes: int = 2) -> None:
        super().__init__()
        self.num_features, self.num_classes = num_features, num_classes

    def features_and_logits(self, x):
        flat = x.flatten(1).float()
        return flat, flat[:, : self.num_classes]
