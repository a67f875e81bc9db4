"""Structured channel pruning of a generator that is a chain of layers (DCGAN's and the MLP generators).

Criterion (Li et al. 2017, "Pruning Filters for Efficient ConvNets", arXiv:1608.08710, section 3.1): in every hidden
layer keep the output channels (convolution filters, rows of a linear map) of largest L1 norm, over the input
channels kept in the layer before, and physically remove the others together with their batch norm entries and the
matching input channels of the next layer. How many a layer keeps is the width of a student of the same variant
(:func:`lit_gans.compress.student.build_student` at width 1 - amount), so the pruned generator is an ordinary model of
the teacher's class; a short distillation against the unpruned teacher then recovers its quality.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from lit_gans.errors import UserError

#: layer type -> the dimension of its weight that holds the output channels
_OUT_DIM = {nn.Linear: 0, nn.Conv2d: 0, nn.ConvTranspose2d: 1}
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def chain_layers(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers with weights, in order; a clear error unless each is a linear map, a convolution or a batch norm
    (a chain one pruning pass can follow)."""
    layers = [(n, m) for n, m in net.named_modules() if not list(m.children()) and list(m.parameters(recurse=False))]
    odd = sorted({type(m).__name__ for _, m in layers if type(m) not in _OUT_DIM and not isinstance(m, _NORMS)})
    if odd or any(isinstance(m, nn.Conv2d) and m.groups != 1 for _, m in layers):
        raise UserError(
            f"prune needs a generator that is a chain of Linear/Conv2d/ConvTranspose2d/BatchNorm layers (DCGAN, CGAN, "
            f"WGAN, the MLP GANs); this one has {', '.join(odd) or 'grouped convolutions'}: use --method distill"
        )
    return layers


def l1_keep(weight: Tensor, out_dim: int, k: int) -> Tensor:
    """Indices (ascending) of the ``k`` output channels of largest L1 norm.

    >>> l1_keep(torch.tensor([[1.0, 1.0], [0.1, 0.0], [-3.0, 0.0]]), out_dim=0, k=2)
    tensor([0, 2])
    """
    norms = weight.abs().transpose(0, out_dim).flatten(1).sum(1)
    return norms.topk(k).indices.sort().values


@torch.no_grad()
def prune_into(source: nn.Module, target: nn.Module) -> dict[str, int]:
    """Copies ``source``'s weights into the narrower ``target`` of the same structure, keeping in each layer the
    channels of largest L1 norm; returns the channels kept per layer."""
    src, dst = chain_layers(source), chain_layers(target)
    if [n for n, _ in src] != [n for n, _ in dst]:
        raise ValueError("source and target generators differ in structure, not only in width")
    keep: Optional[Tensor] = None  # channels kept by the previous layer (None: all, e.g. the input z)
    kept = {}
    for (name, s), (_, t) in zip(src, dst):
        if isinstance(s, _NORMS):
            for attr in ("weight", "bias", "running_mean", "running_var"):
                getattr(t, attr).copy_(getattr(s, attr)[keep] if keep is not None else getattr(s, attr))
            t.num_batches_tracked.copy_(s.num_batches_tracked)
            continue
        out_dim = _OUT_DIM[type(s)]
        w = s.weight if keep is None else s.weight.index_select(1 - out_dim, keep)  # input channels kept
        keep = l1_keep(w, out_dim, t.weight.shape[out_dim])
        t.weight.copy_(w.index_select(out_dim, keep))
        if s.bias is not None:
            t.bias.copy_(s.bias[keep])
        kept[name] = len(keep)
    return kept
