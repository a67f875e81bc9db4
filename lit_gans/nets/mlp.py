"""Fully connected generator and discriminator (Goodfellow et al. 2014) for flat data, optionally class-conditional.

Networks only: no optimizer, loss or logging lives here. Class conditioning follows Mirza & Osindero 2014
(arXiv:1411.1784): the one-hot label y is concatenated to the input of both networks.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_gans.nets.shapes import check_shape


def _mlp(sizes: Sequence[int], activation: nn.Module, norm: bool = False, dropout: float = 0.0) -> nn.Sequential:
    """Linear layers of ``sizes``, each hidden one followed by [batch norm,] the activation [, dropout]; a
    :class:`Maxout` activation widens the linear layer before it to ``pieces`` x its size."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        hidden = i < len(sizes) - 2
        pieces = activation.pieces if hidden and isinstance(activation, Maxout) else 1
        layers.append(nn.Linear(n_in, n_out * pieces))
        if hidden:
            if norm:
                layers.append(nn.BatchNorm1d(n_out * pieces))
            layers.append(copy_module(activation))
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def copy_module(m: nn.Module) -> nn.Module:
    return type(m)(**{k: getattr(m, k) for k in ("negative_slope", "inplace", "pieces") if hasattr(m, k)})


class Maxout(nn.Module):
    """Maxout units (Goodfellow et al. 2013, arXiv:1302.4389): the maximum over ``pieces`` consecutive linear
    features, (N, units x pieces) -> (N, units); PacGAN's discriminators use 5 pieces.

    >>> Maxout(2)(torch.tensor([[1.0, 3.0, -2.0, -5.0]]))
    tensor([[ 3., -2.]])
    """

    def __init__(self, pieces: int) -> None:
        super().__init__()
        if pieces < 2:
            raise ValueError(f"maxout needs at least 2 pieces, got {pieces}")
        self.pieces = pieces

    def forward(self, h: Tensor) -> Tensor:
        return h.unflatten(1, (-1, self.pieces)).amax(dim=2)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}"


def normal_init(net: nn.Module, std: float) -> nn.Module:
    """Every linear layer's weights drawn from N(0, std^2), biases 0 (PacGAN's ``weights_init_std`` 0.02 and
    ``biases_init`` 0, where PyTorch's default is uniform and scaled by fan-in); batch norm keeps its defaults."""
    for m in net.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            nn.init.zeros_(m.bias)
    return net


class MLPGenerator(nn.Module):
    """z (N, z_dim) [+ one-hot y] -> x (N, *data_shape); tanh output for images in [-1, 1], linear for points.

    >>> g = MLPGenerator(z_dim=8, data_shape=(1, 8, 8), hidden=(32,), out_activation="tanh")
    >>> g(torch.randn(4, 8)).shape
    torch.Size([4, 1, 8, 8])
    """

    def __init__(
        self,
        z_dim: int,
        data_shape: Sequence[int],
        hidden: Sequence[int] = (256, 256),
        num_classes: int = 0,
        out_activation: Optional[str] = "tanh",
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        self.z_dim, self.data_shape, self.num_classes = z_dim, tuple(data_shape), num_classes
        sizes = [z_dim + num_classes, *hidden, math.prod(data_shape)]
        self.net = _mlp(sizes, nn.ReLU(), norm=batch_norm)
        self.out = {"tanh": nn.Tanh(), None: nn.Identity(), "none": nn.Identity()}[out_activation]

    def forward(self, z: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        check_shape(z, ("N", self.z_dim), "z")
        h = _concat_label(z, labels, self.num_classes)
        return self.out(self.net(h)).view(-1, *self.data_shape)


class MLPDiscriminator(nn.Module):
    """x (N, *data_shape) [+ one-hot y] -> one logit per sample (N, 1); LeakyReLU(0.2) hidden layers, or maxout
    units of ``maxout_pieces`` pieces (PacGAN's 5) when it is set."""

    def __init__(
        self,
        data_shape: Sequence[int],
        hidden: Sequence[int] = (256, 256),
        num_classes: int = 0,
        dropout: float = 0.0,
        maxout_pieces: int = 0,
    ) -> None:
        super().__init__()
        self.data_shape, self.num_classes = tuple(data_shape), num_classes
        activation = Maxout(maxout_pieces) if maxout_pieces else nn.LeakyReLU(0.2)
        self.net = _mlp([math.prod(data_shape) + num_classes, *hidden, 1], activation, dropout=dropout)

    def forward(self, x: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        check_shape(x, ("N", *self.data_shape), "the discriminator's input")
        return self.net(_concat_label(x.flatten(1), labels, self.num_classes))


def _concat_label(h: Tensor, labels: Optional[Tensor], num_classes: int) -> Tensor:
    if num_classes == 0:
        return h
    if labels is None:
        raise ValueError("this network is class-conditional: pass labels")
    return torch.cat([h, F.one_hot(labels.long(), num_classes).to(h.dtype)], dim=1)
