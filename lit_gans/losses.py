"""Adversarial losses as small pure functions on discriminator logits, and the penalties.

Sign convention for the whole file: every function returns a scalar **to be minimised** by the player named in its
prefix (``d_`` the discriminator or critic, ``g_`` the generator). Inputs are raw discriminator outputs (logits for
the probabilistic losses, unbounded critic values for the Wasserstein loss), never probabilities.

References
- Goodfellow et al. 2014, "Generative Adversarial Nets", arXiv:1406.2661 (minimax and non-saturating losses).
- Mao et al. 2017, "Least Squares Generative Adversarial Networks", arXiv:1611.04076.
- Lim & Ye 2017, "Geometric GAN", arXiv:1705.02894; Miyato et al. 2018, arXiv:1802.05957 (hinge loss).
- Arjovsky et al. 2017, "Wasserstein GAN", arXiv:1701.07875.
- Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", arXiv:1704.00028 (gradient penalty).
- Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?", arXiv:1801.04406 (R1).
- Karras et al. 2018, "Progressive Growing of GANs", arXiv:1710.10196 (drift penalty).
- Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN", arXiv:1912.04958 (path length).
- Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks",
  arXiv:1703.10593 (cycle consistency, identity).
- Yu et al. 2017, "SeqGAN: Sequence Generative Adversarial Nets with Policy Gradient", arXiv:1609.05473.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


# --- discriminator losses -------------------------------------------------------------------------------------------
def d_logistic_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))], the minimax game's discriminator side (binary cross-entropy)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()  # -log(sigmoid(r)) ; -log(1 - sigmoid(f))


def d_hinge_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def squared_error(outputs: Tensor, target: float) -> Tensor:
    """E[(D(.) - target)^2], the least-squares term of LSGAN (Mao et al. 2017, eq. 2) without its factor 1/2; CycleGAN's
    generator loss E[(D(G(x)) - 1)^2] (Zhu et al. 2017, section 4) is this term alone.

    >>> float(squared_error(torch.tensor([0.0, 3.0]), 1.0))  # ((0 - 1)^2 + (3 - 1)^2) / 2
    2.5
    """
    return ((outputs - target) ** 2).mean()


def d_least_squares_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2] (LSGAN with targets a=0, b=1)."""
    return 0.5 * squared_error(real_logits, 1.0) + 0.5 * (fake_logits**2).mean()


def d_wasserstein_loss(real_critic: Tensor, fake_critic: Tensor) -> Tensor:
    """E[C(G(z))] - E[C(x)]: the negative of the critic's estimate of the earth-mover distance."""
    return fake_critic.mean() - real_critic.mean()


# --- generator losses -----------------------------------------------------------------------------------------------
def g_minimax_loss(fake_logits: Tensor) -> Tensor:
    """E[log(1 - D(G(z)))], the original (saturating) generator objective."""
    return -F.softplus(fake_logits).mean()  # log(1 - sigmoid(f)) = -softplus(f)


def g_nonsaturating_loss(fake_logits: Tensor) -> Tensor:
    """-E[log D(G(z))], the non-saturating heuristic of Goodfellow et al. 2014, section 3."""
    return F.softplus(-fake_logits).mean()  # -log(sigmoid(f))


def g_hinge_loss(fake_logits: Tensor) -> Tensor:
    """-E[D(G(z))]."""
    return -fake_logits.mean()


def g_least_squares_loss(fake_logits: Tensor) -> Tensor:
    """1/2 E[(D(G(z)) - 1)^2]."""
    return 0.5 * squared_error(fake_logits, 1.0)


def g_wasserstein_loss(fake_critic: Tensor) -> Tensor:
    """-E[C(G(z))]."""
    return -fake_critic.mean()


class AdversarialLoss(NamedTuple):
    """A pair of player losses and whether the discriminator output reads as a probability through a sigmoid."""

    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]
    probabilistic: bool


ADVERSARIAL_LOSSES: dict[str, AdversarialLoss] = {
    "minimax": AdversarialLoss(d_logistic_loss, g_minimax_loss, True),
    "non_saturating": AdversarialLoss(d_logistic_loss, g_nonsaturating_loss, True),
    "hinge": AdversarialLoss(d_hinge_loss, g_hinge_loss, False),
    "least_squares": AdversarialLoss(d_least_squares_loss, g_least_squares_loss, False),
    "wasserstein": AdversarialLoss(d_wasserstein_loss, g_wasserstein_loss, False),
}


def adversarial_loss(name: str) -> AdversarialLoss:
    """Looks a loss pair up by name, with an error that lists the valid names."""
    if name not in ADVERSARIAL_LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {sorted(ADVERSARIAL_LOSSES)}")
    return ADVERSARIAL_LOSSES[name]


