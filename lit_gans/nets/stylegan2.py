"""StyleGAN2 networks (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN", arXiv:1912.04958),
layer for layer the official NVlabs ``stylegan2-ada-pytorch`` networks (Karras et al. 2020b, arXiv:2006.06676).

- Mapping network f: z -> w, ``mapping_layers`` fully connected layers (8 in the paper) at learning rate multiplier
  0.01, after normalising z to unit second moment; a running average ``w_avg`` of w (beta 0.995) for the truncation
  trick w' = w_avg + psi (w - w_avg).
- Synthesis network: a learned constant 4x4 input; per resolution two 3x3 *modulated convolutions with weight
  demodulation* (section 2.2, eq. 1-3), each followed by noise injection with a learned strength (per-pixel noise:
  ``noise_mode`` random, the fixed ``noise_const`` buffers, or none), a bias and leaky ReLU; generator architectures
  (section 4.1, Figure 7): ``skip`` (a toRGB at every resolution, upsampled and summed), ``resnet`` and ``orig``.
- Discriminator: ``resnet`` (Figure 7c), ``skip`` or ``orig``; minibatch standard deviation before the 4x4 epilogue.
- Equalised learning rate everywhere (weights scaled at run time by 1 / sqrt(fan_in)); leaky ReLU(0.2) with gain
  sqrt(2); residual branches scaled by sqrt(1/2); an optional clamp of the conv outputs (``conv_clamp``, the official
  256 of its mixed-precision runs).

Resampling uses the official [1, 3, 3, 1] FIR filter (separable, normalised). As in the official ``conv2d_resample``:
an upsampling 3x3 convolution is a stride-2 *transposed* convolution followed by the FIR filter (gain 4, one pixel of
padding); a downsampling 3x3 convolution blurs at full resolution (two pixels of padding) and then runs a stride-2 3x3
convolution; 1x1 skips resample the activations (FIR upsampling after, or FIR downsampling before, the 1x1 conv).

Module and parameter names are the official ones (``mapping.fc0``, ``synthesis.b8.conv0.affine``, ``b16.fromrgb``,
``b4.fc``...) and the FIR filters are not saved, so an official state dict loads as it is
(:mod:`lit_gans.commands.import_weights`).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_gans.nets.blocks import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm
from lit_gans.nets.dcgan import check_image_shape
from lit_gans.nets.shapes import check_shape

SQRT2 = math.sqrt(2.0)
SQRT_HALF = math.sqrt(0.5)
G_ARCHITECTURES = ("skip", "resnet", "orig")
D_ARCHITECTURES = ("resnet", "skip", "orig")


def lrelu(x: Tensor) -> Tensor:
    """Leaky ReLU(0.2) with the official sqrt(2) gain, keeping activations at unit variance."""
    return F.leaky_relu(x, 0.2) * SQRT2


def bias_act(x: Tensor, bias: Optional[Tensor], act: bool = True, gain: float = 1.0,
             clamp: Optional[float] = None) -> Tensor:
    """x + bias, then (``act``) lrelu, times ``gain``, then clamped to +-clamp * gain (official ``bias_act``)."""
    if bias is not None:
        x = x + bias.reshape(1, -1, *([1] * (x.ndim - 2)))
    x = lrelu(x) * gain if act else x * gain
    return x.clamp(-clamp * gain, clamp * gain) if clamp is not None else x


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


def fir_filter(x: Tensor, kernel: Tensor, pad: tuple[int, int], stride: int = 1) -> Tensor:
    """Pads H and W by ``pad`` (before, after), filters every channel with ``kernel``, keeps every ``stride``-th pixel."""
    c = x.shape[1]
    weight = kernel.to(x.dtype)[None, None].expand(c, 1, *kernel.shape)
    return F.conv2d(F.pad(x, (pad[0], pad[1], pad[0], pad[1])), weight, stride=stride, groups=c)


def upsample_2x(x: Tensor, kernel: Tensor) -> Tensor:
    """(N, C, H, W) -> (N, C, 2H, 2W): zero insertion, then the FIR filter with gain 4 (official ``upsample2d``)."""
    n, c, h, w = x.shape
    up = x.new_zeros(n, c, h, 2, w, 2)
    up[:, :, :, 0, :, 0] = x
    k = kernel.shape[-1]  # a 4-tap filter pads (2, 1): the output keeps 2H pixels, the filter centred
    return fir_filter(up.reshape(n, c, 2 * h, 2 * w), kernel * 4.0, ((k + 1) // 2, (k - 2) // 2))


def downsample_2x(x: Tensor, kernel: Tensor) -> Tensor:
    """(N, C, H, W) -> (N, C, H/2, W/2): the FIR filter with stride 2 (official ``downsample2d``)."""
    k = kernel.shape[-1]
    return fir_filter(x, kernel, ((k - 1) // 2, (k - 2) // 2), stride=2)


# --- mapping network --------------------------------------------------------------------------------------------------
class MappingNetwork(nn.Module):
    """z (N, z_dim) -> ws (N, num_ws, w_dim): normalise z, ``num_layers`` FC + lrelu at ``lr_mul``, broadcast."""

    def __init__(self, z_dim: int, w_dim: int, num_ws: int, num_layers: int = 8, lr_mul: float = 0.01,
                 w_avg_beta: float = 0.995) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"mapping_layers must be >= 1, got {num_layers}")
        self.z_dim, self.num_ws, self.num_layers, self.w_avg_beta = z_dim, num_ws, num_layers, w_avg_beta
        self.norm = PixelNorm()  # normalize_2nd_moment
        dims = [z_dim] + [w_dim] * num_layers
        for idx, (a, b) in enumerate(zip(dims, dims[1:])):
            self.add_module(f"fc{idx}", EqualizedLinear(a, b, lr_mul=lr_mul, gain=1.0))
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: Tensor, c: Optional[Tensor] = None, truncation_psi: float = 1.0,
                truncation_cutoff: Optional[int] = None, skip_w_avg_update: bool = False) -> Tensor:
        """``c`` is the official label argument: this network is unconditional, so it must be None."""
        if c is not None and c.numel():
            raise ValueError("this StyleGAN2 mapping network is unconditional: pass c=None")
        check_shape(z, ("N", self.z_dim), "z")
        x = self.norm(z)
        for idx in range(self.num_layers):
            x = lrelu(getattr(self, f"fc{idx}")(x))
        if self.training and not skip_w_avg_update:
            self.w_avg.copy_(x.detach().mean(0).lerp(self.w_avg, self.w_avg_beta))
        x = x.unsqueeze(1).repeat(1, self.num_ws, 1)  # (N, num_ws, w_dim)
        if truncation_psi != 1:
            cut = self.num_ws if truncation_cutoff is None else truncation_cutoff
            x = torch.cat([self.w_avg.lerp(x[:, :cut], truncation_psi), x[:, cut:]], dim=1)
        return x


# --- synthesis network ------------------------------------------------------------------------------------------------
def modulated_conv2d(x: Tensor, weight: Tensor, styles: Tensor, demodulate: bool = True,
                     up_kernel: Optional[Tensor] = None) -> Tensor:
    """Eq. 1-3 of the paper as one grouped convolution (the batch folded into the groups).

    x (N, I, H, W), weight (O, I, k, k), styles (N, I). w'_ijk = s_i w_ijk (modulation);
    w''_ijk = w'_ijk / sqrt(sum_ik w'_ijk^2 + 1e-8) (demodulation). With ``up_kernel`` (the FIR filter) the output
    is at 2H x 2W: a stride-2 transposed convolution, then the filter with gain 4 and one pixel of padding.
    """
    n, i, h, w = x.shape
    o, _, k, _ = weight.shape
    wgt = weight[None] * styles[:, None, :, None, None]  # (N, O, I, k, k)
    if demodulate:
        wgt = wgt * torch.rsqrt(wgt.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
    x = x.reshape(1, n * i, h, w)
    if up_kernel is None:
        x = F.conv2d(x, wgt.reshape(n * o, i, k, k), padding=k // 2, groups=n)
    else:
        x = F.conv_transpose2d(x, wgt.transpose(1, 2).reshape(n * i, o, k, k), stride=2, groups=n)  # 2H + k - 2
        x = fir_filter(x, up_kernel * 4.0, ((k - 1) // 2, (k - 1) // 2))  # 2H for k = 3
    return x.reshape(n, o, *x.shape[2:])


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (a 2x upsampling one with ``up``), noise * strength, bias, lrelu, clamp."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False,
                 conv_clamp: Optional[float] = None) -> None:
        super().__init__()
        self.up, self.resolution, self.conv_clamp = up, resolution, conv_clamp
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1.0, gain=1.0)  # A: w -> styles s
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))  # demodulation makes its scale moot
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("resample_filter", fir_kernel(), persistent=False)

    def forward(self, x: Tensor, w: Tensor, noise_mode: str = "random", gain: float = 1.0,
                rng: Optional[torch.Generator] = None) -> Tensor:
        x = modulated_conv2d(x, self.weight, self.affine(w), up_kernel=self.resample_filter if self.up else None)
        if noise_mode == "random":
            n, _, h, wd = x.shape
            x = x + torch.randn(n, 1, h, wd, device=x.device, dtype=x.dtype, generator=rng) * self.noise_strength
        elif noise_mode == "const":
            x = x + self.noise_const * self.noise_strength
        elif noise_mode != "none":
            raise ValueError(f"noise_mode must be 'random', 'const' or 'none', got {noise_mode!r}")
        return bias_act(x, self.bias, gain=gain, clamp=self.conv_clamp)


class ToRGBLayer(nn.Module):
    """1x1 modulated convolution without demodulation, plus a bias: features -> image channels."""

    def __init__(self, in_channels: int, img_channels: int, w_dim: int, conv_clamp: Optional[float] = None) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1.0, gain=1.0)
        self.weight = nn.Parameter(torch.randn(img_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(img_channels))
        self.weight_gain = 1.0 / math.sqrt(in_channels)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        x = modulated_conv2d(x, self.weight, self.affine(w) * self.weight_gain, demodulate=False)
        return bias_act(x, self.bias, act=False, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution: (2x upsampling conv0,) conv1 and, for ``skip`` or the last block, a toRGB.

    ws (N, num_conv + num_torgb, w_dim): one w per conv, then one for the toRGB. ``resnet`` adds a 1x1 upsampled skip
    of the input, both branches scaled by sqrt(1/2).
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 is_last: bool, architecture: str = "skip", conv_clamp: Optional[float] = None) -> None:
        super().__init__()
        self.in_channels, self.resolution, self.architecture = in_channels, resolution, architecture
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True, conv_clamp=conv_clamp)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp)
        self.num_conv = 1 if in_channels == 0 else 2
        self.num_torgb = 1 if is_last or architecture == "skip" else 0
        if self.num_torgb:
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp)
        if in_channels != 0 and architecture == "resnet":
            self.skip = EqualizedConv2d(in_channels, out_channels, 1, bias=False, gain=1.0)
        self.register_buffer("resample_filter", fir_kernel(), persistent=False)

    def forward(self, x: Optional[Tensor], img: Optional[Tensor], ws: Tensor, noise_mode: str = "random",
                rng: Optional[torch.Generator] = None) -> tuple[Tensor, Optional[Tensor]]:
        layer_ws = ws.unbind(1)
        if self.in_channels == 0:
            x = self.conv1(self.const[None].expand(ws.shape[0], -1, -1, -1), layer_ws[0], noise_mode, rng=rng)
        elif self.architecture == "resnet":
            y = upsample_2x(self.skip(x), self.resample_filter) * SQRT_HALF
            x = self.conv0(x, layer_ws[0], noise_mode, rng=rng)
            x = y + self.conv1(x, layer_ws[1], noise_mode, gain=SQRT_HALF, rng=rng)
        else:
            x = self.conv0(x, layer_ws[0], noise_mode, rng=rng)
            x = self.conv1(x, layer_ws[1], noise_mode, rng=rng)
        if img is not None:
            img = upsample_2x(img, self.resample_filter)
        if self.num_torgb:
            y = self.torgb(x, layer_ws[self.num_conv])
            img = y if img is None else img + y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws (N, num_ws, w_dim) -> image (N, C, R, R): blocks ``b4`` ... ``bR``.

    Block b_r takes ws[k : k + num_conv + num_torgb], k counting the convs before it, so a toRGB shares its w with the
    next block's first conv (official indexing); num_ws = 2 log2(R) - 2.
    """

    def __init__(self, w_dim: int, resolution: int, img_channels: int, channels: dict[int, int],
                 architecture: str = "skip", conv_clamp: Optional[float] = None) -> None:
        super().__init__()
        if architecture not in G_ARCHITECTURES:
            raise ValueError(f"g_architecture must be one of {G_ARCHITECTURES}, got {architecture!r}")
        self.w_dim, self.resolution = w_dim, resolution
        self.block_resolutions = sorted(channels)
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(channels[res // 2] if res > 4 else 0, channels[res], w_dim, res, img_channels,
                                   is_last=res == resolution, architecture=architecture, conv_clamp=conv_clamp)
            self.num_ws += block.num_conv + (block.num_torgb if res == resolution else 0)
            self.add_module(f"b{res}", block)

    def forward(self, ws: Tensor, noise_mode: str = "random", rng: Optional[torch.Generator] = None) -> Tensor:
        """``rng`` (a lit_gans addition) draws the random noise, for reproducible samples."""
        check_shape(ws, ("N", self.num_ws, self.w_dim), "ws")
        x = img = None
        w_idx = 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            x, img = block(x, img, ws.narrow(1, w_idx, block.num_conv + block.num_torgb), noise_mode, rng)
            w_idx += block.num_conv
        return img


class StyleGAN2Generator(nn.Module):
    """z (N, z_dim) -> image (N, C, R, R); ``mapping`` then ``synthesis`` (the official calling convention).

    >>> g = StyleGAN2Generator(8, 8, (1, 16, 16), mapping_layers=2, channel_base=64, channel_max=16)
    >>> g(torch.randn(3, 8)).shape, g.num_ws
    (torch.Size([3, 1, 16, 16]), 6)
    """

    def __init__(self, z_dim: int, w_dim: int, img_shape: Sequence[int], mapping_layers: int = 8,
                 mapping_lr_mul: float = 0.01, channel_base: int = 32768, channel_max: int = 512,
                 architecture: str = "skip", conv_clamp: Optional[float] = None) -> None:
        super().__init__()
        c, r, _ = check_image_shape(img_shape, min_size=4)
        self.z_dim, self.w_dim, self.img_resolution, self.img_channels = z_dim, w_dim, r, c
        self.synthesis = SynthesisNetwork(w_dim, r, c, channel_table(r, channel_base, channel_max), architecture,
                                          conv_clamp)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, w_dim, self.num_ws, mapping_layers, mapping_lr_mul)

    def forward(self, z: Tensor, c: Optional[Tensor] = None, truncation_psi: float = 1.0,
                truncation_cutoff: Optional[int] = None, noise_mode: str = "random",
                rng: Optional[torch.Generator] = None) -> Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, rng=rng)


