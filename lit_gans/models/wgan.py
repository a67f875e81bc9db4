"""WGAN and WGAN-GP: a critic that estimates the earth-mover distance, kept Lipschitz by clipping or by a penalty.

- Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN", arXiv:1701.07875, Algorithm 1 (:class:`WGAN`);
- Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville 2017, "Improved Training of Wasserstein GANs", arXiv:1704.00028,
  Algorithm 1 (:class:`WGANGP`).

The critic C is a discriminator without a sigmoid. By Kantorovich-Rubinstein duality,
W(P_r, P_g) = max over 1-Lipschitz C of E[C(x)] - E[C(G(z))]. One generator iteration of both algorithms:

1. for t = 1, ..., n_critic (one training batch each):
   0. WGAN only: clip every critic weight to [-c, c]                                          (WGAN line 7)
   a. sample real x, noise z; the critic loss is L = E[C(G(z))] - E[C(x)]                     (WGAN line 5)
   b. WGAN-GP only: on x_hat = e x + (1 - e) G(z), e ~ U[0, 1], add lambda E[(||grad C(x_hat)||_2 - 1)^2]
                                                                                              (WGAN-GP lines 6-7)
   c. update the critic: RMSProp (WGAN), Adam (WGAN-GP)                                       (WGAN line 6 / GP 9)
2. sample z; update the generator on -E[C(G(z))]                                             (WGAN line 10 / GP 11)

Algorithm 1 of WGAN writes the clipping after the critic's update; its reference code
(github.com/martinarjovsky/WassersteinGAN, main.py) clamps at the start of each critic iteration (step 0 here), so
the initial weights are clipped before the critic's first loss, and the generator is trained against the critic as
its last update left it (within one step of the box). This module does what the reference code does.

The batch-by-batch cadence is the base module's (:meth:`GANModule.generator_step_due`); here it reads a
:class:`CriticSchedule`, so the reference code's extra critic iterations early on are a table, not control flow.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Sequence

import torch
from torch import Tensor, nn

from lit_gans.losses import gradient_penalty
from lit_gans.models.base import GANModule
from lit_gans.models.gan import _NOT_HPARAMS
from lit_gans.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from lit_gans.nets.mlp import MLPDiscriminator, MLPGenerator
from lit_gans.nets.wrappers import build_discriminator

#: The schedule of the WGAN reference code (github.com/martinarjovsky/WassersteinGAN, main.py): 100 critic
#: iterations before each of the first 25 generator iterations and before every 500th one, n_critic otherwise.
PAPER_CRITIC_SCHEDULE = ({"until": 25, "n_critic": 100}, {"every": 500, "n_critic": 100})


class CriticSchedule:
    """Critic iterations before each generator iteration, as data.

    ``rules`` are dicts tried in order, the first that matches generator iteration k (0-based) gives its count:
    ``{"until": K, "n_critic": m}`` matches k < K, ``{"every": K, "n_critic": m}`` matches k % K == 0;
    with no match the count is ``n_critic``.

    >>> s = CriticSchedule(5, PAPER_CRITIC_SCHEDULE)
    >>> [s.n_critic_at(k) for k in (0, 24, 25, 499, 500)], s.critic_steps_through(25)
    ([100, 100, 5, 5, 100], 2505)
    """

    def __init__(self, n_critic: int, rules: Sequence[dict[str, int]] = ()) -> None:
        self.n_critic, self.rules = n_critic, [dict(r) for r in rules]
        for rule in self.rules:
            kind = set(rule) - {"n_critic"}
            if "n_critic" not in rule or kind not in ({"until"}, {"every"}) or min(rule.values()) < 1:
                raise ValueError(f"bad critic_schedule rule {rule}: write {{until: K, n_critic: m}} or "
                                 f"{{every: K, n_critic: m}} with positive integers")
        self._cumulative = [0]  # _cumulative[k] = critic iterations before generator iteration k

    def n_critic_at(self, g_step: int) -> int:
        """Critic iterations before generator iteration ``g_step`` (0-based)."""
        for rule in self.rules:
            if ("until" in rule and g_step < rule["until"]) or ("every" in rule and g_step % rule["every"] == 0):
                return rule["n_critic"]
        return self.n_critic

    def critic_steps_through(self, g_step: int) -> int:
        """Total critic iterations that precede generator iteration ``g_step`` and its own critic iterations."""
        while len(self._cumulative) <= g_step + 1:
            k = len(self._cumulative) - 1
            self._cumulative.append(self._cumulative[-1] + self.n_critic_at(k))
        return self._cumulative[g_step + 1]


class _CriticGAN(GANModule):
    """What WGAN and WGAN-GP share: the Wasserstein loss, MLP or DCGAN networks, the critic schedule.

    Args:
        data_shape: shape of one sample (linked from the data): (2,) for points, (C, H, W) for images.
        num_classes: ignored (linked from the data).
        net: ``mlp`` (points, flat digits), ``dcgan`` (square power-of-two images of any channel count) or
            ``auto``: dcgan for (C, H, W) data, mlp otherwise.
        z_dim: noise dimension.
        g_hidden, d_hidden: hidden widths of the MLPs (``net: mlp``).
        g_channels, d_channels, max_channels: channel widths of the DCGAN networks (``net: dcgan``), as in
            :class:`~lit_gans.models.dcgan.DCGAN`.
        d_norm: the DCGAN critic's hidden-layer normalisation (``batch``, ``layer`` or ``none``).
        kernel_size: kernel of the DCGAN networks' stride-2 layers (4 as DCGAN; 5 in WGAN-GP's ``gan_cifar.py``).
        n_critic: critic iterations per generator iteration (5 in both papers).
        critic_schedule: optional rules of a :class:`CriticSchedule` (e.g. :data:`PAPER_CRITIC_SCHEDULE`).
        pack, spectral_norm: options of :func:`~lit_gans.nets.wrappers.build_discriminator`.
        **kwargs: training options of :class:`GANModule` (optimizers, schedulers, ema_decay).
    """

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 64, 64),
        num_classes: int = 0,
        net: Literal["auto", "mlp", "dcgan"] = "auto",
        z_dim: int = 100,
        g_hidden: Sequence[int] = (512, 512, 512),
        d_hidden: Sequence[int] = (512, 512, 512),
        g_channels: int = 128,
        d_channels: int = 64,
        max_channels: int = 1024,
        d_norm: Literal["batch", "layer", "none"] = "batch",
        kernel_size: int = 4,
        n_critic: int = 5,
        critic_schedule: Optional[list[dict[str, int]]] = None,
        pack: int = 1,
        spectral_norm: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(loss="wasserstein", n_critic=n_critic, **kwargs)
        self.save_hyperparameters(ignore=_NOT_HPARAMS)
        self.schedule = CriticSchedule(n_critic, critic_schedule or ())
        net = ("dcgan" if len(data_shape) == 3 else "mlp") if net == "auto" else net
        if net == "mlp":
            out = "tanh" if len(data_shape) == 3 else "none"
            self.generator: nn.Module = MLPGenerator(z_dim, data_shape, g_hidden, 0, out)
            build = lambda shape: MLPDiscriminator(shape, d_hidden)  # noqa: E731
        elif net == "dcgan":
            self.generator = DCGANGenerator(z_dim, data_shape, g_channels, max_channels, kernel_size=kernel_size)
            build = lambda shape: DCGANDiscriminator(  # noqa: E731
                shape, d_channels, max_channels, norm=d_norm, kernel_size=kernel_size)
        else:
            raise ValueError(f"unknown net {net!r}; choose 'mlp', 'dcgan' or 'auto'")
        self.discriminator = build_discriminator(build, data_shape, pack, spectral_norm)

    def generator_step_due(self) -> bool:
        # step 2 once generator iteration g_steps has had all its critic iterations
        return self.d_steps >= self.schedule.critic_steps_through(self.g_steps)

    def d_output_logs(self, real_out: Tensor, fake_out: Tensor) -> dict[str, Tensor]:
        """Mean critic values, and E[C(x)] - E[C(G(z))]: the critic's estimate of W(P_r, P_g) (on logging steps)."""
        if self.quiet_step():
            return {}
        w_distance = (real_out.detach().mean() - fake_out.detach().mean())
        return {**super().d_output_logs(real_out, fake_out), "w_distance": w_distance}


