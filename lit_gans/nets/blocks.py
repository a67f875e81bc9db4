"""Layers shared by Progressive GAN and StyleGAN2 (Karras et al. 2017, arXiv:1710.10196, section 4; Karras et al.
2020, arXiv:1912.04958).

- Equalised learning rate: weights are drawn from N(0, 1) / lr_mul and scaled at run time by
  ``lr_mul * gain / sqrt(fan_in)`` (He's constant), so every layer learns at the same speed under Adam.
- Pixel-wise feature normalisation: b = a / sqrt(mean_channels(a^2) + eps).
- Minibatch standard deviation: the std of each feature over a group of samples, averaged, appended as channels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class EqualizedLinear(nn.Module):
    """y = x W^T * (lr_mul * gain / sqrt(in_features)) + b * lr_mul, with W ~ N(0, 1 / lr_mul^2).

    >>> layer = EqualizedLinear(4, 3)
    >>> round(layer.weight_scale, 4)
    0.7071
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, bias_init: float = 0.0,
                 lr_mul: float = 1.0, gain: float = math.sqrt(2.0)) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul)) if bias else None
        self.weight_scale = lr_mul * gain / math.sqrt(in_features)
        self.lr_mul = lr_mul

    def forward(self, x: Tensor) -> Tensor:
        bias = self.bias * self.lr_mul if self.bias is not None else None
        return F.linear(x, self.weight * self.weight_scale, bias)


class EqualizedConv2d(nn.Module):
    """A 2D convolution with weights ~ N(0, 1) scaled at run time by gain / sqrt(in_channels * k * k)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 bias: bool = True, gain: float = math.sqrt(2.0)) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.stride, self.padding = stride, padding

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.weight_scale, self.bias, stride=self.stride, padding=self.padding)


class PixelNorm(nn.Module):
    """Normalises each pixel's feature vector to unit RMS over channels (dim 1)."""

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)


class MinibatchStdDev(nn.Module):
    """Appends ``num_channels`` feature maps holding the average over features of the per-group standard deviation.

    Samples are split into groups of ``group_size`` (or the whole batch when it is smaller or does not divide);
    within each group the std over the group of every feature is taken, then averaged over the features of each of the
    ``num_channels`` channel slices, and broadcast over H x W.  (N, C, H, W) -> (N, C + num_channels, H, W).
    """

    def __init__(self, group_size: int = 4, num_channels: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.group_size, self.num_channels, self.eps = group_size, num_channels, eps

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        if n % g:
            g = n
        f = self.num_channels
        y = x.reshape(g, n // g, f, c // f, h, w)  # (G, M, F, C/F, H, W): sample i is in group member i // (N/G)
        y = (y.var(dim=0, unbiased=False) + self.eps).sqrt()  # (M, F, C/F, H, W) std over each group
        y = y.mean(dim=(2, 3, 4))  # (M, F)
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)  # (N, F, H, W)
        return torch.cat([x, y], dim=1)