# --- discriminator ----------------------------------------------------------------------------------------------------
class DiscriminatorBlock(nn.Module):
    """Resolution r -> r/2: (fromRGB,) conv0 3x3, conv1 3x3 stride 2 after the FIR blur; ``resnet`` adds a 1x1
    downsampled skip, both branches scaled by sqrt(1/2); ``skip`` adds fromRGB of the downsampled image."""

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, img_channels: int,
                 architecture: str = "resnet", conv_clamp: Optional[float] = None) -> None:
        super().__init__()
        self.in_channels, self.architecture, self.conv_clamp = in_channels, architecture, conv_clamp
        if in_channels == 0 or architecture == "skip":
            self.fromrgb = EqualizedConv2d(img_channels, tmp_channels, 1, gain=1.0)
        self.conv0 = EqualizedConv2d(tmp_channels, tmp_channels, 3, padding=1, gain=1.0)
        self.conv1 = EqualizedConv2d(tmp_channels, out_channels, 3, stride=2, gain=1.0)
        if architecture == "resnet":
            self.skip = EqualizedConv2d(tmp_channels, out_channels, 1, bias=False, gain=1.0)
        self.register_buffer("resample_filter", fir_kernel(), persistent=False)

    def forward(self, x: Optional[Tensor], img: Optional[Tensor]) -> tuple[Tensor, Optional[Tensor]]:
        f = self.resample_filter
        if self.in_channels == 0 or self.architecture == "skip":
            y = lrelu_conv(self.fromrgb, img, self.conv_clamp)
            x = y if x is None else x + y
            img = downsample_2x(img, f) if self.architecture == "skip" else None
        if self.architecture == "resnet":
            y = self.skip(downsample_2x(x, f)) * SQRT_HALF
            x = lrelu_conv(self.conv0, x, self.conv_clamp)
            x = y + lrelu_conv(self.conv1, blur_before_stride2(x, f), self.conv_clamp, gain=SQRT_HALF)
        else:
            x = lrelu_conv(self.conv0, x, self.conv_clamp)
            x = lrelu_conv(self.conv1, blur_before_stride2(x, f), self.conv_clamp)
        return x, img


