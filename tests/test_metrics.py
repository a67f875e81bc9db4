"""FID, KID, IS and precision/recall against independent NumPy/SciPy computations; the offline Inception pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from lit_gans.metrics.scores import FeatureScores, PrecisionRecall
from metric_fixtures import FlatFeatures, random_inception_weights_file


def _scores(d: int, metrics, **kwargs) -> FeatureScores:
    return FeatureScores(FlatFeatures(d), metrics, **kwargs)


def _fid_reference(a: np.ndarray, b: np.ndarray) -> float:
    """Heusel et al. 2017, eq. in section 3, with SciPy's matrix square root."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


def test_fid_matches_scipy_and_is_zero_for_a_set_with_itself():
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(300, 6, generator=gen, dtype=torch.float64)
    fake = 0.7 * torch.randn(300, 6, generator=gen, dtype=torch.float64) + 0.5
    scores = _scores(6, ["fid"])
    scores.update_features(real, real[:, :2], real=True)
    scores.update_features(fake, fake[:, :2], real=False)
    fid = scores.compute()["fid"]
    expected = _fid_reference(real.numpy(), fake.numpy())
    assert abs(fid - expected) < 1e-4 * max(1.0, expected) and expected > 1.0
    # the same set: 0; the same set shifted by delta in each of d dimensions: d * delta^2 (covariances equal)
    scores.reset_fake()
    scores.update_features(real, real[:, :2], real=False)
    assert abs(scores.compute()["fid"]) < 1e-4
    scores.reset_fake()
    scores.update_features(real + 0.5, real[:, :2], real=False)
    assert abs(scores.compute()["fid"] - 6 * 0.25) < 1e-4


