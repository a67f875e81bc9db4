"""Progressive GAN networks (Karras, Aila, Laine & Lehtinen 2017, "Progressive Growing of GANs for Improved Quality,
Stability, and Variation", arXiv:1710.10196): Table 2's generator and discriminator for any power-of-two target size.

Both networks hold the blocks of every resolution from 4x4 to the target from the start; the resolution being
trained and the fade-in weight ``alpha`` are **arguments of forward** (the networks keep no training state), so
``G(z, resolution=16, alpha=0.3)`` is the 16x16 generator a third of the way through its fade-in (figure 2):

- G: out = (1 - alpha) * upsample(toRGB_{r/2}(h_{r/2})) + alpha * toRGB_r(block_r(h_{r/2}));
- D mirrored: h = (1 - alpha) * fromRGB_{r/2}(avgpool(x)) + alpha * block_r(fromRGB_r(x)), then the blocks below.

Section 4: equalised learning rate in every layer (:mod:`lit_gans.nets.blocks`), pixel-wise feature normalisation
after every 3x3 convolution of G (and on z), minibatch standard deviation (group 4) in D's last block; leaky ReLU 0.2
everywhere but the linear toRGB and D's output. Upsampling is nearest-neighbour, downsampling 2x2 average pooling,
as in the authors' code (``upscale2d`` / ``downscale2d``); in D's blocks the pooling comes between the second
convolution and its activation, as in their default fused ``conv2d_downscale2d`` layer.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_gans.nets.blocks import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm
from lit_gans.nets.shapes import check_shape


def paper_channels(resolution: int) -> dict[int, int]:
    """Table 2's feature maps per resolution: 512 up to 32x32, then halving (256 at 64x64 ... 16 at 1024x1024).

    >>> paper_channels(128)
    {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128}
    """
    return {r: min(512, 16384 // r) for r in resolutions(resolution)}


def resolutions(target: int) -> list[int]:
    """4, 8, ..., target: the resolutions a network grows through.

    >>> resolutions(32)
    [4, 8, 16, 32]
    """
    if target < 4 or target & (target - 1):
        raise ValueError(f"ProGAN needs a square power-of-two image size >= 4, got {target}: set data.image_size")
    return [2**k for k in range(2, int(math.log2(target)) + 1)]


def check_channels(channels: dict[int, int], target: int) -> dict[int, int]:
    """The channel table as {int resolution: int channels}, with one clear error if a resolution is missing."""
    table = {int(r): int(c) for r, c in channels.items()}
    missing = [r for r in resolutions(target) if r not in table]
    if missing:
        raise ValueError(f"channels table {table} has no entry for resolutions {missing}: give one per 4..{target}")
    return table


def _lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.2)


def upsample(x: Tensor) -> Tensor:
    """Nearest-neighbour 2x upsampling, (N, C, H, W) -> (N, C, 2H, 2W)."""
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


def downsample(x: Tensor) -> Tensor:
    """2x2 average pooling, (N, C, H, W) -> (N, C, H/2, W/2)."""
    return F.avg_pool2d(x, 2)


class GeneratorBlock(nn.Module):
    """upsample -> (conv3x3 -> lrelu -> pixel norm) x 2: (N, c_in, r/2, r/2) -> (N, c_out, r, r)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = EqualizedConv2d(c_in, c_out, 3, padding=1)
        self.conv2 = EqualizedConv2d(c_out, c_out, 3, padding=1)
        self.norm = PixelNorm()

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(_lrelu(self.conv1(upsample(x))))
        return self.norm(_lrelu(self.conv2(x)))


