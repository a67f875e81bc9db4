"""Generator distillation: Li et al. 2020, "GAN Compression: Efficient Architectures for Interactive Conditional GANs",
arXiv:2003.08936, and Liu et al. 2021, "Content-Aware GAN Compression", arXiv:2104.02244.

A narrower student generator G' learns to reproduce a trained teacher G on the same inputs. One training step:

1. draw latents z (and conditions y) the teacher's way; every random draw inside the networks (StyleGAN2's noise
   inputs, DiffAugment in the teacher's discriminator) is the same for student and teacher: the teacher's pass runs
   on a copy of the random state, the student's then from the same state;
2. x_T = G(z, y) from the teacher's EMA generator when it has one, x_S = G'(z, y);
3. L = pixel_weight ||x_S - x_T||_1 (Li et al. eq. 2: the reconstruction term)
       + feature_weight mean_l ||D_l(x_S) - D_l(x_T)||^2 (the hidden features of the teacher's frozen
         discriminator, the perceptual term of Liu et al. section 3.3, with D in place of their LPIPS network;
         off by default, see ``__init__``)
       + adv_weight L_G(D(x_S)) (the teacher's adversarial loss against its frozen discriminator; 0 by default);
4. an Adam step on the student's generator only.

The teacher never changes; the student is an ordinary model of the teacher's class (see
:mod:`lit_gans.compress.student`). As the GAN modules do (:mod:`lit_gans.models.host_state`), a step logs its values
only when Lightning writes logs (``log_every_n_steps``, and the first step): the steps between never wait for the
device.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

from lit_gans.compress.features import record_features
from lit_gans.losses import feature_matching_loss
from lit_gans.models.base import GANModule, host_read_due


class Distillation(L.LightningModule):
    """Trains ``student.generator`` to match ``teacher``'s generator.

    Args:
        teacher: the trained model (frozen, kept in eval mode).
        student: a model of the same class with a narrower generator (its discriminator is not trained here).
        steps: training steps (one batch of fresh latents each).
        batch_size: latents per step.
        lr: Adam learning rate of the student's generator (betas 0.5, 0.999), cosine-annealed to 0 over ``steps``.
        pixel_weight, feature_weight, adv_weight: weights of the three terms of the loss (module docstring). The
            defaults (pixel alone, lr 3e-3) are the best measured for DCGAN digits students
            (experiments/benchmarks/distill_ablation.py): the feature term, at weight 0.1 or 1, made them worse.
    """

    def __init__(self, teacher: GANModule, student: GANModule, steps: int = 2000, batch_size: int = 64,
                 lr: float = 3e-3, pixel_weight: float = 1.0, feature_weight: float = 0.0,
                 adv_weight: float = 0.0) -> None:
        super().__init__()
        if type(student) is not type(teacher):
            raise ValueError(f"the student must be a {type(teacher).__name__}, got {type(student).__name__}")
        if steps < 1 or batch_size < 1:
            raise ValueError(f"steps and batch_size must be >= 1, got {steps} and {batch_size}")
        self.save_hyperparameters(ignore=["teacher", "student"])
        #: whether the current step logs (reads values back from the device); whether the last step logged
        self.host_read, self.logged_last_step = True, True
        self.teacher, self.student = teacher.requires_grad_(False).eval(), student
        self.student.discriminator.requires_grad_(False)

    @property
    def teacher_generator(self) -> torch.nn.Module:
        return self.teacher.generator_ema if self.teacher.generator_ema is not None else self.teacher.generator

    def train(self, mode: bool = True) -> "Distillation":
        super().train(mode)
        self.teacher.eval()  # batch norm statistics and dropout of the teacher stay as trained
        return self

    # --- data: one element per step; the latents are drawn in the step --------------------------------------------
    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(torch.arange(self.hparams.steps)), batch_size=1)

    def draw_inputs(self, n: int) -> tuple[Tensor, dict[str, Tensor]]:
        """z and the conditions, drawn as the teacher samples them (classes in turn for conditional models)."""
        return self.teacher.sample_latent(n), self.teacher.sample_condition(n, None)

    # --- the loss ---------------------------------------------------------------------------------------------------
    def distillation_loss(self, z: Tensor, cond: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        h = self.hparams
        # 1.-2. the same internal random draws for both generators: the teacher's pass on a copy of the random state
        # (restored after it), the student's from that same state (no seed read back from a tensor: no host read)
        with torch.no_grad(), torch.random.fork_rng(devices=_rng_devices(z)):
            x_t = self.teacher.generate(self.teacher_generator, z, **cond)
        x_s = self.student.generate(self.student.generator, z, **cond)
        # 3. pixel, feature and adversarial terms, the discriminator's random draws shared the same way
        pixel = F.l1_loss(x_s, x_t)
        with record_features(self.teacher.discriminator) as feats:
            with torch.no_grad(), torch.random.fork_rng(devices=_rng_devices(z)):
                self.teacher.discriminate(x_t, **cond)
            teacher_feats = [f.detach() for f in feats]
            feats.clear()
            logits = self.teacher.discriminate(x_s, **cond)
            feature = feature_matching_loss(feats, teacher_feats)
        adv = self.teacher.adv.g_loss(logits)
        loss = h.pixel_weight * pixel + h.feature_weight * feature + h.adv_weight * adv
        return loss, {"loss": loss.detach(), "pixel": pixel.detach(), "feature": feature.detach(), "adv": adv.detach()}

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        z, cond = self.draw_inputs(self.hparams.batch_size)
        loss, logs = self.distillation_loss(z, cond)
        self.logged_last_step = self.host_read
        if self.host_read:  # between logging steps nothing is logged: Lightning would not write it, the bar would wait
            self.log_dict({f"distill/{k}": v for k, v in logs.items()}, prog_bar=True, batch_size=z.shape[0])
        return loss

    # --- host reads only on logging steps, as GANModule does (lit_gans.models.host_state) ---------------------------
    def on_train_start(self) -> None:
        self.host_read = True  # the first step's values show at once

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        self.host_read = host_read_due(self.trainer, self.host_read)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.host_read = False

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.student.generator.parameters(), lr=self.hparams.lr, betas=(0.5, 0.999))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.hparams.steps)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # --- evaluation: the same loss on held-out latents, without training -----------------------------------------
    @torch.no_grad()
    def held_out_loss(self, n: int = 256, seed: int = 12345) -> dict[str, float]:
        """The loss terms on ``n`` latents drawn with ``seed`` (the student in eval mode, as it samples)."""
        was_training = self.student.training
        self.student.eval()
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                z, cond = self.draw_inputs(n)
                _, logs = self.distillation_loss(z, cond)
        finally:
            self.student.train(was_training)
        return {k: float(v) for k, v in logs.items()}


def _rng_devices(t: Tensor) -> list:
    return [t.device] if t.device.type == "cuda" else []