def _kid_reference(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with the cubic polynomial kernel k(a, b) = (a.b / d + 1)^3 (Binkowski et al. 2018)."""
    d, m = x.shape[1], len(x)
    k = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    off = lambda kk: (kk.sum() - np.trace(kk)) / (m * (m - 1))  # noqa: E731
    return float(off(kxx) + off(kyy) - 2 * kxy.mean())


def test_kid_matches_numpy_with_one_subset_of_all_samples():
    gen = torch.Generator().manual_seed(1)
    real, fake = torch.randn(64, 5, generator=gen), torch.randn(64, 5, generator=gen) + 1.0
    other_real = torch.randn(64, 5, generator=gen)
    scores = _scores(5, ["kid"], kid_subset_size=64, kid_subsets=1)
    scores.update_features(real, real, real=True)
    scores.update_features(fake, fake, real=False)
    kid = scores.compute()["kid"]
    expected = _kid_reference(real.double().numpy(), fake.double().numpy())
    assert abs(kid - expected) < 1e-4 * max(1.0, abs(expected)) and expected > 1.0
    scores.reset_fake()
    scores.update_features(other_real, other_real, real=False)  # another draw of the same distribution: ~0
    same = scores.compute()["kid"]
    assert abs(same - _kid_reference(real.double().numpy(), other_real.double().numpy())) < 1e-4
    assert abs(same) < 0.1 * expected


def test_inception_score_of_a_perfect_classifier():
    """Confident, uniform over 10 classes: IS = exp(H(uniform)) = 10; all in one class: IS = 1."""
    labels = torch.arange(1000) % 10
    confident = 30.0 * torch.nn.functional.one_hot(labels, 10).float()
    scores = FeatureScores(FlatFeatures(10, num_classes=10), ["is"], is_splits=1)
    scores.update_features(confident, confident, real=False)
    assert abs(scores.compute()["is"] - 10.0) < 1e-3
    scores.reset_fake()
    scores.update_features(confident[labels == 3], confident[labels == 3], real=False)
    assert abs(scores.compute()["is"] - 1.0) < 1e-3


def _pr_reference(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float, float, float]:
    """Brute-force k-NN precision, recall (Kynkäänniemi et al.) and density, coverage (Naeem et al.)."""
    def radii(a):
        d = np.sqrt(((a[:, None] - a[None]) ** 2).sum(-1))
        return np.sort(d, axis=1)[:, k]  # column 0 is the point itself

    d_fr = np.sqrt(((fake[:, None] - real[None]) ** 2).sum(-1))  # (F, R)
    r_real, r_fake = radii(real), radii(fake)
    precision = (d_fr <= r_real[None]).any(1).mean()
    recall = (d_fr.T <= r_fake[None]).any(1).mean()
    density = (d_fr <= r_real[None]).sum(1).mean() / k
    coverage = (d_fr <= r_real[None]).any(0).mean()
    return precision, recall, density, coverage


def test_precision_recall_density_coverage_match_brute_force():
    gen = torch.Generator().manual_seed(2)
    real = torch.randn(80, 3, generator=gen)
    fake = torch.cat([torch.randn(40, 3, generator=gen) * 0.5, torch.randn(40, 3, generator=gen) + 3.0])
    metric = PrecisionRecall(k=3)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    got = {k: float(v) for k, v in metric.compute().items()}
    p, r, d, c = _pr_reference(real.double().numpy(), fake.double().numpy(), 3)
    for name, value in zip(("precision", "recall", "density", "coverage"), (p, r, d, c)):
        assert abs(got[name] - value) < 1e-6, name
    assert 0.3 < got["precision"] < 0.8  # half the generated points sit far from the data
    # both ways: the real set against itself is perfect, a far-away set scores zero
    metric.reset()
    metric.update(real, real=True)
    metric.update(real, real=False)
    assert metric.compute()["precision"] == 1.0 and metric.compute()["coverage"] == 1.0
    metric.reset()
    metric.update(real, real=True)
    metric.update(real + 100.0, real=False)
    out = metric.compute()
    assert out["precision"] == 0.0 and out["recall"] == 0.0 and out["coverage"] == 0.0


def test_unknown_metric_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown metrics"):
        _scores(2, ["fid", "psnr"])


def test_inception_pipeline_runs_offline_from_the_environment_variable(monkeypatch):
    """The whole Inception path (uint8 conversion, 299x299 resize, torch-fidelity's network and its logits,
    torchmetrics' FID and KID) with random weights written by the test: nothing is downloaded."""
    from lit_gans.metrics.inception import WEIGHTS_ENV, InceptionFeatures

    monkeypatch.setenv(WEIGHTS_ENV, random_inception_weights_file())
    # the 64-d pool layer: the network still runs to its logits, but FID's eigenvalues of a 2048x2048 matrix (13 s
    # here) are torchmetrics' code, the same for every layer
    scores = FeatureScores(InceptionFeatures(feature=64), ["fid", "kid"], kid_subsets=2)
    gen = torch.Generator().manual_seed(3)
    real = torch.rand(2, 1, 16, 16, generator=gen) * 2 - 1  # grey images are repeated on 3 channels
    other = (torch.rand(2, 1, 16, 16, generator=gen) * 2 - 1).clamp(0.5, 1.0)
    features, logits = scores.features(real)
    assert features.shape == (2, 64) and logits.shape == (2, 1008)
    scores.update_features(features, logits, real=True)
    scores.update_features(features, logits, real=False)
    same = scores.compute()
    scores.reset_fake()
    scores.update(other, real=False)
    different = scores.compute()
    assert abs(same["fid"]) < 1e-3 * different["fid"] and different["fid"] > 1.0
    assert abs(same["kid"]) < different["kid"]


def test_inception_weights_path_errors_are_clear(monkeypatch, tmp_path):
    from lit_gans.metrics.inception import WEIGHTS_ENV, inception_weights_path

    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "missing.pt"))
    with pytest.raises(FileNotFoundError, match="LIT_GANS_INCEPTION_WEIGHTS points to"):
        inception_weights_path()
    monkeypatch.delenv(WEIGHTS_ENV)
    assert inception_weights_path() is None
    with pytest.raises(FileNotFoundError, match="inception_weights points to"):
        inception_weights_path(str(tmp_path / "other.pt"))
