"""Speed switches that change no result: ``torch.compile`` of the networks and the ``channels_last`` memory format;
and gradient clipping that stays right under fp16 mixed precision.

In a config::

    trainer:
      precision: bf16-mixed            # or 16-mixed (GPU), 32-true
      callbacks:
        - class_path: lit_gans.callbacks.performance.Speedups
          init_args: {compile: true, channels_last: true}
        - class_path: lit_gans.callbacks.performance.ClipGradNorm
          init_args: {max_norm: 10.0}
"""

from __future__ import annotations

from typing import Literal, Optional

import lightning as L
import torch
from torch import nn


def trained_networks(pl_module: L.LightningModule) -> list[nn.Module]:
    """The model's direct submodules with trainable parameters: G and D (CycleGAN's four networks), not the EMA
    generator or SeqGAN's rollout copy, which are never trained."""
    return [m for m in pl_module.children() if any(p.requires_grad for p in m.parameters())]


class Speedups(L.Callback):
    """``torch.compile`` and ``channels_last`` for the trained networks.

    Args:
        compile: compile each trained network in place with :meth:`torch.nn.Module.compile`, which keeps the
            parameter names (``torch.compile(net)`` would wrap it and prefix every checkpoint key with
            ``_orig_mod.``), so checkpoints and ``load_model`` are unchanged. Done when training starts, after the
            EMA generator was copied (a copy of a compiled module would call the original's compiled code).
        compile_mode: ``torch.compile``'s ``mode`` (``default``, ``reduce-overhead``, ``max-autotune``).
        compile_backend: ``inductor`` (generates code: needs a C compiler on CPU, Triton on GPU) or e.g.
            ``aot_eager`` (no code generation).
        channels_last: store the image networks' 4-d weights as NHWC, which tensor cores prefer (convolutions
            then also produce NHWC activations); a no-op for MLPs and sequence models.
    """

    def __init__(
        self,
        compile: bool = False,
        compile_mode: Optional[Literal["default", "reduce-overhead", "max-autotune"]] = None,
        compile_backend: str = "inductor",
        channels_last: bool = False,
    ) -> None:
        self.compile, self.compile_mode, self.compile_backend = compile, compile_mode, compile_backend
        self.channels_last = channels_last

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self.channels_last and stage == "fit":
            for net in trained_networks(pl_module):
                net.to(memory_format=torch.channels_last)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.compile:
            for net in trained_networks(pl_module):
                net.compile(mode=self.compile_mode, backend=self.compile_backend)


class ClipGradNorm(L.Callback):
    """Clips each optimizer's gradients to a global L2 norm of at most ``max_norm`` before it steps.

    With manual optimisation Lightning's ``gradient_clip_val`` is refused, and clipping inside ``training_step``
    would clip the *scaled* gradients under fp16. This hook runs where Lightning has already unscaled them (its
    ``on_before_optimizer_step``), for every precision.
    """

    def __init__(self, max_norm: float) -> None:
        if max_norm <= 0:
            raise ValueError(f"max_norm must be positive, got {max_norm}")
        self.max_norm = max_norm

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer) -> None:
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if params:
            torch.nn.utils.clip_grad_norm_(params, self.max_norm)
