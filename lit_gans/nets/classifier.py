"""A small convolutional classifier for grey digit images: the domain feature network of the evaluation metrics.

Inception v3 was trained on 299x299 photographs; on 8x8 or 16x16 digits its features say little. FID, KID and the
Inception Score computed on the penultimate layer of a classifier trained on the data itself are the usual remedy
(e.g. the LeNet-based "MNIST score" of Li et al. 2017, arXiv:1705.02894). Network only: training lives in
:mod:`lit_gans.metrics.classifier`.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class DigitsClassifier(nn.Module):
    """x (N, C, H, W) in [-1, 1] -> class logits (N, num_classes); :meth:`features` gives the (N, feature_dim) layer
    before the classifier head. Global average pooling makes it accept any image size >= 4.

    >>> import torch
    >>> DigitsClassifier()(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: int = 32, feature_dim: int = 64) -> None:
        super().__init__()
        self.in_channels, self.num_classes, self.feature_dim = in_channels, num_classes, feature_dim
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),  # (N, w, H, W)
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),  # (N, 2w, H/2, W/2)
            nn.ReLU(),
            nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1),  # (N, 2w, H/4, W/4)
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),  # (N, 2w)
            nn.Linear(2 * width, feature_dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate activations, shape (N, feature_dim)."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.features(x)
        return h, self.head(h)


def resize_to(x: Tensor, size: int) -> Tensor:
    """Bilinear, antialiased resize of (N, C, H, W) images to (N, C, size, size); a no-op at that size already."""
    if x.shape[-2:] == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
