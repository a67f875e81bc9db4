"""Vanilla GAN: Goodfellow et al. 2014, "Generative Adversarial Nets", arXiv:1406.2661.

Multilayer perceptrons for G and D on flat data (2D points, small images). ``loss`` picks the generator objective of
the paper: ``minimax`` minimises log(1 - D(G(z))) exactly as in the value function (it saturates when D rejects fakes
confidently), ``non_saturating`` maximises log D(G(z)) instead, the fix the paper recommends in section 3 and the
default. The training step is :class:`~lit_gans.models.base.GANModule`'s Algorithm 1 (k = ``n_critic`` = 1).
"""

from __future__ import annotations

from typing import Literal, Optional, Sequence

from lit_gans.models.base import GANModule
from lit_gans.nets.mlp import MLPDiscriminator, MLPGenerator, normal_init
from lit_gans.nets.wrappers import build_discriminator


class VanillaGAN(GANModule):
    """MLP GAN with the minimax or the non-saturating loss.

    Args:
        data_shape: shape of one sample, e.g. (2,) for points or (1, 8, 8) for digits (linked from the data).
        num_classes: ignored here (linked from the data for the conditional variants).
        z_dim: noise dimension.
        g_hidden, d_hidden: hidden layer widths of G and D.
        g_batch_norm: batch norm between G's hidden layers.
        d_dropout: dropout in D's hidden layers (the paper trains D with dropout).
        out_activation: ``tanh`` for data in [-1, 1] (images), ``none`` for unbounded data (points);
            ``auto`` picks tanh for images (3-d shapes) and none otherwise.
        loss: ``minimax``, ``non_saturating`` (the default), ``hinge`` or ``least_squares``.
        pack: PacGAN packing, D judges ``pack`` samples at once (1 = off); see :mod:`lit_gans.nets.wrappers`.
        spectral_norm: spectral normalisation of every layer of D (Miyato et al. 2018).
        d_maxout_pieces: D's hidden units are maxout units of this many pieces (Goodfellow et al. 2013; PacGAN's
            discriminators use 5) instead of LeakyReLU(0.2); 0 = off.
        init_std: every linear layer of G and D drawn from N(0, init_std^2) with zero biases (PacGAN: 0.02);
            ``None`` keeps PyTorch's default initialisation.
        **kwargs: training options of :class:`GANModule` (optimizers, n_critic, ema_decay).

    >>> VanillaGAN(data_shape=(2,), z_dim=4).sample(3, seed=0).shape
    torch.Size([3, 2])
    """

    def __init__(
        self,
        data_shape: Sequence[int] = (2,),
        num_classes: int = 0,
        z_dim: int = 100,
        g_hidden: Sequence[int] = (256, 256),
        d_hidden: Sequence[int] = (256, 256),
        g_batch_norm: bool = False,
        d_dropout: float = 0.0,
        out_activation: Literal["auto", "tanh", "none"] = "auto",
        loss: Literal["minimax", "non_saturating", "hinge", "least_squares"] = "non_saturating",
        pack: int = 1,
        spectral_norm: bool = False,
        d_maxout_pieces: int = 0,
        init_std: Optional[float] = None,
        **kwargs,
    ) -> None:
        super().__init__(loss=loss, **kwargs)
        self.save_hyperparameters(ignore=_NOT_HPARAMS)
        if out_activation == "auto":
            out_activation = "tanh" if len(data_shape) == 3 else "none"
        init = (lambda net: net) if init_std is None else (lambda net: normal_init(net, init_std))
        self.generator = init(MLPGenerator(z_dim, data_shape, g_hidden, 0, out_activation, g_batch_norm))
        self.discriminator = build_discriminator(  # initialised before spectral norm reparametrises the weights
            lambda shape: init(MLPDiscriminator(shape, d_hidden, 0, d_dropout, d_maxout_pieces)), data_shape, pack,
            spectral_norm,
        )


#: factories are not hyper-parameters: they are not serialisable, and the run directory's config keeps them.
_NOT_HPARAMS = ["g_optimizer", "d_optimizer", "g_scheduler", "d_scheduler"]
