"""DCGAN: Radford, Metz & Chintala 2015, "Unsupervised Representation Learning with Deep Convolutional Generative
Adversarial Networks", arXiv:1511.06434.

The networks are :mod:`lit_gans.nets.dcgan` (the paper's architecture guidelines); training is the standard game with
the paper's settings (section 4): Adam, learning rate 0.0002, beta1 0.5, batch size 128, z of 100 dimensions drawn
uniformly in the paper (here N(0, I), as in the authors' later code and most reimplementations; ``z_dist: uniform``
restores the paper's U(-1, 1)).
"""

from __future__ import annotations

from typing import Literal, Optional, Sequence

import torch
from torch import Tensor

from lit_gans.models.base import GANModule
from lit_gans.models.gan import _NOT_HPARAMS
from lit_gans.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from lit_gans.nets.wrappers import build_discriminator


class DCGAN(GANModule):
    """Deep convolutional GAN for square power-of-two images of any channel count.

    Args:
        data_shape: (C, S, S) of the images, linked from the data; S a power of two >= 8.
        num_classes: ignored (linked from the data; see :class:`~lit_gans.models.cgan.CGAN` for conditioning).
        z_dim: noise dimension (100 in the paper).
        g_channels, d_channels: channels of G and of D at half the image size, doubling per stage towards 4x4
            (the paper's 64x64 networks: G 1024-512-256-128, D 64-128-256-512, so 128 and 64).
        max_channels: cap of the channel count per stage.
        z_dist: ``normal`` N(0, I) or ``uniform`` U(-1, 1) (the paper's).
        loss: ``minimax``, ``non_saturating`` (the default), ``hinge`` or ``least_squares``.
        d_norm: D's hidden-layer normalisation, ``batch`` (the paper), ``layer`` or ``none``.
        pack: PacGAN packing, D judges ``pack`` images at once (1 = off); see :mod:`lit_gans.nets.wrappers`.
        spectral_norm: spectral normalisation of every layer of D (Miyato et al. 2018).
        **kwargs: training options of :class:`GANModule`.

    >>> DCGAN(data_shape=(1, 16, 16), g_channels=8, d_channels=8).sample(2, seed=0).shape
    torch.Size([2, 1, 16, 16])
    """

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 64, 64),
        num_classes: int = 0,
        z_dim: int = 100,
        g_channels: int = 128,
        d_channels: int = 64,
        max_channels: int = 1024,
        z_dist: Literal["normal", "uniform"] = "normal",
        loss: Literal["minimax", "non_saturating", "hinge", "least_squares"] = "non_saturating",
        d_norm: Literal["batch", "layer", "none"] = "batch",
        pack: int = 1,
        spectral_norm: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(loss=loss, **kwargs)
        self.save_hyperparameters(ignore=_NOT_HPARAMS)
        self.generator = DCGANGenerator(z_dim, data_shape, g_channels, max_channels)
        self.discriminator = build_discriminator(
            lambda shape: DCGANDiscriminator(shape, d_channels, max_channels, norm=d_norm),
            data_shape,
            pack,
            spectral_norm,
        )

    def sample_latent(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
        if self.hparams.z_dist == "uniform":
            return torch.rand(n, self.hparams.z_dim, device=self.device, generator=generator) * 2.0 - 1.0
        return super().sample_latent(n, generator)
