"""Mode statistics (lit_gans.metrics.modes) and pixel MMD (lit_gans.metrics.mmd) on hand-made sample sets."""

import math

import torch

from lit_gans.metrics.mmd import mmd_rbf
from lit_gans.metrics.modes import kl_to_uniform, mode_statistics

MEANS = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])


def test_a_sample_is_high_quality_within_three_standard_deviations_of_its_nearest_mode():
    # std 0.5: 1.4 from mode 0 is inside 3 std, 1.6 is outside; mode 2 gets one sample of each kind
    samples = torch.tensor([[1.4, 0.0], [1.6, 0.0], [10.0, 0.2], [0.0, 8.6], [0.0, 8.4]])
    s = mode_statistics(samples, MEANS, std=0.5)
    assert s.counts == (1, 1, 1) and s.modes == 3 and abs(s.high_quality - 60.0) < 1e-9
    s = mode_statistics(samples, MEANS, std=0.5, min_count=2)
    assert s.modes == 0
    s = mode_statistics(samples, MEANS, std=0.5, threshold=2.0)  # 1 std: only the sample at 0.2 from mode 1
    assert s.counts == (0, 1, 0) and s.modes == 1


def test_reverse_kl_to_uniform_by_hand():
    assert abs(kl_to_uniform(torch.tensor([5, 5, 5]))) < 1e-12
    # p = (3/4, 1/4, 0) against 1/3 each: 3/4 log(9/4) + 1/4 log(3/4)
    expected = 0.75 * math.log(0.75 * 3) + 0.25 * math.log(0.25 * 3)
    assert abs(kl_to_uniform(torch.tensor([3, 1, 0])) - expected) < 1e-12
    assert kl_to_uniform(torch.tensor([0, 0, 0])) == float("inf")


def test_mmd_by_hand_for_single_points():
    # one point each, distance d: MMD^2 = 2 k(0) - 2 k(d) with k(d) = exp(-d^2 / (2 s^2))
    a, b = torch.zeros(1, 2), torch.tensor([[3.0, 4.0]])
    expected = 2 - 2 * math.exp(-25 / 8)
    assert abs(mmd_rbf(a, b, bandwidths=[2.0]) - expected) < 1e-12
    assert abs(mmd_rbf(a, b, bandwidths=[2.0, 1.0]) - (expected + 2 - 2 * math.exp(-25 / 2))) < 1e-12
