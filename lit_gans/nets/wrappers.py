"""Options any discriminator can take, applied around a network built by its model:

- spectral normalisation (Miyato et al. 2018, "Spectral Normalization for Generative Adversarial Networks",
  arXiv:1802.05957): every linear and convolution weight W is divided by its largest singular value sigma(W),
  estimated by one power iteration per forward pass, so that each layer is 1-Lipschitz;
- packing (Lin et al. 2018, "PacGAN: The power of two samples in generative adversarial networks",
  arXiv:1712.04086): the discriminator judges ``pack`` samples at once, concatenated along their first (channel or
  feature) axis, all real or all fake; it is built for the packed shape (pack * C, H, W) or (pack * D,).

:func:`build_discriminator` is the one entry point the models use, so every model gets both options the same way.
"""

from __future__ import annotations

from typing import Callable, Sequence

from torch import Tensor, nn
from torch.nn.utils import parametrizations


def packed_shape(data_shape: Sequence[int], pack: int) -> tuple[int, ...]:
    """Shape a packed discriminator sees: the first axis of one sample, ``pack`` times wider.

    >>> packed_shape((3, 32, 32), 4), packed_shape((2,), 2)
    ((12, 32, 32), (4,))
    """
    return (pack * int(data_shape[0]), *map(int, data_shape[1:]))


class Packed(nn.Module):
    """Runs ``net`` on groups of ``pack`` consecutive samples: x (N, C, ...) -> (N / pack, pack * C, ...) -> net."""

    def __init__(self, net: nn.Module, pack: int) -> None:
        super().__init__()
        self.net, self.pack = net, pack

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        if n % self.pack:
            raise ValueError(f"a packed discriminator needs batches in multiples of pack={self.pack}, got {n} samples; "
                             f"set data.batch_size to a multiple of {self.pack}")
        # consecutive samples side by side on axis 1: (N, C, ...) -> (N / pack, pack * C, ...)
        return self.net(x.reshape(n // self.pack, self.pack * x.shape[1], *x.shape[2:]))


def spectral_normalize(net: nn.Module) -> nn.Module:
    """Puts spectral normalisation on every linear and (transposed) convolution layer of ``net``, in place."""
    for module in list(net.modules()):
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)):
            parametrizations.spectral_norm(module)
    return net


def build_discriminator(
    build: Callable[[tuple[int, ...]], nn.Module],
    data_shape: Sequence[int],
    pack: int = 1,
    spectral_norm: bool = False,
) -> nn.Module:
    """``build(input_shape)`` with the options on: the input shape packed, the weights spectrally normalised.

    >>> from lit_gans.nets.mlp import MLPDiscriminator
    >>> d = build_discriminator(lambda s: MLPDiscriminator(s, (16,)), (2,), pack=2, spectral_norm=True)
    >>> import torch; d(torch.randn(6, 2)).shape
    torch.Size([3, 1])
    """
    if pack < 1:
        raise ValueError(f"pack must be >= 1 (1 = no packing), got {pack}")
    net = build(packed_shape(data_shape, pack))
    if spectral_norm:
        spectral_normalize(net)
    return Packed(net, pack) if pack > 1 else net
