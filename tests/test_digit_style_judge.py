"""The CycleGAN digits benchmark's judge (experiments/benchmarks/digit_style_judge.py): the equal-size FID floor,
the binomial standard error and the shift augmentation, on random features and images (no training)."""

import sys

import numpy as np
import pytest
import torch

from test_benchmarks import BENCH

sys.path.insert(0, str(BENCH))
from digit_style_judge import binomial_se, equal_n_floor, frechet_distance, random_shift, study  # noqa: E402


def _features(n: int, seed: int, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 16)) + shift


def test_equal_n_floor_grows_as_the_sample_shrinks():
    train, test = _features(1000, 0), _features(180, 1)  # one distribution: every distance is small-sample bias
    small, _ = equal_n_floor(train, test, n=60)
    medium, spread = equal_n_floor(train, test, n=180)
    large, _ = equal_n_floor(train, test, n=900)
    assert small > medium > large > 0 and spread > 0
    # a training set of another distribution raises it at every size (the floor measures a distance, not only n)
    far, _ = equal_n_floor(_features(1000, 0, shift=1.0), test, n=180)
    assert far > medium + 10.0  # the means differ by 1 in each of 16 dimensions: +16


def test_equal_n_floor_draws_n_images_with_a_fixed_seed():
    train, test = _features(300, 0), _features(100, 1)
    # all of the training set (in some order): exactly the distance of the full sets, whatever the subset seed
    whole, spread = equal_n_floor(train, test, n=300, repeats=3)
    assert whole == pytest.approx(frechet_distance(train, test), rel=1e-9) and spread < 1e-9
    assert equal_n_floor(train, test, n=100, seed=4) == equal_n_floor(train, test, n=100, seed=4)
    assert equal_n_floor(train, test, n=100, seed=4) != equal_n_floor(train, test, n=100, seed=5)
    with pytest.raises(ValueError, match="n must be in"):
        equal_n_floor(train, test, n=301)


def test_binomial_se():
    assert binomial_se(0.95, 179) == pytest.approx(0.01629, abs=1e-5)
    assert binomial_se(1.0, 179) == 0.0 and binomial_se(0.5, 100) == pytest.approx(0.05)


def test_random_shift_moves_each_image_by_at_most_k_pixels():
    x = torch.full((50, 1, 16, 16), -1.0)
    x[:, :, 7, 7] = 1.0  # one lit pixel in the middle
    out = random_shift(x, 1, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and (out == 1.0).flatten(1).sum(1).eq(1).all()  # the pixel kept, nothing else lit
    where = (out[:, 0] == 1.0).nonzero()[:, 1:]  # (row, column) of each image's lit pixel
    assert ((where - 7).abs() <= 1).all() and len({tuple(p) for p in where.tolist()}) > 4  # moved, variously


def test_judge_study_scores_each_setting_and_domain_on_real_held_out_images():
    rows = study([(1, 0), (1, 1)], seeds=[0])
    assert [(r["epochs"], r["shift"], r["domain"]) for r in rows] == [(1, 0, "a"), (1, 0, "b"), (1, 1, "a"), (1, 1, "b")]
    for r in rows:  # pooled over 179 + 180 images: between its two parts
        low, high = sorted((r["acc_real_test"], r["acc_ground_truth"]))
        assert low - 1e-9 <= r["acc_pooled"] <= high + 1e-9 and 0.1 < r["acc_real_test"] <= 1.0
