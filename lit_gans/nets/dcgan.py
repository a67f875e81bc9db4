"""DCGAN networks (Radford et al. 2015, "Unsupervised Representation Learning with Deep Convolutional GANs",
arXiv:1511.06434), for any square power-of-two image size from 8 up and any channel count.

The paper's guidelines, section 3: strided convolutions instead of pooling in D and fractional-strided (transposed)
convolutions in G; batch norm in both, except G's output and D's input layer; ReLU in G with tanh at the output;
LeakyReLU(0.2) in D; no fully connected hidden layers; weights drawn from N(0, 0.02).
Resolution is a constructor argument: the number of 2x stages is log2(size / 4), channels halve per stage in G.
An optional class label enters G as a one-hot vector beside z and D as one constant plane per class (conditional
DCGAN in the manner of Mirza & Osindero 2014).
"""

from __future__ import annotations

import math
from typing import Literal, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_gans.nets.shapes import check_shape


def check_image_shape(shape: Sequence[int], min_size: int = 8) -> tuple[int, int, int]:
    """Validates (C, H, W) for a pyramid network: square, a power of two, at least ``min_size``."""
    if len(shape) != 3:
        raise ValueError(f"image networks need data of shape (C, H, W), got {tuple(shape)}; use an image DataModule")
    c, h, w = shape
    if h != w or h < min_size or h & (h - 1):
        raise ValueError(
            f"image size {h}x{w} is not supported: set data.image_size to a square power of two >= {min_size}"
        )
    return int(c), int(h), int(w)


def stride2_padding(kernel_size: int) -> tuple[int, int]:
    """(padding, output_padding) that make a stride-2 convolution of ``kernel_size`` halve the size exactly and its
    transposed convolution double it: (1, 0) for DCGAN's 4x4 kernels, (2, 1) for the 5x5 ones of WGAN-GP's code."""
    if kernel_size < 2:
        raise ValueError(f"kernel_size must be >= 2 for stride-2 layers, got {kernel_size}")
    return (kernel_size - 1) // 2, kernel_size % 2


def stage_channels(size: int, base_channels: int, max_channels: int) -> list[int]:
    """Channels at 4x4, 8x8, ..., size x size: ``base_channels`` at ``size``, doubling per stage towards 4x4.

    >>> stage_channels(32, 128, 1024)  # DCGAN's generator for 64x64 images: 1024 at 4x4 ... 128 at 32x32
    [1024, 512, 256, 128]
    """
    n = int(math.log2(size // 4))
    return [min(base_channels * 2 ** (n - i), max_channels) for i in range(n + 1)]


class DCGANGenerator(nn.Module):
    """z (N, z_dim) -> image (N, C, S, S) in [-1, 1]. ``kernel_size`` is that of the stride-2 layers (DCGAN: 4).

    >>> DCGANGenerator(z_dim=16, img_shape=(1, 16, 16), base_channels=8)(torch.randn(2, 16)).shape
    torch.Size([2, 1, 16, 16])
    """

    def __init__(
        self,
        z_dim: int = 100,
        img_shape: Sequence[int] = (3, 64, 64),
        base_channels: int = 128,
        max_channels: int = 1024,
        num_classes: int = 0,
        kernel_size: int = 4,
    ) -> None:
        super().__init__()
        c, size, _ = check_image_shape(img_shape)
        pad, out_pad = stride2_padding(kernel_size)
        ch = stage_channels(size // 2, base_channels, max_channels)  # channels at 4x4, 8x8, ..., size/2
        self.z_dim, self.num_classes = z_dim, num_classes
        # project: (N, z_dim [+ K], 1, 1) -> (N, ch[0], 4, 4)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim + num_classes, ch[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(ch[0]),
            nn.ReLU(True),
        ]
        for c_in, c_out in zip(ch[:-1], ch[1:]):  # (N, c_in, r, r) -> (N, c_out, 2r, 2r)
            layers += [nn.ConvTranspose2d(c_in, c_out, kernel_size, 2, pad, out_pad, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(True)]
        # output stage: to image channels, no batch norm, tanh
        layers += [nn.ConvTranspose2d(ch[-1], c, kernel_size, 2, pad, out_pad), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_dcgan_weights(self)

    def forward(self, z: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        check_shape(z, ("N", self.z_dim), "z")
        if self.num_classes:
            z = torch.cat([z, F.one_hot(labels.long(), self.num_classes).to(z.dtype)], dim=1)
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """image (N, C, S, S) -> one logit per image (N, 1).

    ``norm`` normalises the hidden layers: ``batch`` (the paper), ``layer`` (over each sample's (C, H, W), with a
    per-channel scale and shift, as WGAN-GP's critic: a gradient penalty per sample is void under batch norm, which
    mixes the samples of a batch) or ``none``. ``kernel_size`` is that of the stride-2 layers (DCGAN: 4); the last
    layer, a 4x4 convolution of the 4x4 maps, stays a dense layer to one output.
    """

    def __init__(
        self,
        img_shape: Sequence[int] = (3, 64, 64),
        base_channels: int = 64,
        max_channels: int = 1024,
        num_classes: int = 0,
        norm: Literal["batch", "layer", "none"] = "batch",
        kernel_size: int = 4,
    ) -> None:
        super().__init__()
        c, size, _ = check_image_shape(img_shape)
        pad, _ = stride2_padding(kernel_size)
        if norm not in (*_NORMS, "none"):
            raise ValueError(f"unknown discriminator norm {norm!r}; choose 'batch', 'layer' or 'none'")
        # channels at size/2, size/4, ..., 4: base_channels doubling per stage (half of G's at the same size)
        ch = stage_channels(size // 2, base_channels, max_channels)[::-1]
        self.img_shape, self.num_classes = (c, size, size), num_classes
        layers: list[nn.Module] = []
        c_in = c + num_classes
        for i, c_out in enumerate(ch):
            normed = norm != "none" and i > 0  # no normalisation on the input layer (paper, section 3)
            layers.append(nn.Conv2d(c_in, c_out, kernel_size, 2, pad, bias=not normed))
            if normed:
                layers.append(_NORMS[norm](c_out))
            layers.append(nn.LeakyReLU(0.2, True))
            c_in = c_out
        layers.append(nn.Conv2d(c_in, 1, 4, 1, 0))  # (N, ch, 4, 4) -> (N, 1, 1, 1)
        self.net = nn.Sequential(*layers)
        init_dcgan_weights(self)

    def forward(self, x: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        check_shape(x, ("N", *self.img_shape), "the discriminator's images")
        if self.num_classes:
            planes = F.one_hot(labels.long(), self.num_classes).to(x.dtype)[:, :, None, None]
            x = torch.cat([x, planes.expand(-1, -1, *x.shape[2:])], dim=1)
        return self.net(x).flatten(1)


#: hidden-layer normalisations of the discriminator; GroupNorm with one group is layer norm over (C, H, W).
_NORMS = {"batch": nn.BatchNorm2d, "layer": lambda c: nn.GroupNorm(1, c)}


def init_dcgan_weights(module: nn.Module) -> None:
    """Conv weights ~ N(0, 0.02); normalisation scale ~ N(1, 0.02), shift 0 (paper, section 4)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
