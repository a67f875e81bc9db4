"""The adversarial losses against hand-computed values (both directions of every comparison)."""

import math

import pytest
import torch

from lit_gans import losses as L

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])


def sp(x: float) -> float:  # softplus, by hand
    return math.log1p(math.exp(x))


def close(a, b, tol=1e-5):
    return abs(float(a) - b) < tol


def test_discriminator_logistic_loss_is_binary_cross_entropy():
    # -log sigmoid(r) = softplus(-r); -log(1 - sigmoid(f)) = softplus(f)
    expected = (sp(-2.0) + sp(1.0)) / 2 + (sp(0.5) + sp(-3.0)) / 2
    assert close(L.d_logistic_loss(REAL, FAKE), expected)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    ref = bce(REAL, torch.ones(2)) + bce(FAKE, torch.zeros(2))
    assert close(L.d_logistic_loss(REAL, FAKE), float(ref))


def test_minimax_generator_loss_is_log_one_minus_d():
    d = [1 / (1 + math.exp(-f)) for f in FAKE.tolist()]
    expected = sum(math.log(1 - p) for p in d) / 2
    assert close(L.g_minimax_loss(FAKE), expected)


def test_non_saturating_generator_loss_is_minus_log_d():
    d = [1 / (1 + math.exp(-f)) for f in FAKE.tolist()]
    expected = -sum(math.log(p) for p in d) / 2
    assert close(L.g_nonsaturating_loss(FAKE), expected)


def test_minimax_saturates_where_non_saturating_does_not():
    # D rejects the fakes confidently (logit -10): the minimax gradient vanishes, the non-saturating one does not.
    f = torch.tensor([-10.0], requires_grad=True)
    (g_mm,) = torch.autograd.grad(L.g_minimax_loss(f), f)
    (g_ns,) = torch.autograd.grad(L.g_nonsaturating_loss(f), f)
    assert abs(float(g_mm)) < 1e-4  # d/df [-softplus(f)] = -sigmoid(f) ~ -4.5e-5
    assert abs(float(g_ns) + 1.0) < 1e-4  # d/df softplus(-f) = -sigmoid(-f) ~ -1


def test_hinge_losses():
    # relu(1 - [2, -1]) = [0, 2]; relu(1 + [0.5, -3]) = [1.5, 0]
    assert close(L.d_hinge_loss(REAL, FAKE), (0 + 2) / 2 + (1.5 + 0) / 2)
    assert close(L.g_hinge_loss(FAKE), -(0.5 - 3.0) / 2)


def test_least_squares_losses():
    assert close(L.d_least_squares_loss(REAL, FAKE), 0.5 * (1 + 4) / 2 + 0.5 * (0.25 + 9) / 2)
    assert close(L.g_least_squares_loss(FAKE), 0.5 * (0.25 + 16) / 2)


def test_wasserstein_losses():
    assert close(L.d_wasserstein_loss(REAL, FAKE), (0.5 - 3.0) / 2 - (2.0 - 1.0) / 2)
    assert close(L.g_wasserstein_loss(FAKE), -(0.5 - 3.0) / 2)


def test_gradient_penalty_of_a_linear_critic():
    # C(x) = w . x has gradient w everywhere: penalty = (||w|| - 1)^2 whatever the interpolates are.
    w = torch.tensor([3.0, 4.0])
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    gp = L.gradient_penalty(lambda x: x @ w, real, fake)
    assert close(gp, (5.0 - 1.0) ** 2, 1e-4)


def test_gradient_penalty_works_on_images():
    w = torch.full((1, 3, 4, 4), 0.25)  # ||w|| = sqrt(48) * 0.25
    gp = L.gradient_penalty(lambda x: (x * w).flatten(1).sum(1), torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4))
    assert close(gp, (math.sqrt(48) * 0.25 - 1) ** 2, 1e-4)


def test_r1_penalty_of_a_quadratic_discriminator():
    x = torch.tensor([[1.0, 2.0], [0.0, -1.0]], requires_grad=True)
    logits = (x**2).sum(1)  # gradient 2x: squared norms 4 * [5, 1]
    assert close(L.r1_penalty(logits, x), (20.0 + 4.0) / 2)


def test_cycle_loss_is_mean_absolute_error():
    assert close(L.cycle_consistency_loss(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 4.0])), 1.5)


def test_squared_error_is_lsgan_term_without_its_half():
    assert close(L.squared_error(FAKE, 1.0), (0.25 + 16) / 2)  # CycleGAN's E[(D(G(x)) - 1)^2]
    assert close(L.squared_error(REAL, 0.0), (4 + 1) / 2)
    x = torch.randn(7)
    assert torch.equal(L.g_least_squares_loss(x), 0.5 * L.squared_error(x, 1.0))  # the same numbers, bit for bit


def test_identity_loss_is_mean_absolute_change():
    assert close(L.identity_loss(torch.tensor([[1.0, -1.0], [0.0, 2.0]]), torch.tensor([[0.5, 0.0], [0.0, 0.0]])),
                 (0.5 + 1 + 0 + 2) / 4)
    assert close(L.identity_loss(REAL, REAL), 0.0)


def test_unknown_loss_name_lists_the_choices():
    with pytest.raises(ValueError, match="non_saturating"):
        L.adversarial_loss("nonsaturating")


@pytest.mark.parametrize("name, d_loss, g_loss, probabilistic", [
    ("minimax", L.d_logistic_loss, L.g_minimax_loss, True),
    ("non_saturating", L.d_logistic_loss, L.g_nonsaturating_loss, True),
    ("hinge", L.d_hinge_loss, L.g_hinge_loss, False),
    ("least_squares", L.d_least_squares_loss, L.g_least_squares_loss, False),
    ("wasserstein", L.d_wasserstein_loss, L.g_wasserstein_loss, False),
])
def test_each_loss_name_selects_its_own_pair(name, d_loss, g_loss, probabilistic):
    pair = L.adversarial_loss(name)
    assert (pair.d_loss, pair.g_loss, pair.probabilistic) == (d_loss, g_loss, probabilistic)


def test_wasserstein_losses_by_hand():
    # critic: E[C(G(z))] - E[C(x)] = -1.25 - 0.5; generator: -E[C(G(z))] = 1.25
    assert close(L.d_wasserstein_loss(REAL, FAKE), -1.25 - 0.5)
    assert close(L.g_wasserstein_loss(FAKE), 1.25)


def test_cycle_consistency_loss_is_a_mean_absolute_error():
    assert close(L.cycle_consistency_loss(torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.0, 0.0, 0.5])), 1.0)
