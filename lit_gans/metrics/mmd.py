"""Kernel maximum mean discrepancy (Gretton et al. 2012, JMLR 13) between two sample sets, in any feature space.

A cheap, download-free distance for small data (raw pixels of 8x8 digits, 2D points): 0 when both sets come from the
same distribution, growing as they differ. Biased V-statistic with a sum of Gaussian kernels.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


def mmd_rbf(x: Tensor, y: Tensor, bandwidths: Sequence[float] = (1.0, 2.0, 4.0, 8.0)) -> float:
    """MMD^2 with k(a, b) = sum_s exp(-||a - b||^2 / (2 s^2)); samples are flattened to vectors.

    >>> a = torch.zeros(4, 2)
    >>> round(mmd_rbf(a, a), 6), round(mmd_rbf(a, a + 100.0, bandwidths=[1.0]), 6)
    (0.0, 2.0)
    """
    x, y = x.detach().flatten(1).double().cpu(), y.detach().flatten(1).double().cpu()

    def k(a: Tensor, b: Tensor) -> Tensor:
        d2 = torch.cdist(a, b).pow(2)
        return sum(torch.exp(-d2 / (2 * s * s)) for s in bandwidths)

    return float(k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean())
