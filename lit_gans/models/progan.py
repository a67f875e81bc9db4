"""Progressive GAN: Karras, Aila, Laine & Lehtinen 2017, "Progressive Growing of GANs for Improved Quality, Stability,
and Variation", arXiv:1710.10196.

One training batch (sections 2-4 and appendix A.1), with r the current resolution and alpha the fade-in weight:

1. read (r, alpha) from the schedule at the number of real images shown so far (:func:`schedule_phase`); entering a
   fade-in or a stabilisation phase resets the Adam moments (the authors' code resets them whenever the floor or the
   ceiling of its level of detail changes), and a new resolution sets its learning rate and batch size;
2. bring the real images to r: average-pool from full size, and during a fade-in blend them with the upsampled r/2
   version by the same alpha as the networks, x = (1 - alpha) * up(down(x_r)) + alpha * x_r (A.1);
3. critic update, G frozen: L_D = E[D(G(z))] - E[D(x)] + lambda * E[(||grad D(x_hat)|| - 1)^2] + eps_drift * E[D(x)^2]
   (WGAN-GP with lambda 10, plus the drift term eps_drift = 0.001 that keeps D(x) near zero, section A.1);
4. generator update, D frozen: L_G = -E[D(G(z))];
5. generator_ema <- 0.999 * generator_ema + 0.001 * generator (the networks shown in the paper); count the images.

The schedule is data: ``stable_kimg`` thousand images at 4x4, then for every next resolution ``fade_kimg`` thousand
images of fade-in (alpha 0 -> 1) and ``stable_kimg`` thousand of stabilisation; ``batch_size`` and ``lr`` tables give
the per-resolution values. The only state is the counter ``images_shown`` (and ``trained_resolution`` /
``trained_stable``, to know when a fade-in or a stabilisation phase starts), Python ints in the state dict; all are in every checkpoint, so a
resumed run continues at the same (r, alpha).
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from lit_gans.losses import drift_penalty, gradient_penalty
from lit_gans.models.base import GANModule
from lit_gans.models.gan import _NOT_HPARAMS
from lit_gans.nets.progan import ProGANDiscriminator, ProGANGenerator, downsample, resolutions, upsample


class Phase(NamedTuple):
    """Where the schedule is: resolution r, fade-in weight alpha (1 when stable), batch size and learning rate."""

    resolution: int
    alpha: float
    batch_size: Optional[int]  #: None: the DataLoader's batch as it comes
    lr: Optional[float]  #: None: the optimizers' own learning rate


def schedule_phase(images_shown: int, target: int, fade_images: int, stable_images: int) -> tuple[int, float]:
    """(resolution, alpha) after ``images_shown`` real images: 4x4 stable, then fade-in + stable per resolution.

    >>> [schedule_phase(n, 16, fade_images=100, stable_images=100) for n in (0, 100, 150, 250, 350, 500, 10**6)]
    [(4, 1.0), (8, 0.0), (8, 0.5), (8, 1.0), (16, 0.5), (16, 1.0), (16, 1.0)]
    """
    t = images_shown
    if t < stable_images:
        return 4, 1.0
    t -= stable_images
    for r in resolutions(target)[1:]:
        if t < fade_images:
            return r, t / fade_images
        t -= fade_images
        if t < stable_images:
            return r, 1.0
        t -= stable_images
    return target, 1.0


def schedule_images(resolution: int, alpha: float, fade_images: int, stable_images: int) -> int:
    """The inverse of :func:`schedule_phase` within a fade-in: the images shown when ``resolution`` has ``alpha``.

    >>> schedule_images(16, 0.5, fade_images=100, stable_images=100)
    350
    """
    if resolution == 4:
        return 0
    steps_below = len(resolutions(resolution)) - 2  # completed (fade + stable) phases above 4x4
    return stable_images + steps_below * (fade_images + stable_images) + round(alpha * fade_images)


def real_images_at(x: Tensor, resolution: int, alpha: float) -> Tensor:
    """Real images (N, C, S, S) brought to (N, C, r, r) by average pooling, faded like the networks (A.1)."""
    while x.shape[-1] > resolution:
        x = downsample(x)
    if alpha < 1.0:
        x = torch.lerp(upsample(downsample(x)), x, alpha)
    return x


class ProGAN(GANModule):
    """Progressive GAN for square power-of-two images, grown from 4x4 to the data's size.

    Args:
        data_shape: (C, S, S) of the images, linked from the data; S is the target resolution.
        num_classes: ignored (linked from the data).
        z_dim: latent size (512 in the paper).
        channels: feature maps per resolution, e.g. {4: 512, 8: 512, 16: 512, 32: 512, 64: 256}; None = Table 2.
        fade_kimg, stable_kimg: thousands of real images shown per fade-in and per stabilisation phase (800, 800).
        batch_size: per-resolution batch size, listed where it changes: {4: 16, 256: 14} is 16 up to 128x128 and 14
            from 256x256. Each DataLoader batch is cut to it, so ``data.batch_size`` must be at least its largest
            value. None = the DataLoader's batch size.
        lr: per-resolution learning rate of both players, listed where it changes like ``batch_size``; resolutions
            below the first entry use the optimizers' own. None = the optimizers' own (and their schedulers') always.
        gp_lambda: weight lambda of the gradient penalty (10).
        eps_drift: weight of the drift term E[D(x)^2] (0.001).
        group_size: minibatch standard deviation group (4).
        reset_optimizer_on_grow: clear the Adam moments when a fade-in starts and again when its stabilisation phase
            starts (the authors' ``reset_opt_for_new_lod``, on by default there too).
        ema_decay: decay of the EMA generator used for sampling (0.999).
        loss: the paper's Wasserstein loss (the only choice; the gradient penalty and drift assume it).
        **kwargs: training options of :class:`GANModule` (optimizers, n_critic).

    >>> ProGAN(data_shape=(1, 16, 16), z_dim=8, channels={4: 8, 8: 8, 16: 4}).sample(2, seed=0).shape
    torch.Size([2, 1, 16, 16])
    """

    default_optimizer = (torch.optim.Adam, {"lr": 1e-3, "betas": (0.0, 0.99), "eps": 1e-8})
    host_counters = GANModule.host_counters + ("images_shown", "trained_resolution", "trained_stable")

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 1024, 1024),
        num_classes: int = 0,
        z_dim: int = 512,
        channels: Optional[dict[int, int]] = None,
        fade_kimg: float = 800.0,
        stable_kimg: float = 800.0,
        batch_size: Optional[dict[int, int]] = None,
        lr: Optional[dict[int, float]] = None,
        gp_lambda: float = 10.0,
        eps_drift: float = 0.001,
        group_size: int = 4,
        reset_optimizer_on_grow: bool = True,
        ema_decay: Optional[float] = 0.999,
        loss: Literal["wasserstein"] = "wasserstein",
        **kwargs,
    ) -> None:
        if loss != "wasserstein":
            raise ValueError(f"ProGAN trains with the Wasserstein loss (WGAN-GP + drift), got loss={loss!r}: remove it")
        super().__init__(loss=loss, ema_decay=ema_decay, **kwargs)
        # tables from YAML may arrive with string keys: keep int resolutions in the saved hyper-parameters
        channels = {int(r): int(c) for r, c in channels.items()} if channels else None
        batch_size = {int(r): int(b) for r, b in batch_size.items()} if batch_size else None
        lr = {int(r): float(v) for r, v in lr.items()} if lr else None
        self.save_hyperparameters(ignore=_NOT_HPARAMS)
        c, size = self._check_args(data_shape, fade_kimg, stable_kimg, batch_size, lr)
        self.target = size
        self.fade_images, self.stable_images = round(fade_kimg * 1000), round(stable_kimg * 1000)
        self.batch_table, self.lr_table = batch_size or {}, lr or {}
        self.generator = ProGANGenerator(z_dim, c, size, channels)
        self.discriminator = ProGANDiscriminator(c, size, channels, group_size)
        # the schedule's position: real images shown to D so far, and the resolution and stage (1: stable, 0: fading
        # in) the last step trained; Python ints saved in the state dict (host_counters)
        self.images_shown, self.trained_resolution, self.trained_stable = 0, 0, 0

    @staticmethod
    def _check_args(data_shape, fade_kimg, stable_kimg, batch_size, lr) -> tuple[int, int]:
        if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
            raise ValueError(f"ProGAN needs square images (C, S, S), got {tuple(data_shape)}: set data.image_size")
        if fade_kimg <= 0 or stable_kimg <= 0:
            raise ValueError(f"fade_kimg and stable_kimg must be positive, got {fade_kimg} and {stable_kimg}")
        for name, table in (("batch_size", batch_size), ("lr", lr)):
            if any(v <= 0 for v in (table or {}).values()):
                raise ValueError(f"every {name} in the schedule must be positive, got {table}")
        resolutions(int(data_shape[1]))  # a power of two >= 4, or a clear error
        return int(data_shape[0]), int(data_shape[1])

    # --- the schedule ---------------------------------------------------------------------------------------------
    @property
    def phase(self) -> Phase:
        """The schedule's phase at the current image count."""
        r, alpha = schedule_phase(self.images_shown, self.target, self.fade_images, self.stable_images)
        return Phase(r, alpha, self._lookup(self.batch_table, r), self._lookup(self.lr_table, r))

    @staticmethod
    def _lookup(table: dict, resolution: int):
        """The value for the largest listed resolution <= ``resolution`` (tables list only where a value changes)."""
        keys = [k for k in table if k <= resolution]
        return table[max(keys)] if keys else None

    def enter_phase(self, phase: Phase) -> None:
        """Step 1's side effects: a fresh Adam state when a fade-in or a stabilisation phase starts, and the phase's
        learning rate."""
        stable = int(phase.alpha >= 1.0)
        new_stage = (self.trained_resolution, self.trained_stable) != (phase.resolution, stable)
        for opt in self.optimizers():
            opt = getattr(opt, "optimizer", opt)  # Lightning wraps each optimizer
            if new_stage and self.hparams.reset_optimizer_on_grow:
                opt.state.clear()
            for group in opt.param_groups if self.lr_table else ():  # no table: the lr stays the optimizer's own
                group.setdefault("base_lr", group["lr"])  # the optimizer's own lr, kept in its state_dict
                group["lr"] = phase.lr if phase.lr is not None else group["base_lr"]
        self.trained_resolution, self.trained_stable = phase.resolution, stable

    # --- the training step ----------------------------------------------------------------------------------------
    def training_step(self, batch: Any, batch_idx: int) -> None:
        """The base's step (its loop over the base's schedule: steps 3-5) on the real images of this step's growth
        phase, wrapped by steps 1-2 and the count of images: the fade-in is a schedule of the data, not of updates."""
        # 1. schedule phase
        phase = self.phase
        self.enter_phase(phase)
        # 2. real images at the current resolution, cut to the phase's batch size and faded in
        x = self.real_data(batch)
        if phase.batch_size is not None:
            if x.shape[0] < phase.batch_size:
                raise ValueError(
                    f"the DataLoader gave {x.shape[0]} images but the schedule wants batches of {phase.batch_size} at "
                    f"{phase.resolution}x{phase.resolution}: set data.batch_size >= {max(self.batch_table.values())}"
                )
            x = x[: phase.batch_size]
        x = real_images_at(x, phase.resolution, phase.alpha)
        # 3.-5. critic step, generator step, EMA (GANModule.training_step with the losses below)
        logs = self.host_read  # the base step logs only then (it reads the host)
        super().training_step(x, batch_idx)
        self.images_shown += x.shape[0]
        if logs:
            self.log_dict({"train/resolution": float(phase.resolution), "train/alpha": phase.alpha,
                           "train/kimg": self.images_shown / 1000.0}, batch_size=x.shape[0])

    def critic(self, x: Tensor) -> Tensor:
        """D(x) at the current phase, shape (N,)."""
        r, alpha, *_ = self.phase
        return self.discriminator(x, resolution=r, alpha=alpha).flatten()

    def fake_images(self, n: int) -> Tensor:
        """G(z) at the current phase, (n, C, r, r)."""
        r, alpha, *_ = self.phase
        return self.generator(self.sample_latent(n), resolution=r, alpha=alpha)

    def discriminator_loss(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Step 3: Wasserstein critic loss + lambda * gradient penalty + eps_drift * E[D(x)^2]."""
        fake = self.fake_images(x.shape[0]).detach()
        real_out, fake_out = self.critic(x), self.critic(fake)
        gp = gradient_penalty(self.critic, x, fake)
        drift = drift_penalty(real_out)
        loss = self.adv.d_loss(real_out, fake_out) + self.hparams.gp_lambda * gp + self.hparams.eps_drift * drift
        return loss, {**self.d_output_logs(real_out, fake_out), "gp": gp.detach(), "drift": drift.detach()}

    def held_out_logs(self, batch: Any) -> dict[str, Tensor]:
        """``validate``/``test``: the critic's Wasserstein loss and mean outputs at the current phase."""
        r, alpha, *_ = self.phase
        x = real_images_at(self.real_data(batch), r, alpha)
        real_out, fake_out = self.critic(x), self.critic(self.fake_images(x.shape[0]))
        return {"d_loss": self.adv.d_loss(real_out, fake_out), **self.d_output_logs(real_out, fake_out)}

    def generator_loss(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Step 4: -E[D(G(z))]."""
        return self.adv.g_loss(self.critic(self.fake_images(x.shape[0]))), {}

    def generate(self, net, z: Tensor, **condition: Tensor) -> Tensor:
        """Samples at the current phase, upsampled (nearest) to the full data size so every grid has one size."""
        r, alpha, *_ = self.phase
        images = net(z, resolution=r, alpha=alpha)
        return F.interpolate(images, size=(self.target, self.target), mode="nearest") if r < self.target else images

    def to_data_range(self, samples: Tensor) -> Tensor:
        """Samples clipped to the data range [-1, 1]: toRGB is linear (no tanh, as in the paper), so raw outputs
        overshoot; the authors' code clips the same way when it writes images."""
        return samples.clamp(-1.0, 1.0)
