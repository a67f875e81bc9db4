"""Mode coverage on stacked digits: three digits as the three channels of one image, 10^3 = 1,000 modes.

The protocol of Metz et al. 2017 (unrolled GANs, arXiv:1611.02163, "stacked MNIST") as VEEGAN (arXiv:1705.07761)
and PacGAN (arXiv:1712.04086) report it: a pretrained digit classifier labels each channel of each sample; the
sample's mode is the three-digit number; report the modes covered (at least one sample) and the KL divergence
KL(p_gen || uniform) between the generated mode histogram and the uniform one of the data.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lit_gans.metrics.classifier import ClassifierFeatures
from lit_gans.metrics.modes import ModeStats, kl_to_uniform

NUM_MODES = 1000


def stack_digits(x: Tensor, y: Tensor, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """n stacked images (n, 3, H, W) from grey digits ``x`` (N, 1, H, W), each channel a uniformly drawn digit, and
    their modes 100 * y_R + 10 * y_G + y_B."""
    idx = torch.randint(len(x), (n, 3), generator=generator)  # (n, 3) a digit per channel
    images = x[idx.flatten(), 0].view(n, 3, *x.shape[-2:])
    labels = y[idx]
    return images, labels[:, 0] * 100 + labels[:, 1] * 10 + labels[:, 2]


@torch.no_grad()
def stacked_modes(samples: Tensor, classifier: ClassifierFeatures, batch_size: int = 1024) -> tuple[Tensor, Tensor]:
    """The mode (n,) of each stacked sample (n, 3, H, W), and the classifier's lowest confidence over its 3 digits."""
    if samples.dim() != 4 or samples.shape[1] != 3:
        raise ValueError(f"stacked digits are (N, 3, H, W) images, got shape {tuple(samples.shape)}")
    n = len(samples)
    grey = samples.reshape(n * 3, 1, *samples.shape[-2:])  # each channel as one grey digit
    probs = torch.cat([classifier.features_and_logits(b)[1].softmax(1) for b in grey.split(batch_size)])
    confidence, digit = probs.max(1)  # (3n,)
    digit, confidence = digit.view(n, 3), confidence.view(n, 3)
    return digit[:, 0] * 100 + digit[:, 1] * 10 + digit[:, 2], confidence.min(1).values


def stacked_mode_statistics(samples: Tensor, classifier: ClassifierFeatures, min_confidence: float = 0.0) -> ModeStats:
    """Modes covered of the 1,000 and KL(p_gen || uniform) for stacked samples (N, 3, H, W) in [-1, 1].

    ``min_confidence``: a sample counts only when the classifier gives each of its three digits at least this
    probability (0 counts every sample: the published protocol); ``high_quality`` is the percentage that count.
    """
    modes, confidence = stacked_modes(samples, classifier)
    recognised = confidence >= min_confidence
    counts = torch.bincount(modes[recognised], minlength=NUM_MODES)
    hq = 100.0 * float(recognised.double().mean()) if len(samples) else 0.0
    return ModeStats(int((counts > 0).sum()), hq, kl_to_uniform(counts), tuple(int(c) for c in counts))
