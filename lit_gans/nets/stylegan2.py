"""StyleGAN2 networks (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN", arXiv:1912.04958).

- Mapping network f: z -> w, ``mapping_layers`` fully connected layers (8 in the paper) at learning rate multiplier
  0.01, after pixel norm of z; a running average ``w_avg`` of w for the truncation trick.
- Synthesis network: a learned constant 4x4 input; per resolution two 3x3 *modulated convolutions with weight
  demodulation* (section 2.2, eq. 1-3), each followed by noise injection with a learned per-layer strength, a bias and
  leaky ReLU; the *skip* generator (section 4.1, Figure 7b): a 1x1 toRGB at every resolution whose outputs are
  upsampled and summed.
- Discriminator: the *residual* architecture (Figure 7c) with fromRGB at the top resolution only, minibatch standard
  deviation (group 4, one channel) before the 4x4 epilogue; ``architecture="orig"`` drops the residual skips (the
  official ``cifar`` preset).
- Equalised learning rate everywhere (:mod:`lit_gans.nets.blocks`).

Resampling: 2x up- and down-sampling use the official [1, 3, 3, 1] FIR filter (separable, normalised; x4 gain when
upsampling). Upsampling is FIR zero-insertion upsampling then a 3x3 convolution, downsampling is FIR filtering with
stride 2 then a 3x3 convolution; the official code fuses these as transposed/strided convolutions around the same
filter (same receptive field and filter, a one-pixel difference in alignment).

Channels per resolution follow the official table: ``min(channel_base // res, channel_max)``.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_gans.nets.blocks import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm
from lit_gans.nets.dcgan import check_image_shape

SQRT2 = math.sqrt(2.0)


def lrelu(x: Tensor) -> Tensor:
    """Leaky ReLU(0.2) with the official sqrt(2) gain, keeping activations at unit variance."""
    return F.leaky_relu(x, 0.2) * SQRT2


def channel_table(resolution: int, channel_base: int, channel_max: int) -> dict[int, int]:
    """{4: C4, 8: C8, ..., resolution: C} with C_res = min(channel_base // res, channel_max) (official code).

    >>> channel_table(32, 512, 64)
    {4: 64, 8: 64, 16: 32, 32: 16}
    """
    return {2**i: min(channel_base // 2**i, channel_max) for i in range(2, int(math.log2(resolution)) + 1)}


# --- FIR resampling ---------------------------------------------------------------------------------------------------
def fir_kernel(taps: Sequence[float] = (1.0, 3.0, 3.0, 1.0)) -> Tensor:
    """The separable 2D filter outer(f, f) / sum, shape (K, K), summing to 1."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    k = torch.outer(f, f)
    return k / k.sum()


def _depthwise(x: Tensor, kernel: Tensor, stride: int = 1) -> Tensor:
    c = x.shape[1]
    weight = kernel.to(x.dtype)[None, None].expand(c, 1, *kernel.shape)
    return F.conv2d(x, weight, stride=stride, groups=c)


def upsample_2x(x: Tensor, kernel: Tensor) -> Tensor:
    """(N, C, H, W) -> (N, C, 2H, 2W): zero insertion, then the FIR filter with gain 4 (upfirdn2d, up=2)."""
    n, c, h, w = x.shape
    up = x.new_zeros(n, c, h, 2, w, 2)
    up[:, :, :, 0, :, 0] = x
    up = up.reshape(n, c, 2 * h, 2 * w)
    k = kernel.shape[-1]  # pads for a 4-tap filter: (2, 1) on each axis keep the size at 2H
    p0, p1 = (k - 2 + 1) // 2 + 1, (k - 2) // 2
    return _depthwise(F.pad(up, (p0, p1, p0, p1)), kernel * 4.0)


def downsample_2x(x: Tensor, kernel: Tensor) -> Tensor:
    """(N, C, H, W) -> (N, C, H/2, W/2): the FIR filter with stride 2 (upfirdn2d, down=2)."""
    p = (kernel.shape[-1] - 2) // 2
    return _depthwise(F.pad(x, (p, p, p, p)), kernel, stride=2)


# --- mapping network --------------------------------------------------------------------------------------------------
class MappingNetwork(nn.Module):
    """z (N, z_dim) -> w (N, num_ws, w_dim): pixel norm, ``num_layers`` FC + lrelu at ``lr_mul``, broadcast.

    ``w_avg`` follows the mean w during training (beta 0.995, as the official code) for the truncation trick
    w' = w_avg + psi (w - w_avg).
    """

    def __init__(self, z_dim: int, w_dim: int, num_ws: int, num_layers: int = 8, lr_mul: float = 0.01,
                 w_avg_beta: float = 0.995) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"mapping_layers must be >= 1, got {num_layers}")
        self.num_ws, self.w_avg_beta = num_ws, w_avg_beta
        dims = [z_dim] + [w_dim] * num_layers
        self.norm = PixelNorm()
        self.layers = nn.ModuleList(EqualizedLinear(a, b, lr_mul=lr_mul, gain=1.0) for a, b in zip(dims, dims[1:]))
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: Tensor, truncation: float = 1.0) -> Tensor:
        w = self.norm(z)
        for layer in self.layers:
            w = lrelu(layer(w))
        if self.training:
            self.w_avg.copy_(w.detach().mean(0).lerp(self.w_avg, self.w_avg_beta))
        if truncation != 1.0:
            w = self.w_avg.lerp(w, truncation)  # w_avg + psi (w - w_avg)
        return w.unsqueeze(1).repeat(1, self.num_ws, 1)  # (N, num_ws, w_dim)


