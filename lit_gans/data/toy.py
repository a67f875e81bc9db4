"""2D Gaussian mixtures of the mode-collapse protocol of PacGAN (Lin et al. 2018, arXiv:1712.04086) and VEEGAN
(Srivastava et al. 2017, arXiv:1705.07761): the ring of 8 Gaussians (radius 1, std 0.01) and the 5x5 grid of 25
Gaussians (means in {-4, -2, 0, 2, 4}^2, std 0.05). No files: the points are drawn from a seeded generator.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor
from torch.utils.data import TensorDataset

from lit_gans.data.base import DataError, GANDataModule


def mixture_means(mixture: str, num_modes: int | None = None, radius: float = 1.0, spacing: float = 2.0) -> Tensor:
    """Means of the mixture, shape (K, 2): ``ring`` K points on a circle; ``grid`` a sqrt(K) x sqrt(K) lattice."""
    if mixture == "ring":
        k = num_modes or 8
        angles = torch.arange(k, dtype=torch.float64) * (2 * math.pi / k)
        return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()
    if mixture == "grid":
        k = num_modes or 25
        side = math.isqrt(k)
        if side * side != k:
            raise DataError(f"a grid mixture needs a square number of modes, got {k}")
        axis = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
        return torch.cartesian_prod(axis, axis)
    raise DataError(f"unknown mixture {mixture!r}; choose 'ring' or 'grid'")


def sample_mixture(means: Tensor, std: float, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """n points from the equal-weight mixture, with the index of the mode each came from."""
    modes = torch.randint(len(means), (n,), generator=generator)
    return means[modes] + std * torch.randn(n, 2, generator=generator), modes


class Toy2DDataModule(GANDataModule):
    """Points from a 2D Gaussian mixture; batches are ``(points (N, 2), mode index (N,))``.

    Args:
        mixture: ``ring`` (8 modes, radius 1, std 0.01) or ``grid`` (25 modes, spacing 2, std 0.05).
        num_modes: modes of the mixture (default 8 for the ring, 25 for the grid).
        std: standard deviation of each mode (default: 0.01 ring, 0.05 grid, as in PacGAN).
        num_samples: size of the drawn training set.
        seed: seed of the draw.
    """

    def __init__(
        self,
        mixture: Literal["ring", "grid"] = "ring",
        num_modes: int | None = None,
        std: float | None = None,
        num_samples: int = 100_000,
        seed: int = 0,
        batch_size: int = 100,
        num_workers: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        self.mixture, self.seed, self.num_samples = mixture, seed, num_samples
        self.means = mixture_means(mixture, num_modes)
        self.std = std if std is not None else {"ring": 0.01, "grid": 0.05}[mixture]

    @property
    def data_shape(self) -> tuple[int]:
        return (2,)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None:
            gen = torch.Generator().manual_seed(self.seed)
            self.train_set = TensorDataset(*sample_mixture(self.means, self.std, self.num_samples, gen))
            self.val_set = TensorDataset(*sample_mixture(self.means, self.std, 2_500, gen))
