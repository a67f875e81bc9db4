"""A training-health monitor: the failure modes of GAN training that chapters 4 and 5 of the reference report
describe, seen while they happen.

- **Vanishing generator gradients.** When the discriminator becomes near-perfect, the minimax generator loss
  log(1 - D(G(z))) saturates and its gradient vanishes (Goodfellow et al. 2014, section 3; Arjovsky & Bottou 2017,
  arXiv:1701.04862). Watched: the median generator gradient norm over the last ``window`` logged generator steps (the
  model logs every ``log_every_n_steps``) against the largest such median seen so far; and, for probabilistic losses, mean D(x) near 1 with mean D(G(z)) near 0.
- **Mode collapse.** The generator maps many z to few outputs. Watched every ``every_n_steps`` generator steps on
  ``num_samples`` samples (fixed seed): their diversity, the mean pairwise distance, against the real data's; and,
  on 2D mixtures (a data module with ``means`` and ``std``), the modes captured (:mod:`lit_gans.metrics.modes`).
- **NaN or Inf losses** stop the run in :class:`~lit_gans.models.base.GANModule` (at the next logging step, before
  any checkpoint of the weights they reached); this monitor adds where the last checkpoint is.

Each problem is warned once, in plain words; the numbers are logged as ``health/*`` at every check.
"""

from __future__ import annotations

import statistics
from collections import deque
from typing import Optional

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from lit_gans.callbacks.evaluation import log_metrics
from lit_gans.metrics.modes import mode_statistics
from lit_gans.errors import NonFiniteLossError


