"""Inception v3 features for FID (Heusel et al. 2017, arXiv:1706.08500), KID (Binkowski et al. 2018,
arXiv:1801.01401) and the Inception Score (Salimans et al. 2016, arXiv:1606.03498).

The network and its weights are torch-fidelity's port of the TensorFlow FID Inception (the weights every published
FID uses), run through torchmetrics' ``NoTrainInceptionV3``. By default torch-fidelity downloads the weights from a
GitHub release on first use; compute nodes without internet point to a local copy instead, with the
``weights_path`` argument or the ``LIT_GANS_INCEPTION_WEIGHTS`` environment variable (the argument wins).
The file is the state dict torch-fidelity downloads (``weights-inception-2015-12-05-6726825d.pth``); copy it from a
machine that has the internet (it lands in ``~/.cache/torch/hub/checkpoints/``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor

from lit_gans.metrics.features import FeatureExtractor

#: environment variable naming a local Inception weights file, for offline clusters.
WEIGHTS_ENV = "LIT_GANS_INCEPTION_WEIGHTS"


def inception_weights_path(weights_path: Optional[str] = None) -> Optional[str]:
    """The local weights file to use: ``weights_path``, else ``$LIT_GANS_INCEPTION_WEIGHTS``, else ``None``
    (torch-fidelity downloads them). A path that does not exist is an error, not a silent download."""
    path = weights_path or os.environ.get(WEIGHTS_ENV) or None
    if path is not None and not Path(path).is_file():
        source = "inception_weights" if weights_path else f"${WEIGHTS_ENV}"
        raise FileNotFoundError(f"{source} points to {path}, which is not a file: give the Inception state dict path")
    return path


def to_uint8_rgb(x: Tensor) -> Tensor:
    """(N, C, H, W) floats in [-1, 1] -> (N, 3, H, W) uint8 in [0, 255]; grey images are repeated on 3 channels."""
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"Inception takes images (N, 1 or 3, H, W), got shape {tuple(x.shape)}")
    x = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


class InceptionFeatures(FeatureExtractor):
    """Inception v3 pool features (2048) and unbiased logits (1008) of images in [-1, 1], resized to 299x299
    (bilinear, antialiased: torchmetrics' default).

    Args:
        weights_path: local Inception state dict (default: ``$LIT_GANS_INCEPTION_WEIGHTS``, else downloaded).
        feature: pool layer of the features: 64, 192, 768 or 2048 (the standard FID layer).
    """

    def __init__(self, weights_path: Optional[str] = None, feature: int = 2048) -> None:
        super().__init__()
        from torchmetrics.image.fid import NoTrainInceptionV3

        if feature not in (64, 192, 768, 2048):
            raise ValueError(f"feature must be one of 64, 192, 768, 2048 (an Inception pool layer), got {feature}")
        self.net = NoTrainInceptionV3(
            name="inception-v3-compat",
            features_list=[str(feature), "logits_unbiased"],
            feature_extractor_weights_path=inception_weights_path(weights_path),
        )
        self.num_features, self.num_classes = feature, 1008

    @torch.no_grad()
    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        # torchmetrics' forward returns only the first requested layer; its (private) full forward returns both, so
        # the network runs once for FID/KID features and IS logits. Pinned by tests/test_metrics.py.
        features, logits = self.net._torch_fidelity_forward(to_uint8_rgb(x))  # (N, d), (N, 1008)
        return features.reshape(len(x), -1).float(), logits.float()
