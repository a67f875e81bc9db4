"""What distributed and mixed-precision training needs beyond Lightning's defaults.

- :class:`BatchNormSync`: batch norm statistics over every process's batch (the ``sync_batchnorm`` of a Trainer).
  Lightning's own plugin uses :class:`torch.nn.SyncBatchNorm`, which runs on GPUs only; on other devices (CPU
  processes on gloo) the layers become :class:`AllReduceBatchNorm`, so that a CPU run (and its tests) normalises
  like a GPU run. :class:`~lit_gans.models.base.GANModule` turns it on under
  DDP for every model with batch norm layers.
- :func:`decorrelate_rng`: each process draws its own noise (a seeded run otherwise draws the same z everywhere).
- :func:`loss_scale`: the factor fp16 mixed precision multiplies the losses by, to report unscaled gradient norms.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn
from lightning.pytorch.plugins.layer_sync import TorchSyncBatchNorm
from torch import Tensor, nn


class AllReduceBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm (any dimension) whose training statistics are those of the global batch: the per-channel sum, sum
    of squares and count are all-reduced over the processes, with autograd, so that the backward pass all-reduces
    their gradients as :class:`torch.nn.SyncBatchNorm` does. Runs on any device and backend (gloo included)."""

    def __init__(self, *args: Any, original_class: type = nn.BatchNorm2d, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.original_class = original_class  # what :meth:`BatchNormSync.revert` turns it back into

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"batch norm expects (N, C, ...) inputs, got shape {tuple(x.shape)}")

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)  # nothing to synchronise: plain batch norm
        c = x.shape[1]
        dims = [d for d in range(x.dim()) if d != 1]
        xf = x.float()
        count = torch.full((1,), x.numel() / c, dtype=torch.float32, device=x.device)
        stats = dist_nn.all_reduce(torch.cat([xf.sum(dims), xf.square().sum(dims), count]))  # (2C + 1,), summed
        n = stats[-1]
        mean = stats[:c] / n
        var = (stats[c : 2 * c] / n - mean.square()).clamp_min(0.0)  # biased, as used for normalising
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach() * n / (n - 1).clamp_min(1.0))
        shape = [1, c] + [1] * (x.dim() - 2)
        y = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)

    @torch.no_grad()
    def _update_running_stats(self, mean: Tensor, unbiased_var: Tensor) -> None:
        self.num_batches_tracked.add_(1)
        momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
        self.running_mean.lerp_(mean, momentum)
        self.running_var.lerp_(unbiased_var, momentum)


class BatchNormSync(TorchSyncBatchNorm):
    """Lightning layer-sync plugin: batch norm over the global batch while fitting.

    On GPUs (``device`` "cuda") this is Lightning's own plugin, :class:`torch.nn.SyncBatchNorm`; elsewhere, where
    torch's layer refuses to run, every batch norm layer becomes an :class:`AllReduceBatchNorm`. ``revert`` turns the
    layers back at the end of fit; the state dict keys never change, so checkpoints load into plain models.
    """

    def __init__(self, device: str = "cpu") -> None:
        self.device = device

    def apply(self, model: nn.Module) -> nn.Module:
        return super().apply(model) if self.device == "cuda" else _swap_batchnorm(model, to_all_reduce=True)

    def revert(self, model: nn.Module) -> nn.Module:
        return super().revert(model) if self.device == "cuda" else _swap_batchnorm(model, to_all_reduce=False)


def _swap_batchnorm(module: nn.Module, to_all_reduce: bool) -> nn.Module:
    """A copy of ``module``'s structure with its batch norm layers swapped (sharing parameters and buffers)."""
    if to_all_reduce and isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, AllReduceBatchNorm):
        new = AllReduceBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                 module.track_running_stats, original_class=type(module))
    elif not to_all_reduce and isinstance(module, AllReduceBatchNorm):
        new = module.original_class(module.num_features, module.eps, module.momentum, module.affine,
                                    module.track_running_stats)
    else:
        new = module
    if new is not module:
        new.weight, new.bias = module.weight, module.bias
        new.running_mean, new.running_var = module.running_mean, module.running_var
        new.num_batches_tracked = module.num_batches_tracked
        new.train(module.training)
    for name, child in module.named_children():
        new.add_module(name, _swap_batchnorm(child, to_all_reduce))
    return new


def has_batchnorm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def decorrelate_rng(rank: int) -> None:
    """Reseeds torch's global generators from their current state and ``rank``: processes that share a seed (as
    ``seed_everything`` makes them) then draw different noise, and the result stays a function of the seed."""
    base = int(torch.randint(0, 2**31 - 1, ()))  # the same on every process that shares the state
    torch.manual_seed(base + 7919 * rank)


def loss_scale(trainer: Any) -> float:
    """The current fp16 loss scale of the trainer's precision plugin (1.0 without a gradient scaler)."""
    scaler = getattr(getattr(trainer, "precision_plugin", None), "scaler", None)
    return float(scaler.get_scale()) if scaler is not None else 1.0