class ProGANGenerator(nn.Module):
    """z (N, z_dim) -> image (N, C, r, r) at the requested resolution r <= ``resolution``.

    Args:
        z_dim: latent size (512 in the paper).
        out_channels: image channels.
        resolution: the target (largest) resolution.
        channels: feature maps per resolution, {4: 512, 8: 512, ...} (:func:`paper_channels` when None).

    >>> g = ProGANGenerator(z_dim=8, out_channels=1, resolution=16, channels={4: 8, 8: 8, 16: 4})
    >>> g(torch.randn(2, 8), resolution=8, alpha=0.5).shape
    torch.Size([2, 1, 8, 8])
    """

    def __init__(self, z_dim: int = 512, out_channels: int = 3, resolution: int = 1024,
                 channels: Optional[dict[int, int]] = None) -> None:
        super().__init__()
        ch = check_channels(channels or paper_channels(resolution), resolution)
        self.z_dim, self.resolution = z_dim, resolution
        self.norm = PixelNorm()
        # 4x4 block: dense z -> 4x4 maps (the paper's 4x4 "conv" on a 1x1 input; gain sqrt(2)/4 as in the authors'
        # code), then conv3x3, each followed by leaky ReLU and pixel norm
        self.dense = EqualizedLinear(z_dim, ch[4] * 16, gain=math.sqrt(2.0) / 4)
        self.conv4 = EqualizedConv2d(ch[4], ch[4], 3, padding=1)
        self.blocks = nn.ModuleDict({str(r): GeneratorBlock(ch[r // 2], ch[r]) for r in resolutions(resolution)[1:]})
        self.to_rgb = nn.ModuleDict(
            {str(r): EqualizedConv2d(ch[r], out_channels, 1, gain=1.0) for r in resolutions(resolution)}
        )

    def forward(self, z: Tensor, resolution: Optional[int] = None, alpha: float = 1.0) -> Tensor:
        resolution = resolution or self.resolution
        check_shape(z, ("N", self.z_dim), "z")
        x = self.norm(z)  # the paper normalises the latent vector too
        x = self.norm(_lrelu(self.dense(x).view(z.shape[0], -1, 4, 4)))  # (N, ch[4], 4, 4)
        x = self.norm(_lrelu(self.conv4(x)))
        if resolution == 4:
            return self.to_rgb["4"](x)
        for r in resolutions(resolution)[1:-1]:  # stable blocks below the newest
            x = self.blocks[str(r)](x)
        new = self.to_rgb[str(resolution)](self.blocks[str(resolution)](x))  # (N, C, r, r)
        if alpha >= 1.0:
            return new
        old = upsample(self.to_rgb[str(resolution // 2)](x))  # the previous resolution's image, upsampled
        return torch.lerp(old, new, alpha)


class DiscriminatorBlock(nn.Module):
    """conv3x3 -> lrelu -> conv3x3 -> avgpool -> lrelu: (N, c_in, r, r) -> (N, c_out, r/2, r/2).

    The activation comes after the pooling as in the authors' default D (``fused_scale=True``: ``conv2d_downscale2d``
    averages the 3x3 kernel over its four 2x2 shifts into a 4x4 kernel of stride 2, which is the 3x3 convolution
    followed by 2x2 average pooling; bias and leaky ReLU follow). The bias commutes with the pooling."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = EqualizedConv2d(c_in, c_in, 3, padding=1)
        self.conv2 = EqualizedConv2d(c_in, c_out, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return _lrelu(downsample(self.conv2(_lrelu(self.conv1(x)))))


class ProGANDiscriminator(nn.Module):
    """image (N, C, r, r) at resolution r <= ``resolution`` -> critic value (N, 1).

    Args:
        in_channels: image channels.
        resolution: the target (largest) resolution.
        channels: feature maps per resolution, as for the generator.
        group_size: minibatch standard deviation group (4 in the paper).

    >>> d = ProGANDiscriminator(in_channels=1, resolution=16, channels={4: 8, 8: 8, 16: 4})
    >>> d(torch.randn(4, 1, 8, 8), resolution=8, alpha=0.5).shape
    torch.Size([4, 1])
    """

    def __init__(self, in_channels: int = 3, resolution: int = 1024, channels: Optional[dict[int, int]] = None,
                 group_size: int = 4) -> None:
        super().__init__()
        ch = check_channels(channels or paper_channels(resolution), resolution)
        self.in_channels, self.resolution = in_channels, resolution
        self.from_rgb = nn.ModuleDict(
            {str(r): EqualizedConv2d(in_channels, ch[r], 1) for r in resolutions(resolution)}
        )
        self.blocks = nn.ModuleDict({str(r): DiscriminatorBlock(ch[r], ch[r // 2]) for r in resolutions(resolution)[1:]})
        # last block at 4x4: minibatch stddev -> conv3x3 -> dense (the 4x4 "conv") -> dense to one output
        self.mbstd = MinibatchStdDev(group_size=group_size)
        self.conv4 = EqualizedConv2d(ch[4] + 1, ch[4], 3, padding=1)
        self.dense4 = EqualizedLinear(ch[4] * 16, ch[4])
        self.out = EqualizedLinear(ch[4], 1, gain=1.0)

    def forward(self, x: Tensor, resolution: Optional[int] = None, alpha: float = 1.0) -> Tensor:
        resolution = resolution or self.resolution
        check_shape(x, ("N", self.in_channels, resolution, resolution), f"images at {resolution}x{resolution}")
        h = _lrelu(self.from_rgb[str(resolution)](x))
        if resolution > 4:
            h = self.blocks[str(resolution)](h)  # (N, ch[r/2], r/2, r/2)
            if alpha < 1.0:
                old = _lrelu(self.from_rgb[str(resolution // 2)](downsample(x)))
                h = torch.lerp(old, h, alpha)
            for r in reversed(resolutions(resolution)[1:-1]):
                h = self.blocks[str(r)](h)
        h = _lrelu(self.conv4(self.mbstd(h)))  # (N, ch[4], 4, 4)
        h = _lrelu(self.dense4(h.flatten(1)))
        return self.out(h)
