"""Intermediate features of any network, read with forward hooks: the discriminator's features for the
distillation loss, without naming the layers (so a change of a variant's networks keeps working)."""

from __future__ import annotations

import contextlib
from typing import Iterator

from torch import Tensor, nn

#: normalisation layers: their outputs restate the layer before them, rescaled by (running) statistics
NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm)


def feature_layers(net: nn.Module) -> list[nn.Module]:
    """The layers whose outputs are features: leaf modules with weights of their own (convolutions, linear maps), in
    registration order, without normalisation layers and without the last one (the output: a discriminator's logit
    is its judgement, the adversarial term's input, not a feature).

    The exclusions are measured together (docs/compression.md, "Why the students failed"): with the discriminator's
    logit and batch-norm outputs in the loss, students matched those and not the images."""
    layers = [m for m in net.modules()
              if not list(m.children()) and list(m.parameters(recurse=False)) and not isinstance(m, NORMS)]
    return layers[:-1]


@contextlib.contextmanager
def record_features(net: nn.Module) -> Iterator[list[Tensor]]:
    """Within the block, every forward pass of ``net`` appends the outputs of its :func:`feature_layers` to the
    yielded list (cleared by the caller between passes)."""
    features: list[Tensor] = []
    def keep(_module: nn.Module, _inputs, out) -> None:
        if isinstance(out, Tensor):
            features.append(out)

    handles = [m.register_forward_hook(keep) for m in feature_layers(net)]
    try:
        yield features
    finally:
        for h in handles:
            h.remove()
