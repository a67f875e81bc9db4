"""StyleGAN2: Karras, Laine, Aittala, Hellsten, Lehtinen & Aila 2020, "Analyzing and Improving the Image Quality of
StyleGAN", arXiv:1912.04958; with DiffAugment (Zhao et al. 2020, arXiv:2006.10738) and transfer with FreezeD
(Mo, Cho & Shin 2020, arXiv:2002.10964).

Networks: :mod:`lit_gans.nets.stylegan2`. One training batch runs (the base module's ``training_step``), in the order
of the table :meth:`StyleGAN2.phases`, the phases whose interval divides the batch's (1-based) step number:

1. ``Dmain`` (every step): the logistic loss softplus(D(T(G(w)))) + softplus(-D(T(x))), T the DiffAugment policy;
2. ``Dreg`` (every ``r1_interval`` = 16 steps): lazy R1, (gamma / 2) E||grad_x D(T(x))||^2 x interval (section 3.1);
3. ``Gmain`` (every step): the non-saturating loss softplus(-D(T(G(w))));
4. ``Greg`` (every ``pl_interval`` = 4 steps): path length regularisation on a batch shrunk by ``pl_batch_shrink``,
   pl_weight E(||J_w^T y||_2 - a)^2 x interval, y ~ N(0, I) / sqrt(H W), a the running mean of the lengths
   (decay 0.01) kept in the checkpoint (section 3.2);
5. the EMA generator: beta = 0.5 ** (batch / (ema_kimg * 1000)), a half-life of ``ema_kimg`` thousand images.

Lazy regularisation keeps Adam's effective dynamics by using lr * c and beta ** c, c = k / (k + 1) (appendix B).
Every generated batch mixes two latents with probability ``style_mixing_prob`` (section 2 of StyleGAN, 0.9):
w_1 for the layers before a random cutoff, w_2 after it. ``sample(n, truncation=psi)`` draws
w' = w_avg + psi (w - w_avg) from the EMA generator.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Sequence, Union

import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor, nn

from lit_gans.augment import diff_augment, parse_policy
from lit_gans.checkpoints.format import read_checkpoint
from lit_gans.losses import d_logistic_loss, g_nonsaturating_loss, path_length_penalty, r1_penalty
from lit_gans.models.base import GANModule
from lit_gans.models.gan import _NOT_HPARAMS
from lit_gans.models.phases import Phase
from lit_gans.nets.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator


def lazy_adam_adjustment(lr: float, betas: Sequence[float], interval: Optional[int]) -> tuple[float, tuple[float, ...]]:
    """(lr * c, beta ** c) with c = k / (k + 1) for regularisation every k steps (appendix B); unchanged if k is None.

    >>> lr, betas = lazy_adam_adjustment(0.002, (0.0, 0.99), 16)
    >>> round(lr, 7), [round(b, 5) for b in betas]
    (0.0018824, [0.0, 0.99059])
    """
    if not interval:
        return lr, tuple(betas)
    c = interval / (interval + 1)
    return lr * c, tuple(b**c for b in betas)


def ema_beta(batch_size: int, ema_kimg: float, images_seen: Optional[int] = None,
             ema_rampup: Optional[float] = None) -> float:
    """Per-step EMA decay for a half-life of ``ema_kimg`` thousand images: 0.5 ** (batch / (ema_kimg * 1000)).

    With ``ema_rampup`` the half-life is at most ``ema_rampup * images_seen`` (official code; early steps average less).

    >>> round(ema_beta(32, 10.0), 6)
    0.997784
    """
    ema_nimg = ema_kimg * 1000.0
    if ema_rampup is not None and images_seen is not None:
        ema_nimg = min(ema_nimg, images_seen * ema_rampup)
    return 0.5 ** (batch_size / max(ema_nimg, 1e-8))


def mix_styles(ws: Tensor, ws2: Tensor, cutoff: Union[int, Tensor]) -> Tensor:
    """ws for layers < cutoff, ws2 from cutoff on; (N, num_ws, w_dim); ``cutoff`` an int or a 0-d device tensor."""
    layer = torch.arange(ws.shape[1], device=ws.device)[None, :, None]
    return torch.where(layer < cutoff, ws, ws2)


class StyleGAN2(GANModule):
    """StyleGAN2 (config F) with lazy R1 and path length regularisation, style mixing, EMA, truncation, DiffAugment
    and transfer.

    Args:
        data_shape: (C, R, R), R a power of two >= 4 (linked from the data).
        num_classes: ignored (unconditional).
        z_dim, w_dim: latent and intermediate latent sizes (512 in the paper).
        mapping_layers, mapping_lr_mul: depth and learning rate multiplier of the mapping network (8 and 0.01).
        channel_base, channel_max: channels at resolution r are min(channel_base // r, channel_max) (official:
            32768 and 512 for config F; 16384 for ``paper256``).
        mbstd_group: minibatch standard deviation group size (4).
        g_architecture: ``skip`` (config F), ``resnet`` or ``orig`` (Figure 7 of the paper).
        d_architecture: ``resnet`` (config F), ``skip`` or ``orig`` (no residual skips; the official ``cifar`` preset).
        mbstd_num_channels: features of the minibatch standard deviation layer (1; 0 switches it off).
        conv_clamp: clamp of the conv outputs to +-conv_clamp (None: off; the official mixed-precision runs use 256).
        r1_gamma, r1_interval: R1 weight gamma (penalty x gamma / 2) and its lazy interval (10 and 16 in config F).
        pl_weight, pl_interval, pl_decay, pl_batch_shrink: path length regularisation (2, 4, 0.01, 2).
        style_mixing_prob: probability that a generated batch mixes two latents (0.9).
        ema_kimg, ema_rampup: half-life of the EMA generator in thousands of images (10) and the optional ramp-up.
        augment: DiffAugment policy, ``"color,translation,cutout"`` or a list; ``None`` for none.
        init_from: path of another run's checkpoint: matching weights (same names and shapes) of G, D and the EMA
            generator are copied in at the start of a fresh fit.
        freeze_d: number of discriminator layers from the input side kept fixed (FreezeD): fromRGB with the first
            block, then one block each.
        **kwargs: optimizer factories of :class:`GANModule` (default Adam lr 0.002, betas (0, 0.99), eps 1e-8,
            adjusted for the lazy intervals).

    >>> StyleGAN2(data_shape=(1, 8, 8), z_dim=8, w_dim=8, channel_base=64, channel_max=8).sample(2, seed=0).shape
    torch.Size([2, 1, 8, 8])
    """

    default_optimizer = (torch.optim.Adam, {"lr": 0.002, "betas": (0.0, 0.99), "eps": 1e-8})

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 256, 256),
        num_classes: int = 0,
        z_dim: int = 512,
        w_dim: int = 512,
        mapping_layers: int = 8,
        mapping_lr_mul: float = 0.01,
        channel_base: int = 32768,
        channel_max: int = 512,
        mbstd_group: int = 4,
        d_architecture: Literal["resnet", "skip", "orig"] = "resnet",
        g_architecture: Literal["skip", "resnet", "orig"] = "skip",
        mbstd_num_channels: int = 1,
        conv_clamp: Optional[float] = None,
        r1_gamma: float = 10.0,
        r1_interval: int = 16,
        pl_weight: float = 2.0,
        pl_interval: int = 4,
        pl_decay: float = 0.01,
        pl_batch_shrink: int = 2,
        style_mixing_prob: float = 0.9,
        ema_kimg: float = 10.0,
        ema_rampup: Optional[float] = None,
        augment: Union[None, str, list[str]] = None,
        init_from: Optional[str] = None,
        freeze_d: int = 0,
        **kwargs,
    ) -> None:
        if kwargs.get("n_critic", 1) != 1:
            raise ValueError("StyleGAN2 updates both players every batch: leave n_critic at 1")
        if kwargs.get("ema_decay") is not None:
            raise ValueError("StyleGAN2 sets its EMA by ema_kimg (a half-life in thousands of images), not ema_decay")
        for name, k in (("r1_interval", r1_interval), ("pl_interval", pl_interval), ("pl_batch_shrink", pl_batch_shrink)):
            if k < 1:
                raise ValueError(f"{name} must be >= 1, got {k}")
        if not 0.0 <= style_mixing_prob <= 1.0:
            raise ValueError(f"style_mixing_prob must be in [0, 1], got {style_mixing_prob}")
        if mbstd_num_channels < 0:
            raise ValueError(f"mbstd_num_channels must be >= 0 (0 switches the layer off), got {mbstd_num_channels}")
        if conv_clamp is not None and not conv_clamp > 0:
            raise ValueError(f"conv_clamp must be positive or None, got {conv_clamp}")
        if ema_kimg < 0:
            raise ValueError(f"ema_kimg must be >= 0 (0 disables the EMA generator), got {ema_kimg}")
        super().__init__(loss="non_saturating", ema_decay=ema_beta(1, ema_kimg) if ema_kimg > 0 else None, **kwargs)
        self.save_hyperparameters(ignore=_NOT_HPARAMS)
        self.augment_policy = parse_policy(augment)
        self.generator = StyleGAN2Generator(z_dim, w_dim, data_shape, mapping_layers, mapping_lr_mul,
                                            channel_base, channel_max, g_architecture, conv_clamp)
        self.discriminator = StyleGAN2Discriminator(data_shape, channel_base, channel_max, mbstd_group, d_architecture,
                                                    mbstd_num_channels, conv_clamp)
        n_frozen = len(self.discriminator.input_layers())
        if not 0 <= freeze_d <= n_frozen:
            raise ValueError(f"freeze_d must be between 0 and {n_frozen} (the discriminator's layers), got {freeze_d}")
        self.register_buffer("pl_mean", torch.zeros(()))  # running mean a of the path lengths (saved in checkpoints)

    def phases(self) -> list[Phase]:
        """Steps 1-4 as a table: the main losses every step, the regularisers every ``r1_interval`` and
        ``pl_interval`` steps (each switched off by a zero weight); ``d_steps``/``g_steps`` count training steps."""
        h = self.hparams
        table = [Phase("d", self.d_main_loss, name="Dmain"), Phase("d", self.d_reg_loss, h.r1_interval, name="Dreg"),
                 Phase("g", self.g_main_loss, name="Gmain"), Phase("g", self.g_reg_loss, h.pl_interval, name="Greg")]
        switched_off = {"Dreg": h.r1_gamma == 0, "Greg": h.pl_weight == 0}
        return [p for p in table if not switched_off.get(p.name, False)]

    # --- generation -------------------------------------------------------------------------------------------------
    def generate_ws(self, net: StyleGAN2Generator, n: int) -> Tensor:
        """ws (n, num_ws, w_dim) from fresh z, two latents mixed at a random cutoff with probability style_mixing_prob.

        Only the first latent moves w_avg (the official loss maps the second with ``skip_w_avg_update``)."""
        ws = net.mapping(self.sample_latent(n))
        if self.hparams.style_mixing_prob > 0:  # drawn on the device, as the official loss does: no host read
            cutoff = torch.randint(1, net.num_ws, (), device=ws.device)
            mixing = torch.rand((), device=ws.device) < self.hparams.style_mixing_prob
            cutoff = torch.where(mixing, cutoff, net.num_ws)  # num_ws: no layer takes the second latent
            ws = mix_styles(ws, net.mapping(self.sample_latent(n), skip_w_avg_update=True), cutoff)
        return ws

    def discriminate(self, x: Tensor, **condition: Tensor) -> Tensor:
        return self.discriminator(diff_augment(x, self.augment_policy)).flatten()

    # --- the four phases --------------------------------------------------------------------------------------------
    def d_main_loss(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        real = self.real_data(batch)
        fake = self.generator.synthesis(self.generate_ws(self.generator, real.shape[0])).detach()
        real_out, fake_out = self.discriminate(real), self.discriminate(fake)
        return d_logistic_loss(real_out, fake_out), self.d_output_logs(real_out, fake_out)

    def d_reg_loss(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        real = self.real_data(batch).detach().requires_grad_(True)
        r1 = r1_penalty(self.discriminate(real), real)
        return r1 * (self.hparams.r1_gamma / 2) * self.hparams.r1_interval, {"r1": r1.detach()}

    def g_main_loss(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        n = self.real_data(batch).shape[0]
        fake = self.generator.synthesis(self.generate_ws(self.generator, n))
        return g_nonsaturating_loss(self.discriminate(fake)), {}

    def g_reg_loss(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        n = max(1, self.real_data(batch).shape[0] // self.hparams.pl_batch_shrink)
        ws = self.generate_ws(self.generator, n)
        penalty, self.pl_mean = path_length_penalty(self.generator.synthesis(ws), ws, self.pl_mean,
                                                    self.hparams.pl_decay)
        loss = penalty * self.hparams.pl_weight * self.hparams.pl_interval
        return loss, {"pl_penalty": penalty.detach(), "pl_mean": self.pl_mean}

    def ema_decay_at(self, batch_size: int) -> float:
        """Step 5: the EMA's per-step decay from its half-life in images (``ema_kimg``) at this batch size."""
        images_seen = self.g_steps * batch_size
        return ema_beta(batch_size, self.hparams.ema_kimg, images_seen, self.hparams.ema_rampup)

    # --- optimizers: Adam adjusted for lazy regularisation ----------------------------------------------------------
    def configure_optimizers(self):
        (g_opt, d_opt), schedulers = super().configure_optimizers()  # FreezeD parameters never get a gradient
        for opt, interval in ((g_opt, self.hparams.pl_interval), (d_opt, self.hparams.r1_interval)):
            for group in opt.param_groups:
                betas = group.get("betas", ())
                group["lr"], adjusted = lazy_adam_adjustment(group["lr"], betas, interval)
                if betas:
                    group["betas"] = adjusted
        return [g_opt, d_opt], schedulers

    # --- transfer: init_from and FreezeD ----------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        super().setup(stage)
        self.freeze_discriminator(self.hparams.freeze_d)

    def freeze_discriminator(self, k: int) -> None:
        """FreezeD: fix the first ``k`` discriminator layers from the input side."""
        for layer in self.discriminator.input_layers()[:k]:
            layer.requires_grad_(False)

    def on_fit_start(self) -> None:
        super().on_fit_start()  # makes the EMA generator
        if self.hparams.init_from and self.d_steps == 0:  # a fresh run, not a resumed one
            rank_zero_info(self.load_transfer(self.hparams.init_from))

    def load_transfer(self, path: str) -> str:
        """Copies the weights of ``path`` whose names and shapes match into G, D and the EMA generator; a summary."""
        source = read_checkpoint(path)["state_dict"]
        own = self.state_dict()
        nets = ("generator.", "discriminator.", "generator_ema.")
        wanted = [k for k in own if k.startswith(nets)]
        # a source without an EMA generator initialises ours from its generator
        source = {**{"generator_ema." + k[len("generator."):]: v for k, v in source.items() if k.startswith("generator.")},
                  **source}
        loaded = {k: source[k] for k in wanted if k in source and source[k].shape == own[k].shape}
        self.load_state_dict(loaded, strict=False)
        skipped = sorted(set(wanted) - set(loaded))
        return (f"init_from {path}: loaded {len(loaded)} of {len(wanted)} tensors"
                + (f"; kept the initial values of {len(skipped)} (e.g. {skipped[:3]})" if skipped else ""))

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        if strict and any(k.startswith("generator.synthesis.convs.") for k in state_dict):
            raise ValueError("this StyleGAN2 checkpoint has the layers of lit_gans before they matched the official "
                             "code (other resampling, other names): it cannot be loaded; train it again")
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    # --- sampling with truncation -----------------------------------------------------------------------------------
    def generate(self, net: nn.Module, z: Tensor, truncation_psi: float = 1.0,
                 rng: Optional[torch.Generator] = None, noise_mode: str = "random") -> Tensor:
        """Images of ``net`` for z, w truncated towards w_avg by ``truncation_psi``; ``rng`` draws the noise inputs
        (``noise_mode`` ``const``: each layer's fixed noise image instead, a deterministic function of z)."""
        return net(z, truncation_psi=truncation_psi, rng=rng, noise_mode=noise_mode)

    def to_data_range(self, samples: Tensor) -> Tensor:
        """Samples clipped to the data range [-1, 1]: toRGB is linear (no tanh, as in the official code), so raw outputs
        overshoot; the official code clips the same way when it writes images (ProGAN's samples here too).
        Without it the metric backbones would disagree: Inception clips its input, the digits classifier does not."""
        return samples.clamp(-1.0, 1.0)

    def sample_condition(self, n: int, rng: Optional[torch.Generator], truncation: float = 1.0,
                         **condition: Any) -> dict[str, Any]:
        """``sample(n, truncation=psi)``: w truncated towards w_avg by psi; the seed's generator draws the noise too."""
        super().sample_condition(n, rng, **condition)  # rejects conditions: StyleGAN2 here is unconditional
        return {"truncation_psi": truncation, "rng": rng}