class TrainingHealth(L.Callback):
    """Flags vanishing generator gradients, a saturated discriminator and mode collapse.

    Args:
        window: generator steps whose median gradient norm (and mean D outputs) are compared.
        grad_collapse_ratio: vanishing gradients when the window's median generator gradient norm falls below this
            share of the largest window median seen.
        d_saturation: discriminator near-perfect when mean D(x) > 1 - this and mean D(G(z)) < this over the window
            (probabilistic losses only).
        every_n_steps: generator steps between two diversity checks (0: never).
        num_samples: samples of a diversity check.
        diversity_ratio: mode collapse when the samples' diversity falls below this share of the real data's.
        min_mode_fraction: on 2D mixtures, mode collapse when fewer than this share of the modes are captured.
        seed: seed of the samples of the diversity checks.
    """

    def __init__(
        self,
        window: int = 50,
        grad_collapse_ratio: float = 0.01,
        d_saturation: float = 0.05,
        every_n_steps: int = 200,
        num_samples: int = 256,
        diversity_ratio: float = 0.25,
        min_mode_fraction: float = 0.5,
        seed: int = 0,
    ) -> None:
        if window < 2 or num_samples < 2:
            raise ValueError(f"window and num_samples must be >= 2, got {window} and {num_samples}")
        self.window, self.grad_collapse_ratio, self.d_saturation = window, grad_collapse_ratio, d_saturation
        self.every_n_steps, self.num_samples, self.seed = every_n_steps, num_samples, seed
        self.diversity_ratio, self.min_mode_fraction = diversity_ratio, min_mode_fraction
        self.g_grad_norms: deque[float] = deque(maxlen=window)
        self.d_real: deque[float] = deque(maxlen=window)
        self.d_fake: deque[float] = deque(maxlen=window)
        self.peak_grad_median = 0.0
        self.real_diversity: Optional[float] = None
        self.warned: dict[str, str] = {}  # problem -> the message given, once each
        self._last_g_step = -1

    # --- per step: gradients and discriminator outputs -----------------------------------------------------------
    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        g_steps = int(pl_module.g_steps)
        if g_steps == self._last_g_step:
            return  # no generator update in this batch (n_critic > 1)
        self._last_g_step = g_steps
        metrics: dict[str, float] = {}
        if pl_module.logged_last_step:  # the steps that log (reading their values waits for the device)
            logged = trainer.callback_metrics
            if "train/g_grad_norm" in logged:
                self.g_grad_norms.append(float(logged["train/g_grad_norm"]))
            if "train/d_real" in logged and "train/d_fake" in logged:
                self.d_real.append(float(logged["train/d_real"]))
                self.d_fake.append(float(logged["train/d_fake"]))
            metrics = self.check_gradients(g_steps, probabilistic=pl_module.adv.probabilistic)
        if self.every_n_steps and g_steps % self.every_n_steps == 0:
            metrics |= self.check_diversity(trainer, pl_module, g_steps)
        if metrics:
            log_metrics(trainer, metrics)

    def check_gradients(self, g_steps: int, probabilistic: bool) -> dict[str, float]:
        """Vanishing-gradient and saturated-discriminator flags once a full window has been seen."""
        if len(self.g_grad_norms) < self.window:
            return {}
        median = statistics.median(self.g_grad_norms)
        self.peak_grad_median = max(self.peak_grad_median, median)
        ratio = median / self.peak_grad_median if self.peak_grad_median > 0 else 0.0
        out = {"health/g_grad_norm_ratio": ratio, "health/vanishing_gradients": float(ratio < self.grad_collapse_ratio)}
        if ratio < self.grad_collapse_ratio:
            self._warn_once(
                "vanishing_gradients",
                f"vanishing generator gradients at generator step {g_steps}: the median gradient norm of the last "
                f"{self.window} steps is {median:.3g}, {ratio:.1%} of its peak; the generator has almost stopped "
                "learning (try the non-saturating loss, a lower discriminator learning rate, or a gradient penalty)",
            )
        if probabilistic and self.d_real:
            d_real, d_fake = statistics.fmean(self.d_real), statistics.fmean(self.d_fake)
            saturated = d_real > 1 - self.d_saturation and d_fake < self.d_saturation
            out |= {"health/d_saturated": float(saturated)}
            if saturated:
                self._warn_once(
                    "d_saturated",
                    f"the discriminator is near-perfect at generator step {g_steps}: mean D(x) = {d_real:.3f}, mean "
                    f"D(G(z)) = {d_fake:.3f} over the last {self.window} steps; with the minimax loss the generator's "
                    "gradient vanishes",
                )
        return out

    # --- every n steps: diversity and modes ----------------------------------------------------------------------
    def check_diversity(self, trainer: L.Trainer, pl_module, g_steps: int) -> dict[str, float]:
        samples = pl_module.sample(self.num_samples, seed=self.seed).float()
        diversity = mean_pairwise_distance(samples)
        out = {"health/diversity": diversity}
        real = self._real_samples(trainer)
        if real is not None:
            if self.real_diversity is None:
                self.real_diversity = mean_pairwise_distance(real.float())
            ratio = diversity / self.real_diversity if self.real_diversity > 0 else float("nan")
            out["health/diversity_ratio"] = ratio
            if ratio < self.diversity_ratio:
                self._warn_once(
                    "mode_collapse",
                    f"mode collapse at generator step {g_steps}: the samples' diversity (mean pairwise distance "
                    f"{diversity:.3g}) is {ratio:.1%} of the real data's ({self.real_diversity:.3g}); the generator "
                    "makes nearly the same output for every z",
                )
        dm = trainer.datamodule
        if dm is not None and getattr(dm, "means", None) is not None and samples.dim() == 2:
            stats = mode_statistics(samples, dm.means, dm.std)
            k = len(dm.means)
            out["health/modes"] = float(stats.modes)
            if stats.modes < self.min_mode_fraction * k:
                self._warn_once(
                    "modes_missing",
                    f"mode collapse at generator step {g_steps}: only {stats.modes} of the {k} modes of the data "
                    f"receive samples within 3 standard deviations",
                )
        return out

    def _real_samples(self, trainer: L.Trainer) -> Optional[Tensor]:
        dataset = getattr(trainer.datamodule, "train_set", None) if trainer.datamodule is not None else None
        if dataset is None:
            return None
        idx = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(self.seed))[: self.num_samples]
        items = [dataset[int(i)] for i in idx]
        return torch.stack([it[0] if isinstance(it, (tuple, list)) else it for it in items])

    # --- NaN / Inf ------------------------------------------------------------------------------------------------
    def on_exception(self, trainer: L.Trainer, pl_module, exception: BaseException) -> None:
        if isinstance(exception, NonFiniteLossError):
            ckpt = trainer.checkpoint_callback
            last = (ckpt.last_model_path or ckpt.best_model_path) if ckpt is not None else ""
            where = f"the last good checkpoint is {last}" if last else "no checkpoint had been written yet"
            self._warn_once("non_finite", f"training stopped: {exception}; {where}")

    def _warn_once(self, problem: str, message: str) -> None:
        if problem not in self.warned:
            self.warned[problem] = message
            rank_zero_warn(f"lit_gans health: {message}", category=TrainingHealthWarning)


class TrainingHealthWarning(UserWarning):
    """A problem the training-health monitor saw."""


def mean_pairwise_distance(x: Tensor) -> float:
    """Mean L2 distance between the distinct pairs of the (N, ...) samples, flattened."""
    flat = x.flatten(1)
    n = len(flat)
    return float(torch.cdist(flat, flat).sum() / (n * (n - 1)))
