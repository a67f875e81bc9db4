"""Sample grids from a fixed noise batch and latent interpolation strips, written to the run directory as PNG and to
the loggers that take images (W&B, TensorBoard); token sequences (SeqGAN) are written as decoded text instead.

The strip walks between fixed latent endpoints z0 -> z1 along the great circle (slerp, White 2016, "Sampling
Generative Networks", arXiv:1609.04468): for Gaussian z a straight line passes through the low-norm middle of the
space, where the prior puts almost no mass, while slerp keeps the norm typical. Uniform z (DCGAN's default) is
interpolated linearly, as Radford et al. 2015 did: a straight line stays inside the cube.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor

from lit_gans.images import image_grid, samples_to_picture
from lit_gans.loggers import log_picture, log_text
from lit_gans.provenance import image_metadata, relabel, save_synthetic_png

Interpolation = Literal["auto", "slerp", "lerp"]


class SampleGrid(L.Callback):
    """Every ``every_n_steps`` generator updates (and at the end of training), draws ``num_samples`` samples with a
    fixed seed, so that grids from one run show the same noise vectors as training goes on; conditional models get
    labels 0, 1, ..., K-1 in turn (one class a column when ``num_samples`` is a multiple of K).

    For image models with a latent vector z (not SeqGAN's tokens, not CycleGAN's translations) it also draws an
    interpolation strip, ``interpolation_steps`` images a row from z0 to z1 (fixed endpoints drawn from ``seed``):
    ``interpolation_rows`` rows with their own endpoints, or for a conditional model one row per class, all with the
    same endpoints (a column is one z under every label). ``interpolation``: ``slerp``, ``lerp`` or ``auto`` (lerp
    for a uniform prior, slerp otherwise). ``interpolation_rows=0`` switches the strip off.

    Image grids are enlarged (nearest neighbour, whole factors) to at least ``min_size`` pixels across, so that
    small images can be seen; ``min_size=0`` keeps the images' own size.

    Files: ``<run dir>/samples/step_<g steps>.png``, ``samples/last.png``, and ``interpolation_step_<g steps>.png``,
    ``interpolation_last.png``; logger keys ``samples`` and ``interpolation``.
    """

    def __init__(
        self,
        every_n_steps: int = 500,
        num_samples: int = 64,
        seed: int = 0,
        interpolation_rows: int = 4,
        interpolation_steps: int = 8,
        interpolation: Interpolation = "auto",
        min_size: int = 512,
    ) -> None:
        if interpolation_rows < 0 or interpolation_steps < 2:
            raise ValueError(f"need interpolation_rows >= 0 and interpolation_steps >= 2, got {interpolation_rows}, "
                             f"{interpolation_steps}")
        if min_size < 0:
            raise ValueError(f"min_size must be >= 0 (0: the images' own size), got {min_size}")
        if interpolation not in ("auto", "slerp", "lerp"):
            raise ValueError(f"interpolation must be 'auto', 'slerp' or 'lerp', got {interpolation!r}")
        self.every_n_steps, self.num_samples, self.seed = every_n_steps, num_samples, seed
        self.interpolation_rows, self.interpolation_steps, self.interpolation = interpolation_rows, interpolation_steps, interpolation
        self.min_size = min_size
        self._last_written: Optional[int] = None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        g_steps = int(pl_module.g_steps)
        if self.every_n_steps and g_steps % self.every_n_steps == 0 and g_steps != self._last_written:
            self._write(trainer, pl_module, g_steps)

    def on_train_end(self, trainer: L.Trainer, pl_module) -> None:
        self._write(trainer, pl_module, int(pl_module.g_steps))

    def _write(self, trainer: L.Trainer, pl_module, g_steps: int) -> None:
        self._last_written = g_steps
        with trainer.precision_plugin.forward_context():  # the run's precision (64-true: double noise for double nets)
            samples = pl_module.sample(self.num_samples, seed=self.seed)
            strip = self.interpolation_strip(pl_module) if samples.dim() == 4 else None
        self._save(trainer, pl_module, samples, strip, g_steps, samples_folder(trainer))

    def interpolation_strip(self, pl_module) -> Optional[Tensor]:
        """The strip's images, (rows * interpolation_steps, C, H, W) row by row; None for a model without a latent
        vector z or with the strip switched off."""
        if not self.interpolation_rows or not pl_module.has_latent:
            return None
        k = pl_module.num_label_classes
        rows = k or self.interpolation_rows
        method = self.interpolation
        if method == "auto":
            method = "lerp" if pl_module.hparams.get("z_dist") == "uniform" else "slerp"
        device = pl_module.device
        rng = torch.Generator(device=device).manual_seed(self.seed)
        # fork_rng: a generator that draws noise of its own (StyleGAN2's noise inputs) uses the global RNG; keep
        # training's random stream untouched and the strip the same at every step.
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(self.seed)
            z0, z1 = pl_module.sample_latent(2 * (1 if k else rows), generator=rng).chunk(2)  # (rows or 1, z_dim) each
            t = torch.linspace(0, 1, self.interpolation_steps, device=device)
            path = interpolate(z0, z1, t, method)  # (rows or 1, steps, z_dim)
            if k:  # one row per class, the same path in each
                labels = torch.arange(k, device=device).repeat_interleave(self.interpolation_steps)
                return pl_module.sample_from_latent(path.expand(k, -1, -1).flatten(0, 1), labels=labels)
            return pl_module.sample_from_latent(path.flatten(0, 1))

    @rank_zero_only
    def _save(self, trainer: L.Trainer, pl_module, samples: Tensor, strip: Optional[Tensor], g_steps: int,
              folder: Path) -> None:
        if not samples.is_floating_point():  # token sequences (SeqGAN): decoded text instead of a picture
            return _save_text(trainer, pl_module, samples, g_steps, folder)
        reference = getattr(trainer.datamodule, "means", None) if trainer.datamodule is not None else None
        name = type(pl_module).__name__
        pictures = {"samples": (samples_to_picture(samples, reference, min_size=self.min_size), "",
                                f"synthetic samples of {name}")}
        if strip is not None:
            pictures["interpolation"] = (image_grid(strip, self.interpolation_steps, self.min_size), "interpolation_",
                                         f"latent interpolation of {name} (rows z0 -> z1)")
        provenance = image_metadata(pl_module)  # hashes the weights: once for all the pictures of this step
        for key, (picture, prefix, description) in pictures.items():
            meta = relabel(provenance, f"{description} after {g_steps} steps")
            for file in (f"{prefix}step_{g_steps:07d}.png", f"{prefix}last.png"):
                save_synthetic_png(picture, folder / file, pl_module, metadata=meta)
            log_picture(trainer, key, picture)


def slerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation (White 2016, eq. 1): sin((1-t)θ)/sin θ · z0 + sin(tθ)/sin θ · z1, θ the angle between
    z0 and z1; rows of z0, z1 (N, D) at each t (T,) -> (N, T, D). Nearly parallel endpoints fall back to lerp."""
    z0, z1, t = z0[:, None], z1[:, None], t[None, :, None]  # (N, 1, D), (N, 1, D), (1, T, 1)
    cos = torch.nn.functional.cosine_similarity(z0, z1, dim=-1)[..., None].clamp(-1, 1)  # (N, 1, 1)
    theta = torch.arccos(cos)
    sin = torch.sin(theta)
    safe = sin.abs() > 1e-6
    w0 = torch.where(safe, torch.sin((1 - t) * theta) / sin.where(safe, 1.0), 1 - t)
    w1 = torch.where(safe, torch.sin(t * theta) / sin.where(safe, 1.0), t)
    return w0 * z0 + w1 * z1


def interpolate(z0: Tensor, z1: Tensor, t: Tensor, method: str = "slerp") -> Tensor:
    """Points from z0 to z1 (N, D) at fractions t (T,): (N, T, D), by ``slerp`` or ``lerp``."""
    if method == "slerp":
        return slerp(z0, z1, t)
    return torch.lerp(z0[:, None], z1[:, None], t[None, :, None])


def samples_folder(trainer: L.Trainer) -> Path:
    """``<run dir>/samples``; every process must ask (under DDP ``trainer.log_dir`` is a broadcast from rank 0, and a
    rank-zero-only call of it waits forever for the others)."""
    return Path(trainer.log_dir or trainer.default_root_dir) / "samples"


def _save_text(trainer: L.Trainer, pl_module, tokens, g_steps: int, folder: Path) -> None:
    """``samples/step_<g steps>.txt`` and ``samples/last.txt``, one decoded sequence a line; the first few to loggers
    that take text."""
    lines = pl_module.decode(tokens.cpu())
    folder.mkdir(parents=True, exist_ok=True)
    for name in (f"step_{g_steps:07d}.txt", "last.txt"):
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    log_text(trainer, "samples", lines[:8])