# --- penalties ------------------------------------------------------------------------------------------------------
def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, center: float = 1.0) -> Tensor:
    """E[(||grad_x C(x_hat)||_2 - center)^2] on random interpolates x_hat = e x + (1 - e) G(z) (WGAN-GP, Alg. 1).

    Works for any data shape (N, ...): images of any channel count and 2D points alike.
    """
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1.0 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - center) ** 2).mean()


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """E[||grad_x D(x)||^2] on real data (R1); ``real`` must have had requires_grad set before D saw it."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def drift_penalty(real_critic: Tensor) -> Tensor:
    """E[D(x)^2], the drift term that ProGAN adds to the critic's loss with weight eps_drift = 0.001 to keep its output
    near zero (Karras et al. 2018, section A.1): L_D' = L_D + eps_drift E_x[D(x)^2]."""
    return real_critic.pow(2).mean()


def path_lengths(fake: Tensor, ws: Tensor, y: Optional[Tensor] = None) -> Tensor:
    """||J_w^T y||_2 per sample (N,): sqrt(mean over the ws of the squared norm over w_dim), as the official code.

    fake (N, C, H, W) = G(ws), ws (N, num_ws, w_dim) with requires_grad; y ~ N(0, I) / sqrt(H W) unless given.
    """
    if y is None:
        y = torch.randn_like(fake) / math.sqrt(fake.shape[2] * fake.shape[3])
    (grad,) = torch.autograd.grad((fake * y).sum(), ws, create_graph=True)  # J^T y, (N, num_ws, w_dim)
    return grad.square().sum(2).mean(1).sqrt()


def path_length_penalty(fake: Tensor, ws: Tensor, pl_mean: Tensor, pl_decay: float,
                        y: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
    """E_w,y (||J_w^T y||_2 - a)^2 (Karras et al. 2020, eq. 4), a the running mean of the lengths updated as
    a <- a + decay (mean length - a); returns (penalty, the new a)."""
    lengths = path_lengths(fake, ws, y)
    a = pl_mean.lerp(lengths.mean(), pl_decay)
    return (lengths - a).square().mean(), a.detach()


def cycle_consistency_loss(reconstruction: Tensor, original: Tensor) -> Tensor:
    """||F(G(x)) - x||_1, mean over elements (CycleGAN, Zhu et al. 2017, eq. 2)."""
    return (reconstruction - original).abs().mean()


def identity_loss(translation: Tensor, original: Tensor) -> Tensor:
    """E_y ||G(y) - y||_1, mean over elements: a generator given an image of its target domain should leave it alone
    (CycleGAN, Zhu et al. 2017, section 5.2, after Taigman et al. 2017, arXiv:1611.02200).

    >>> float(identity_loss(torch.tensor([[1.0, -1.0]]), torch.tensor([[0.5, 0.0]])))  # (0.5 + 1) / 2
    0.75
    """
    return (translation - original).abs().mean()


def policy_gradient_loss(log_probs: Tensor, rewards: Tensor) -> Tensor:
    """-(1/N) Σ_n Σ_t Q_t log G_θ(y_t | Y_1:t-1) for (N, T) log-probabilities and rewards (SeqGAN, Yu et al. 2017);
    its gradient is minus the REINFORCE estimate of Eq. 8,
    ∇_θ J(θ) ≈ Σ_t E_{y_t ~ G_θ}[∇_θ log G_θ(y_t | Y_1:t-1) Q(Y_1:t-1, y_t)],
    so minimising it raises the probability of well-rewarded tokens. The rewards are constants (detached)."""
    return -(log_probs * rewards.detach()).sum(dim=1).mean()


def feature_matching_loss(student_features: Sequence[Tensor], teacher_features: Sequence[Tensor]) -> Tensor:
    """Mean over layers of the squared difference of intermediate features, each relative to the mean square of the
    teacher's (layers of any scale weigh alike): the distillation loss of Li et al. 2020, arXiv:2003.08936, eq. 3, on
    the teacher discriminator's features as in Liu et al. 2021, arXiv:2104.02244.

    >>> t = [torch.ones(2, 3), torch.full((2,), 10.0)]
    >>> float(feature_matching_loss([torch.zeros(2, 3), torch.full((2,), 10.0)], t))  # (1 + 0) / 2
    0.5
    """
    pairs = list(zip(student_features, teacher_features, strict=True))
    return torch.stack([F.mse_loss(s, t) / t.square().mean().clamp_min(1e-12) for s, t in pairs]).mean()