def lrelu_conv(conv: EqualizedConv2d, x: Tensor, clamp: Optional[float], gain: float = 1.0) -> Tensor:
    """The official ``Conv2dLayer`` with lrelu: conv (with its bias), lrelu, gain, clamp."""
    return bias_act(conv(x), None, gain=gain, clamp=clamp)


def blur_before_stride2(x: Tensor, kernel: Tensor) -> Tensor:
    """The FIR filter at full resolution, padded so that a 3x3 stride-2 conv (no padding) then gives H/2 x W/2: for
    the 4-tap filter 2 pixels each side, H + 1 rows out (official ``conv2d_resample`` with down=2)."""
    k = kernel.shape[-1]
    return fir_filter(x, kernel, ((k + 1) // 2, (k + 1) // 2))


class DiscriminatorEpilogue(nn.Module):
    """4x4 -> logits (N, 1): (fromRGB for ``skip``,) minibatch stddev, conv 3x3, fc, out."""

    def __init__(self, channels: int, img_channels: int, architecture: str = "resnet", mbstd_group: int = 4,
                 mbstd_num_channels: int = 1, conv_clamp: Optional[float] = None) -> None:
        super().__init__()
        self.architecture, self.conv_clamp = architecture, conv_clamp
        if architecture == "skip":
            self.fromrgb = EqualizedConv2d(img_channels, channels, 1, gain=1.0)
        self.mbstd = MinibatchStdDev(mbstd_group, mbstd_num_channels) if mbstd_num_channels > 0 else None
        self.conv = EqualizedConv2d(channels + mbstd_num_channels, channels, 3, padding=1, gain=1.0)
        self.fc = EqualizedLinear(channels * 16, channels, gain=1.0)
        self.out = EqualizedLinear(channels, 1, gain=1.0)

    def forward(self, x: Tensor, img: Optional[Tensor]) -> Tensor:
        if self.architecture == "skip":
            x = x + lrelu_conv(self.fromrgb, img, None)  # the official epilogue's fromRGB has no clamp
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = lrelu_conv(self.conv, x, self.conv_clamp)  # (N, C4, 4, 4)
        return self.out(lrelu(self.fc(x.flatten(1))))


class StyleGAN2Discriminator(nn.Module):
    """image (N, C, R, R) -> logits (N, 1): blocks ``bR`` ... ``b8``, then the epilogue ``b4``.

    FreezeD counts the blocks from the input side (``input_layers``).

    >>> d = StyleGAN2Discriminator((1, 16, 16), channel_base=64, channel_max=16)
    >>> d(torch.randn(4, 1, 16, 16)).shape
    torch.Size([4, 1])
    """

    def __init__(self, img_shape: Sequence[int], channel_base: int = 32768, channel_max: int = 512,
                 mbstd_group: int = 4, architecture: str = "resnet", mbstd_num_channels: int = 1,
                 conv_clamp: Optional[float] = None) -> None:
        super().__init__()
        if architecture not in D_ARCHITECTURES:
            raise ValueError(f"d_architecture must be one of {D_ARCHITECTURES}, got {architecture!r}")
        c, r, _ = check_image_shape(img_shape, min_size=8)  # 8x8 and up: a 4x4 input would skip every block
        self.img_shape = (c, r, r)
        ch = channel_table(r, channel_base, channel_max)
        self.block_resolutions = sorted(ch, reverse=True)[:-1]  # R, R/2, ..., 8
        for res in self.block_resolutions:
            block = DiscriminatorBlock(ch[res] if res < r else 0, ch[res], ch[res // 2], c, architecture, conv_clamp)
            self.add_module(f"b{res}", block)
        self.b4 = DiscriminatorEpilogue(ch[4], c, architecture, mbstd_group, mbstd_num_channels, conv_clamp)

    def input_layers(self) -> list[nn.Module]:
        """The blocks from the input side in order (the first with fromRGB): FreezeD counts these."""
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def forward(self, img: Tensor, c: Optional[Tensor] = None) -> Tensor:
        """``c`` is the official label argument: this network is unconditional, so it must be None."""
        if c is not None and c.numel():
            raise ValueError("this StyleGAN2 discriminator is unconditional: pass c=None")
        check_shape(img, ("N", *self.img_shape), "the discriminator's images")
        x = None
        for res in self.block_resolutions:
            x, img = getattr(self, f"b{res}")(x, img)
        return self.b4(x, img)
