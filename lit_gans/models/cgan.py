"""Conditional GAN: Mirza & Osindero 2014, "Conditional Generative Adversarial Nets", arXiv:1411.1784.

The class label y is given to both players (one-hot, beside z in G and beside x in D), and the minimax game of
equation (2) becomes min_G max_D E[log D(x|y)] + E[log(1 - D(G(z|y)|y))]. The discriminator sees each real image with
its own label and each fake with the label it was generated for. ``net`` chooses the MLP networks of the paper
(section 4.1 uses fully connected layers on MNIST) or the DCGAN convolutional networks with label planes.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Sequence

import torch
from torch import Tensor, nn

from lit_gans.models.base import GANModule
from lit_gans.models.gan import _NOT_HPARAMS
from lit_gans.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from lit_gans.nets.mlp import MLPDiscriminator, MLPGenerator


class CGAN(GANModule):
    """Class-conditional GAN over MLP or DCGAN networks.

    Args:
        data_shape: shape of one sample (linked from the data).
        num_classes: number of classes (linked from the data); must be at least 2.
        net: ``mlp`` or ``dcgan``.
        z_dim: noise dimension.
        hidden: hidden widths of the MLPs (``net: mlp``).
        base_channels: channels of D at half the image size (``net: dcgan``); G has twice as many.
        d_dropout: dropout in the MLP discriminator (the paper uses 0.5).
        g_batch_norm: batch norm between the MLP generator's hidden layers (not in the paper, which predates it;
            without it the MLP generator collapses to one image on the digits within a few hundred steps).
        **kwargs: training options of :class:`GANModule`.
    """

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 8, 8),
        num_classes: int = 10,
        net: Literal["mlp", "dcgan"] = "mlp",
        z_dim: int = 100,
        hidden: Sequence[int] = (256, 512),
        base_channels: int = 64,
        d_dropout: float = 0.5,
        g_batch_norm: bool = True,
        loss: Literal["minimax", "non_saturating", "hinge", "least_squares"] = "non_saturating",
        **kwargs,
    ) -> None:
        super().__init__(loss=loss, **kwargs)
        self.save_hyperparameters(ignore=_NOT_HPARAMS)
        if num_classes < 2:
            raise ValueError(f"CGAN needs labelled data with >= 2 classes, but the data has {num_classes}")
        if net == "mlp":
            out = "tanh" if len(data_shape) == 3 else "none"
            self.generator: nn.Module = MLPGenerator(z_dim, data_shape, hidden, num_classes, out, g_batch_norm)
            self.discriminator: nn.Module = MLPDiscriminator(data_shape, hidden[::-1], num_classes, d_dropout)
        else:
            self.generator = DCGANGenerator(z_dim, data_shape, 2 * base_channels, num_classes=num_classes)
            self.discriminator = DCGANDiscriminator(data_shape, base_channels, num_classes=num_classes)

    def condition(self, batch: Any) -> dict[str, Tensor]:
        return {"labels": batch[1]}

    def generate(self, net: nn.Module, z: Tensor, labels: Tensor) -> Tensor:
        return net(z, labels)

    def discriminate(self, x: Tensor, labels: Tensor) -> Tensor:
        return self.discriminator(x, labels).flatten()

    @property
    def num_label_classes(self) -> int:
        return int(self.hparams.num_classes)

    def sample_condition(
        self, n: int, rng: Optional[torch.Generator], labels: int | Sequence[int] | Tensor | None = None
    ) -> dict[str, Tensor]:
        """``labels``: one class for all, one per sample, or ``None`` for 0, 1, ..., K-1, 0, 1, ... in turn."""
        k = self.hparams.num_classes
        if labels is None:
            y = torch.arange(n) % k
        else:
            y = torch.as_tensor(labels, dtype=torch.long).flatten()
            y = y.expand(n) if y.numel() == 1 else y
            if y.numel() != n or int(y.min()) < 0 or int(y.max()) >= k:
                raise ValueError(f"labels must be n={n} values (or one) in [0, {k - 1}], got {labels}")
        return {"labels": y.to(self.device)}