# --- synthesis network ------------------------------------------------------------------------------------------------
def modulated_conv2d(x: Tensor, weight: Tensor, styles: Tensor, demodulate: bool = True, padding: int = 0) -> Tensor:
    """Eq. 1-3 of the paper as one grouped convolution.

    x (N, I, H, W), weight (O, I, k, k) already scaled, styles (N, I). w'_ijk = s_i w_ijk (modulation);
    w''_ijk = w'_ijk / sqrt(sum_ik w'_ijk^2 + eps) (demodulation); the batch is folded into the groups.
    """
    n, i, h, w = x.shape
    o = weight.shape[0]
    wgt = weight[None] * styles[:, None, :, None, None]  # (N, O, I, k, k)
    if demodulate:
        wgt = wgt * torch.rsqrt(wgt.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
    out = F.conv2d(x.reshape(1, n * i, h, w), wgt.reshape(n * o, i, *weight.shape[2:]), padding=padding, groups=n)
    return out.reshape(n, o, *out.shape[2:])


class ModulatedConv2d(nn.Module):
    """A modulated convolution: the affine map A turns w into per-input-channel styles s (bias 1 at init)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int,
                 demodulate: bool = True) -> None:
        super().__init__()
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1.0, gain=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.weight_scale = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.demodulate, self.padding = demodulate, kernel_size // 2

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        styles = self.affine(w)  # (N, I)
        return modulated_conv2d(x, self.weight * self.weight_scale, styles, self.demodulate, self.padding)


class StyleLayer(nn.Module):
    """Modulated 3x3 conv (optionally after 2x upsampling), noise B * strength, bias, lrelu."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, up: bool = False) -> None:
        super().__init__()
        self.up = up
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("fir", fir_kernel())

    def forward(self, x: Tensor, w: Tensor, rng: Optional[torch.Generator] = None) -> Tensor:
        if self.up:
            x = upsample_2x(x, self.fir)
        x = self.conv(x, w)
        n, _, h, wd = x.shape
        noise = torch.randn(n, 1, h, wd, device=x.device, dtype=x.dtype, generator=rng)
        return lrelu(x + noise * self.noise_strength + self.bias[None, :, None, None])


class ToRGB(nn.Module):
    """1x1 modulated convolution without demodulation, plus a bias: features -> image channels."""

    def __init__(self, in_channels: int, img_channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, img_channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(img_channels))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return self.conv(x, w) + self.bias[None, :, None, None]


class SynthesisNetwork(nn.Module):
    """ws (N, num_ws, w_dim) -> image (N, C, R, R); the skip architecture.

    Block r (r = 0 at 4x4) uses ws[2r - 1] for its upsampling conv, ws[2r] for its second conv and ws[2r + 1] for
    its toRGB (the official indexing: a toRGB shares its w with the next block's first conv), so num_ws = 2 log2(R) - 2.
    """

    def __init__(self, w_dim: int, resolution: int, img_channels: int, channels: dict[int, int]) -> None:
        super().__init__()
        self.resolutions = sorted(channels)
        self.num_ws = 2 * len(self.resolutions)
        self.const = nn.Parameter(torch.randn(channels[4], 4, 4))
        self.convs = nn.ModuleList()  # per block: [conv0 (up), conv1] ([conv1] at 4x4)
        self.torgbs = nn.ModuleList()
        for res in self.resolutions:
            c_in, c_out = channels[max(res // 2, 4)], channels[res]
            layers = [StyleLayer(c_in, c_out, w_dim, up=True)] if res > 4 else []
            self.convs.append(nn.ModuleList(layers + [StyleLayer(c_out, c_out, w_dim)]))
            self.torgbs.append(ToRGB(c_out, img_channels, w_dim))
        self.register_buffer("fir", fir_kernel())

    def forward(self, ws: Tensor, rng: Optional[torch.Generator] = None) -> Tensor:
        x = self.const[None].expand(ws.shape[0], -1, -1, -1)
        img = None
        for r, (layers, torgb) in enumerate(zip(self.convs, self.torgbs)):
            for j, layer in enumerate(layers):
                x = layer(x, ws[:, 2 * r - len(layers) + 1 + j], rng)
            y = torgb(x, ws[:, 2 * r + 1])
            img = y if img is None else upsample_2x(img, self.fir) + y  # skip generator: sum of upsampled toRGBs
        return img


class StyleGAN2Generator(nn.Module):
    """z (N, z_dim) -> image (N, C, R, R); ``mapping`` then ``synthesis``.

    >>> g = StyleGAN2Generator(8, 8, (1, 16, 16), mapping_layers=2, channel_base=64, channel_max=16)
    >>> g(torch.randn(3, 8)).shape, g.num_ws
    (torch.Size([3, 1, 16, 16]), 6)
    """

    def __init__(self, z_dim: int, w_dim: int, img_shape: Sequence[int], mapping_layers: int = 8,
                 mapping_lr_mul: float = 0.01, channel_base: int = 32768, channel_max: int = 512) -> None:
        super().__init__()
        c, r, _ = check_image_shape(img_shape, min_size=4)
        self.synthesis = SynthesisNetwork(w_dim, r, c, channel_table(r, channel_base, channel_max))
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, w_dim, self.num_ws, mapping_layers, mapping_lr_mul)

    def forward(self, z: Tensor, truncation: float = 1.0, rng: Optional[torch.Generator] = None) -> Tensor:
        return self.synthesis(self.mapping(z, truncation), rng)


# --- discriminator ----------------------------------------------------------------------------------------------------
class DiscriminatorBlock(nn.Module):
    """Two 3x3 convs, the second after FIR 2x downsampling; with ``residual`` a 1x1 downsampled skip, summed and
    scaled by sqrt(1/2)."""

    def __init__(self, in_channels: int, out_channels: int, residual: bool = True) -> None:
        super().__init__()
        self.conv0 = EqualizedConv2d(in_channels, in_channels, 3, padding=1, gain=1.0)
        self.conv1 = EqualizedConv2d(in_channels, out_channels, 3, padding=1, gain=1.0)
        self.skip = EqualizedConv2d(in_channels, out_channels, 1, bias=False, gain=1.0) if residual else None
        self.register_buffer("fir", fir_kernel())

    def forward(self, x: Tensor) -> Tensor:
        y = lrelu(self.conv0(x))
        y = lrelu(self.conv1(downsample_2x(y, self.fir)))
        if self.skip is None:
            return y
        return (self.skip(downsample_2x(x, self.fir)) + y) * math.sqrt(0.5)


class StyleGAN2Discriminator(nn.Module):
    """image (N, C, R, R) -> logits (N, 1): fromRGB, blocks R -> 4, then minibatch stddev, conv, FC, FC.

    ``blocks[0]`` is nearest the input; FreezeD freezes ``from_rgb`` and the first k blocks.

    >>> d = StyleGAN2Discriminator((1, 16, 16), channel_base=64, channel_max=16)
    >>> d(torch.randn(4, 1, 16, 16)).shape
    torch.Size([4, 1])
    """

    def __init__(self, img_shape: Sequence[int], channel_base: int = 32768, channel_max: int = 512,
                 mbstd_group: int = 4, architecture: str = "resnet") -> None:
        super().__init__()
        if architecture not in ("resnet", "orig"):
            raise ValueError(f"d_architecture must be 'resnet' or 'orig', got {architecture!r}")
        c, r, _ = check_image_shape(img_shape, min_size=4)
        ch = channel_table(r, channel_base, channel_max)
        self.from_rgb = EqualizedConv2d(c, ch[r], 1, gain=1.0)
        self.blocks = nn.ModuleList(
            DiscriminatorBlock(ch[res], ch[res // 2], residual=architecture == "resnet") for res in sorted(ch)[:0:-1]
        )
        self.mbstd = MinibatchStdDev(group_size=mbstd_group, num_channels=1)
        self.conv = EqualizedConv2d(ch[4] + 1, ch[4], 3, padding=1, gain=1.0)
        self.fc = EqualizedLinear(ch[4] * 16, ch[4], gain=1.0)
        self.out = EqualizedLinear(ch[4], 1, gain=1.0)

    def input_layers(self) -> list[nn.Module]:
        """The layers from the input side in order: fromRGB + block 0, block 1, ... (FreezeD counts these)."""
        return [nn.ModuleList([self.from_rgb, self.blocks[0]])] + list(self.blocks[1:]) if len(self.blocks) else []

    def forward(self, img: Tensor) -> Tensor:
        x = lrelu(self.from_rgb(img))
        for block in self.blocks:
            x = block(x)
        x = lrelu(self.conv(self.mbstd(x)))  # (N, C4, 4, 4)
        x = lrelu(self.fc(x.flatten(1)))
        return self.out(x)
