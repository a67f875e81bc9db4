"""CycleGAN networks (Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks", arXiv:1703.10593, appendix 7.2).

Generator (after Johnson et al. 2016): ``c7s1-64, d128, d256, R256 x n, u128, u64, c7s1-3`` — a 7x7 convolution,
two stride-2 downsamplings, ``n`` residual blocks (9 at 256x256, 6 at 128x128, fewer for small images), two
fractional-strided upsamplings and a 7x7 convolution to the image channels with tanh; reflection padding, instance
norm and ReLU throughout.

Discriminator (70x70 PatchGAN, after Isola et al. 2017): ``C64-C128-C256-C512`` then a 1-channel convolution; 4x4
convolutions, the first three of stride 2, instance norm on all but the first, LeakyReLU(0.2). It scores every
overlapping patch of the input, so its output is a map of logits, (N, 1, 30, 30) for a 256x256 image. ``n_layers``
(the number of stride-2 convolutions, 3 in the paper) shrinks it for small images; :func:`patch_receptive_field`
gives the patch side for each depth.

Weights are drawn from N(0, 0.02) (section 7.1); the instance norms have no affine parameters, as in the authors' code.
"""

from __future__ import annotations

from torch import Tensor, nn

from lit_gans.nets.shapes import check_shape


class ResidualBlock(nn.Module):
    """x + [reflect-pad, conv 3x3, IN, ReLU, reflect-pad, conv 3x3, IN](x), channels unchanged."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """image (N, C, H, W) in [-1, 1] -> translated image (N, C, H, W) in [-1, 1]; H and W multiples of 4.

    Args:
        channels: image channels (3 for RGB, 1 for grey).
        base_channels: channels of the first convolution (64 in the paper); 2x and 4x after the downsamplings.
        n_residual_blocks: residual blocks at the bottleneck (9 for 256x256 images, 6 for 128x128).

    >>> import torch
    >>> ResnetGenerator(channels=1, base_channels=8, n_residual_blocks=2)(torch.zeros(2, 1, 16, 16)).shape
    torch.Size([2, 1, 16, 16])
    """

    def __init__(self, channels: int = 3, base_channels: int = 64, n_residual_blocks: int = 9) -> None:
        super().__init__()
        if n_residual_blocks < 0:
            raise ValueError(f"n_residual_blocks must be >= 0, got {n_residual_blocks}")
        self.channels, ch = channels, base_channels
        layers: list[nn.Module] = [conv_norm_relu(channels, ch, 7, 1, reflect=3)]  # c7s1-64
        layers += [conv_norm_relu(ch, 2 * ch, 3, 2), conv_norm_relu(2 * ch, 4 * ch, 3, 2)]  # d128, d256: H/4
        layers += [ResidualBlock(4 * ch) for _ in range(n_residual_blocks)]  # R256 x n
        layers += [upsample_norm_relu(4 * ch, 2 * ch), upsample_norm_relu(2 * ch, ch)]  # u128, u64: back to H
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, channels, 7), nn.Tanh()]  # c7s1-3
        self.net = nn.Sequential(*layers)
        init_normal_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        check_shape(x, ("N", self.channels, "H", "W"), "the generator's images")
        if x.shape[-1] % 4 or x.shape[-2] % 4:
            raise ValueError(f"the generator needs image sides divisible by 4, got {tuple(x.shape[-2:])}")
        return self.net(x)


class PatchDiscriminator(nn.Module):
    """image (N, C, H, W) -> patch logits (N, 1, H', W'): one score per receptive-field patch.

    Args:
        channels: image channels.
        base_channels: channels of the first convolution (64 in the paper), doubling per layer up to 8x.
        n_layers: stride-2 convolutions (3 in the paper: 70x70 patches); 1 or 2 for 16x16 or 32x32 images.

    >>> import torch
    >>> PatchDiscriminator(channels=3, base_channels=8)(torch.zeros(1, 3, 256, 256)).shape
    torch.Size([1, 1, 30, 30])
    """

    def __init__(self, channels: int = 3, base_channels: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"the PatchGAN discriminator needs n_layers >= 1, got {n_layers}")
        self.channels = channels
        widths = [base_channels * min(2**i, 8) for i in range(n_layers + 1)]  # C64-C128-C256-C512 for n_layers=3
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]  # no norm
        for c_in, c_out in zip(widths[:-2], widths[1:-1]):  # the other stride-2 layers: H/2^n_layers
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.InstanceNorm2d(c_out), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(widths[-2], widths[-1], 4, 1, 1), nn.InstanceNorm2d(widths[-1]), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(widths[-1], 1, 4, 1, 1))  # one logit per patch
        self.net = nn.Sequential(*layers)
        init_normal_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        check_shape(x, ("N", self.channels, "H", "W"), "the discriminator's images")
        return self.net(x)


def patch_receptive_field(n_layers: int = 3) -> int:
    """Side of the input patch one output of :class:`PatchDiscriminator` sees: 70 for the paper's 3 layers.

    Walks the 4x4 convolutions back from one output pixel: r <- (r - 1) * stride + 4.

    >>> [patch_receptive_field(n) for n in (1, 2, 3, 4)]
    [16, 34, 70, 142]
    """
    strides = [2] * n_layers + [1, 1]
    r = 1
    for s in reversed(strides):
        r = (r - 1) * s + 4
    return r


def conv_norm_relu(c_in: int, c_out: int, kernel: int, stride: int, reflect: int = 0) -> nn.Sequential:
    """[reflect-pad] conv, instance norm, ReLU; zero padding 1 for the stride-2 downsamplings."""
    pad = [nn.ReflectionPad2d(reflect)] if reflect else []
    return nn.Sequential(
        *pad, nn.Conv2d(c_in, c_out, kernel, stride, 0 if reflect else 1), nn.InstanceNorm2d(c_out), nn.ReLU(True)
    )


def upsample_norm_relu(c_in: int, c_out: int) -> nn.Sequential:
    """Fractional-strided 3x3 convolution (stride 1/2, doubles H and W), instance norm, ReLU."""
    return nn.Sequential(
        nn.ConvTranspose2d(c_in, c_out, 3, 2, padding=1, output_padding=1), nn.InstanceNorm2d(c_out), nn.ReLU(True)
    )


def init_normal_weights(module: nn.Module) -> None:
    """Convolution weights ~ N(0, 0.02), biases 0 (paper, section 7.1)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)
