"""Feature networks of the sample-quality metrics: one interface for Inception v3 and the small domain classifiers.

A :class:`FeatureExtractor` takes images as every lit_gans model makes them, (N, C, H, W) floats in [-1, 1], and
returns pooled features (N, d) from :meth:`forward` (so that torchmetrics' ``FrechetInceptionDistance(feature=...)``
takes it as is; it carries ``num_features``, so torchmetrics never probes it with a dummy image) and both the
features and the class logits (N, K) from :meth:`features_and_logits`, the latter for the Inception Score.
"""

from __future__ import annotations

import hashlib

import torch
from torch import Tensor, nn


class FeatureExtractor(nn.Module):
    """Base of the feature networks: frozen, always in eval mode, with a fingerprint of its weights."""

    num_features: int
    num_classes: int

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        return self.features_and_logits(x)[0]

    def train(self, mode: bool = True) -> "FeatureExtractor":
        return super().train(False)  # a metric's backbone never leaves eval mode (batch norm, dropout)

    def fingerprint(self) -> str:
        """SHA-1 of the class name and every weight: changes whenever the backbone does (the real-statistics cache
        key)."""
        if getattr(self, "_fingerprint", None) is None:
            self._fingerprint = weights_fingerprint(self)
        return self._fingerprint


def weights_fingerprint(module: nn.Module) -> str:
    h = hashlib.sha1(type(module).__name__.encode())
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(tensor_bytes(t))
    return h.hexdigest()


def tensor_bytes(t: Tensor) -> bytes:
    """The raw bytes of a tensor (CPU, contiguous), for hashing."""
    t = t.detach().cpu().contiguous()
    return t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
