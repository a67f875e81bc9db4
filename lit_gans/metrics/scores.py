"""FID, KID, Inception Score and precision/recall of generated images, on any :class:`FeatureExtractor`.

The statistics are torchmetrics' (``FrechetInceptionDistance``, ``KernelInceptionDistance``, ``InceptionScore``,
which also synchronise their states across processes) and torch-fidelity's k-NN precision/recall of Kynkäänniemi et
al. 2019 (arXiv:1904.06991). :class:`FeatureScores` runs the backbone once per batch and hands the same features to
every metric, whose own feature network is then a pass-through; real-data features can be fed once and kept
(``reset_real_features=False``) while the generated ones are reset after every evaluation. Density and coverage
(Naeem et al. 2020, arXiv:2002.09797) are computed from the same k-NN balls.

Every ``compute`` must run on every process: each one takes part in the gathering of the states.
"""

from __future__ import annotations

import warnings
from typing import Iterable

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.image import FrechetInceptionDistance, InceptionScore, KernelInceptionDistance
from torchmetrics.utilities.data import dim_zero_cat

from lit_gans.metrics.features import FeatureExtractor

METRICS = ("fid", "kid", "is", "pr")


class _Passthrough(nn.Identity):
    """The "feature network" handed to torchmetrics when the features are already computed."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features  # read by torchmetrics instead of probing with a dummy image


class PrecisionRecall(Metric):
    """k-NN precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. 2020) of generated
    features against real ones. Keeps all features: fine for the few thousand samples of an evaluation.

    Precision: share of generated samples inside some real sample's k-NN ball (quality); recall: share of real
    samples inside some generated sample's ball (diversity). Density: mean count of real balls holding a generated
    sample, over k; coverage: share of real balls holding at least one generated sample.
    """

    full_state_update = False

    def __init__(self, k: int = 3, reset_real_features: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        if k < 1:
            raise ValueError(f"k (nearest neighbours) must be >= 1, got {k}")
        self.k, self.reset_real_features = k, reset_real_features
        self.add_state("real_features", [], dist_reduce_fx="cat")
        self.add_state("fake_features", [], dist_reduce_fx="cat")

    def update(self, features: Tensor, real: bool) -> None:
        (self.real_features if real else self.fake_features).append(features.float())

    def compute(self) -> dict[str, Tensor]:
        from torch_fidelity.metric_prc import calculate_precision_recall_full

        real, fake = dim_zero_cat(self.real_features), dim_zero_cat(self.fake_features)
        if len(real) <= self.k or len(fake) <= self.k:
            raise ValueError(f"precision/recall with k={self.k} needs more than {self.k} real and generated samples")
        precision, recall = calculate_precision_recall_full(fake, real, neighborhood=self.k)
        radius = torch.cdist(real, real).kthvalue(self.k + 1, dim=1).values  # (R,) k-NN radius; +1 skips itself
        inside = torch.cdist(fake, real) <= radius  # (F, R): generated j inside real ball i
        density = inside.sum(1).double().mean() / self.k
        coverage = inside.any(0).double().mean()
        return {"precision": torch.tensor(precision), "recall": torch.tensor(recall),
                "density": density.float(), "coverage": coverage.float()}

    def reset(self) -> None:
        real = list(self.real_features)
        super().reset()
        if not self.reset_real_features:
            self.real_features = real


class FeatureScores(nn.Module):
    """The chosen metrics of generated against real images, on one backbone run once per batch.

    Args:
        backbone: the feature network (:class:`~lit_gans.metrics.inception.InceptionFeatures`,
            :class:`~lit_gans.metrics.classifier.ClassifierFeatures`).
        metrics: any of ``fid``, ``kid``, ``is`` (Inception Score of the backbone's logits), ``pr`` (precision,
            recall, density, coverage).
        kid_subset_size: KID's subset size (1000 in the paper), lowered to the number of samples when there are fewer.
        kid_subsets: number of KID subsets.
        is_splits: splits of the Inception Score (10 in the paper).
        pr_k: nearest neighbours of precision/recall (3 in the paper).

    :meth:`compute` returns plain floats: ``fid``, ``kid`` and ``kid_std``, ``is`` and ``is_std``, ``precision``,
    ``recall``, ``density``, ``coverage``.
    """

    def __init__(
        self,
        backbone: FeatureExtractor,
        metrics: Iterable[str] = METRICS,
        kid_subset_size: int = 1000,
        kid_subsets: int = 100,
        is_splits: int = 10,
        pr_k: int = 3,
    ) -> None:
        super().__init__()
        self.metrics = tuple(metrics)
        unknown = sorted(set(self.metrics) - set(METRICS))
        if unknown or not self.metrics:
            raise ValueError(f"unknown metrics {unknown}: choose among {list(METRICS)}")
        self.backbone, self.kid_subset_size = backbone, kid_subset_size
        d = backbone.num_features
        with warnings.catch_warnings():  # KID and IS warn that they keep all features: known, and few here
            warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
            self._make_metrics(d, kid_subsets, is_splits, pr_k)
        self.num_real = self.num_fake = 0  # this process's counts
        self.register_buffer("_device_marker", torch.empty(0), persistent=False)  # follows .to(device)

    def _make_metrics(self, d: int, kid_subsets: int, is_splits: int, pr_k: int) -> None:
        wanted = self.metrics
        self.fid = FrechetInceptionDistance(_Passthrough(d), reset_real_features=False) if "fid" in wanted else None
        self.kid = (
            KernelInceptionDistance(
                _Passthrough(d), subsets=kid_subsets, subset_size=self.kid_subset_size, reset_real_features=False
            )
            if "kid" in wanted
            else None
        )
        k = self.backbone.num_classes
        self.inception_score = InceptionScore(_Passthrough(k), splits=is_splits) if "is" in wanted else None
        self.pr = PrecisionRecall(pr_k, reset_real_features=False) if "pr" in wanted else None

    def features(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Backbone features (N, d) and logits (N, K) of images in [-1, 1]."""
        return self.backbone.features_and_logits(images)

    def update(self, images: Tensor, real: bool) -> None:
        self.update_features(*self.features(images), real=real)

    def update_features(self, features: Tensor, logits: Tensor, real: bool) -> None:
        """Adds precomputed backbone outputs (e.g. cached real-data features) to every metric."""
        features, logits = features.to(self._device()), logits.to(self._device())
        for metric in (self.fid, self.kid, self.pr):
            if metric is not None:
                metric.update(features, real=real)
        if not real and self.inception_score is not None:
            self.inception_score.update(logits)
        if real:
            self.num_real += len(features)
        else:
            self.num_fake += len(features)

    def compute(self, seed: int = 0) -> dict[str, float]:
        """All metrics, on every process (each takes part in gathering the states); ``seed`` fixes the random
        subsets of KID and the split order of IS without touching the global random state."""
        out: dict[str, float] = {}
        with torch.random.fork_rng(devices=[]):  # KID and IS draw their permutations from the CPU generator
            torch.random.default_generator.manual_seed(seed)
            if self.fid is not None:
                out["fid"] = float(self.fid.compute())
            if self.kid is not None:
                n_real, n_fake = _global_sum(self.num_real, self._device()), _global_sum(self.num_fake, self._device())
                self.kid.subset_size = min(self.kid_subset_size, n_real, n_fake)
                out["kid"], out["kid_std"] = (float(v) for v in self.kid.compute())
            if self.inception_score is not None:
                out["is"], out["is_std"] = (float(v) for v in self.inception_score.compute())
            if self.pr is not None:
                out |= {k: float(v) for k, v in self.pr.compute().items()}
        return out

    def reset_fake(self) -> None:
        """Forgets the generated samples, keeps the real ones."""
        for metric in (self.fid, self.kid, self.inception_score, self.pr):
            if metric is not None:
                metric.reset()
        self.num_fake = 0

    def _device(self) -> torch.device:
        return self._device_marker.device


def _global_sum(n: int, device: torch.device) -> int:
    """``n`` summed over the processes (``n`` itself outside distributed runs)."""
    if not (dist.is_available() and dist.is_initialized()):
        return n
    t = torch.tensor(n, device=device)
    dist.all_reduce(t)
    return int(t)