class WGAN(_CriticGAN):
    """Wasserstein GAN with weight clipping (Arjovsky et al. 2017, Algorithm 1).

    Paper defaults: RMSProp, learning rate 5e-5, clipping c = 0.01, n_critic = 5, batch size 64; the DCGAN critic
    keeps batch norm as in the reference code. ``critic_schedule: PAPER_CRITIC_SCHEDULE``'s rules turn on the
    reference code's 100 critic iterations early on and every 500 generator iterations.

    Args:
        clip_value: c, every critic parameter is clipped to [-c, c] before each critic update (the reference code's
            order: the critic's loss is always computed on clipped weights).
        **kwargs: as :class:`_CriticGAN` (networks, n_critic, critic_schedule, pack, spectral_norm, optimizers).

    >>> WGAN(data_shape=(2,), z_dim=2, g_hidden=(8,), d_hidden=(8,)).sample(3, seed=0).shape
    torch.Size([3, 2])
    """

    default_optimizer = (torch.optim.RMSprop, {"lr": 5e-5})

    def __init__(self, clip_value: float = 0.01, **kwargs: Any) -> None:
        if clip_value <= 0:
            raise ValueError(f"clip_value must be positive, got {clip_value}")
        super().__init__(**kwargs)  # saves clip_value too: Lightning collects the subclass's arguments

    def player_step(self, name: str, opt, net: nn.Module, loss_fn, batch: Any) -> dict[str, Tensor]:
        if name == "d":
            clip_weights_(self.discriminator, self.hparams.clip_value)  # step 1.0, before the critic's loss
        return super().player_step(name, opt, net, loss_fn, batch)  # steps 1a, 1c or 2


