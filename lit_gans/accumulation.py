"""Gradient accumulation under manual optimisation: N loader batches make one update of each player.

Lightning accumulates by itself only under automatic optimisation, and refuses ``Trainer(accumulate_grad_batches=N)``
for a GAN's manual steps. Here the N batches of size B are collected, joined into one batch of size N*B, and the
module's training step runs once on it; inside it every player's step (:meth:`GANModule.player_step`) computes its
loss on the N micro-batches of size B in turn, backpropagating ``loss / N`` each time, and steps its optimizer once.
For losses that average over the batch that is the update of one batch of N*B (the discriminator's whole update
before the generator's, as in Goodfellow et al. 2014, Algorithm 1), while activations are only ever held for B
samples, as StyleGAN2-ADA's ``batch_gpu`` does (Karras et al. 2020, arXiv:2006.06676). Step counters, schedules
and the EMA see one training step per update, as before.

``lit-gans fit --trainer.accumulate_grad_batches N`` sets :attr:`GANModule.accumulate_grad_batches`; in Python, set
the attribute before ``trainer.fit``. Work a variant does outside its players' steps runs once on the joined batch
(SeqGAN's rollouts, ProGAN's fade-in of the real images; ProGAN's per-resolution batch table then counts the images
of one update: ``data.batch_size 8`` with N = 2 makes its updates of 16). CycleGAN, whose players share one forward
pass, refuses it in one line. A window is cut short at the end of an epoch (the last batches make a smaller update),
and a checkpoint written in the middle of a window does not hold the batches already collected (at most N - 1,
skipped on resume). Under DDP the gradients are averaged over the processes at every micro-batch.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import torch
from lightning_utilities.core.apply_func import apply_to_collection, apply_to_collections
from torch import Tensor


def join_batches(batches: list[Any]) -> Any:
    """Batches of one structure (tensors, tuples, lists, dicts, named tuples) joined along dim 0."""
    return functools.reduce(lambda a, b: apply_to_collections(a, b, Tensor, lambda x, y: torch.cat([x, y])), batches)


def split_batch(batch: Any, n: int) -> list[Any]:
    """A batch cut into ``n`` micro-batches along dim 0 (every tensor in it the same way); ``[batch]`` for n = 1."""
    if n == 1:
        return [batch]
    return [apply_to_collection(batch, Tensor, lambda t, i=i: t.tensor_split(n)[i]) for i in range(n)]


def mean_logs(parts: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    """The micro-batches' logs averaged key by key (the first part's value for anything not a tensor)."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    return {k: torch.stack([p[k].float() for p in parts]).mean() if isinstance(v, Tensor) else v
            for k, v in first.items()}


class Accumulator:
    """Wraps a module's ``training_step`` (:meth:`training_step` takes its place): collects batches until ``n`` are
    there (or the epoch's last batch), then calls the step once on them joined, with ``module.micro_batches`` set to
    their number."""

    def __init__(self, module: Any, step: Callable[[Any, int], Any], n: int) -> None:
        self.module, self.step, self.n = module, step, n
        self.pending: list[Any] = []

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        self.pending.append(batch)
        if len(self.pending) < self.n and not self.module.trainer.is_last_batch:
            return None
        batches, self.pending = self.pending, []
        self.module.micro_batches = len(batches)
        try:
            return self.step(join_batches(batches), batch_idx)
        finally:
            self.module.micro_batches = 1
