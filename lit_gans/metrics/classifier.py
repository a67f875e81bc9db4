"""The digits classifier as a metric backbone, its training, and the Classification Accuracy Score.

- :func:`fit_classifier` trains :class:`~lit_gans.nets.classifier.DigitsClassifier` (Adam, cross-entropy, a fixed
  seed) on labelled images; ``lit-gans train-classifier`` runs it on the real digits and saves a checkpoint.
- :class:`ClassifierFeatures` loads such a checkpoint as a :class:`~lit_gans.metrics.features.FeatureExtractor`, the
  domain backbone of FID, KID, precision/recall and the classifier-based Inception Score (the "MNIST score").
- :func:`classification_accuracy_score` is CAS (Ravuri & Vinyals 2019, arXiv:1905.10887): train a classifier on
  generated labelled samples only, report its accuracy on real held-out data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from lit_gans.metrics.features import FeatureExtractor
from lit_gans.nets.classifier import DigitsClassifier, resize_to


def fit_classifier(
    x: Tensor,
    y: Tensor,
    *,
    num_classes: int = 10,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    **net_kwargs: Any,
) -> DigitsClassifier:
    """A :class:`DigitsClassifier` trained on images ``x`` (N, C, H, W) in [-1, 1] with labels ``y`` (N,)."""
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"need as many labels as images (and at least one), got {len(x)} images, {len(y)} labels")
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = DigitsClassifier(x.shape[1], num_classes, **net_kwargs)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    net.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(batch_size):
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return net.eval()


@torch.no_grad()
def accuracy(net: torch.nn.Module, x: Tensor, y: Tensor, batch_size: int = 512) -> float:
    """Share of images ``x`` that ``net`` puts in their class ``y``."""
    net.eval()
    pred = torch.cat([net(xb).argmax(1) for xb in x.split(batch_size)])
    return float((pred == y).double().mean())


def classification_accuracy_score(
    x_fake: Tensor, y_fake: Tensor, x_test: Tensor, y_test: Tensor, *, num_classes: int = 10, **fit_kwargs: Any
) -> float:
    """CAS: accuracy on real ``(x_test, y_test)`` of a classifier trained only on generated ``(x_fake, y_fake)``."""
    if x_fake.shape[1:] != x_test.shape[1:]:
        raise ValueError(f"generated images {tuple(x_fake.shape[1:])} and test images {tuple(x_test.shape[1:])} differ")
    net = fit_classifier(x_fake, y_fake, num_classes=num_classes, **fit_kwargs)
    return accuracy(net, x_test, y_test)


class ClassifierFeatures(FeatureExtractor):
    """A trained :class:`DigitsClassifier` as a metric backbone: its penultimate layer as features, its logits for the
    Inception Score. Inputs of another size are resized to the size it was trained at.

    Args:
        net: the trained classifier.
        image_size: the side of the images it was trained on.
    """

    def __init__(self, net: DigitsClassifier, image_size: int) -> None:
        super().__init__()
        self.net, self.image_size = net.eval().requires_grad_(False), image_size
        self.num_features, self.num_classes = net.feature_dim, net.num_classes

    @torch.no_grad()
    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.dim() != 4 or x.shape[1] != self.net.in_channels:
            raise ValueError(
                f"the classifier takes images (N, {self.net.in_channels}, H, W), got shape {tuple(x.shape)}"
            )
        return self.net.features_and_logits(resize_to(x.float(), self.image_size))

    def save(self, path: str | Path, **extra: Any) -> Path:
        """Writes the weights and the constructor arguments (plain values: loadable with ``weights_only``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        n = self.net
        config = {"in_channels": n.in_channels, "num_classes": n.num_classes, "feature_dim": n.feature_dim,
                  "width": n.body[0].out_channels, "image_size": self.image_size}
        torch.save({"lit_gans_classifier": config, "state_dict": n.state_dict(), **extra}, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "ClassifierFeatures":
        if not Path(path).is_file():
            raise FileNotFoundError(f"no classifier checkpoint at {path}: make one with `lit-gans train-classifier`")
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if "lit_gans_classifier" not in ckpt:
            raise ValueError(f"{path} is not a checkpoint written by `lit-gans train-classifier`")
        config = dict(ckpt["lit_gans_classifier"])
        image_size = config.pop("image_size")
        net = DigitsClassifier(**config)
        net.load_state_dict(ckpt["state_dict"])
        return cls(net, image_size)


def load_backbone(name: str, inception_weights: Optional[str] = None) -> FeatureExtractor:
    """``"inception"`` or the path of a ``lit-gans train-classifier`` checkpoint."""
    if name == "inception":
        from lit_gans.metrics.inception import InceptionFeatures

        return InceptionFeatures(inception_weights)
    return ClassifierFeatures.load(name)