class WGANGP(_CriticGAN):
    """WGAN with a gradient penalty (Gulrajani et al. 2017, Algorithm 1).

    Paper defaults: lambda = 10, n_critic = 5, Adam with learning rate 1e-4 and betas (0, 0.9) (Algorithm 1; the
    reference code's toy, MNIST and DCGAN runs use betas (0.5, 0.9): set ``g_optimizer``/``d_optimizer``), no batch
    norm in the critic (``d_norm: layer``, the paper's suggestion, by default).

    Args:
        gp_lambda: lambda, weight of the gradient penalty.
        **kwargs: as :class:`_CriticGAN`.

    >>> WGANGP(data_shape=(3, 8, 8), z_dim=4, g_channels=4, d_channels=4).sample(2, seed=0).shape
    torch.Size([2, 3, 8, 8])
    """

    default_optimizer = (torch.optim.Adam, {"lr": 1e-4, "betas": (0.0, 0.9)})

    def __init__(self, gp_lambda: float = 10.0, d_norm: Literal["batch", "layer", "none"] = "layer", **kwargs: Any):
        if d_norm == "batch":
            raise ValueError("WGAN-GP penalises each sample's gradient, which batch norm makes depend on the whole "
                             "batch: set d_norm to 'layer' or 'none'")
        if gp_lambda < 0:
            raise ValueError(f"gp_lambda must be >= 0, got {gp_lambda}")
        super().__init__(d_norm=d_norm, **kwargs)

    def discriminator_loss(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        real = self.real_data(batch)
        fake = self.generate(self.generator, self.sample_latent(real.shape[0])).detach()
        real_out, fake_out = self.discriminate(real), self.discriminate(fake)
        penalty = gradient_penalty(self.discriminate, real, fake)  # step 1b
        loss = self.adv.d_loss(real_out, fake_out) + self.hparams.gp_lambda * penalty  # step 1a + 1b
        return loss, {**self.d_output_logs(real_out, fake_out), "gradient_penalty": penalty.detach()}


@torch.no_grad()
def clip_weights_(net: nn.Module, c: float) -> None:
    """Clamps every parameter of ``net`` to [-c, c] in place (all of them, batch-norm scales too, as the reference
    code does)."""
    for p in net.parameters():
        p.clamp_(-c, c)
