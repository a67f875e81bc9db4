"""The embedded default dataset: scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes).

Alpaydin & Kaynak 1998, UCI "Optical Recognition of Handwritten Digits"; shipped inside scikit-learn, so it needs no
download. Pixel values 0..16 are scaled to [-1, 1] and optionally resized (bilinear, antialiased) to ``image_size``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import TensorDataset

from lit_gans.data.base import DataError, GANDataModule


def load_digits_tensors(image_size: int = 8) -> tuple[Tensor, Tensor]:
    """All 1,797 digits as (N, 1, S, S) float images in [-1, 1] and (N,) int64 labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (N, 1, 8, 8) in [0, 1]
    if image_size != 8:
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", antialias=True, align_corners=False)
    return (x * 2.0 - 1.0).clamp(-1.0, 1.0), torch.as_tensor(bunch.target, dtype=torch.long)


class DigitsDataModule(GANDataModule):
    """scikit-learn's 8x8 digits as (1, S, S) images in [-1, 1] with their labels.

    Args:
        image_size: side of the served images (8 is the native size; 16, 32 or 64 are upsampled).
        val_fraction: share of the images held out (seeded split) for validation and metrics.
        seed: seed of the split.
    """

    def __init__(
        self, image_size: int = 8, val_fraction: float = 0.1, seed: int = 0, batch_size: int = 64, num_workers: int = 0
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        if image_size < 1:
            raise DataError(f"image_size must be positive, got {image_size}")
        if not 0.0 <= val_fraction < 1.0:
            raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}")
        self.image_size, self.val_fraction, self.seed = image_size, val_fraction, seed

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return (1, self.image_size, self.image_size)

    @property
    def num_classes(self) -> int:
        return 10

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        x, y = load_digits_tensors(self.image_size)
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(self.seed))
        n_val = int(round(self.val_fraction * len(x)))
        val, train = perm[:n_val], perm[n_val:]
        self.train_set = TensorDataset(x[train], y[train])
        self.val_set = TensorDataset(x[val], y[val]) if n_val else None
