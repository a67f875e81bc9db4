"""Differentiable Augmentation (Zhao, Liu, Lin, Zhu & Han 2020, "Differentiable Augmentation for Data-Efficient GAN
Training", arXiv:2006.10738).

The same random augmentation family T is applied to every image the discriminator sees, real and generated, in the
discriminator step and in the generator step: D(T(x)) and D(T(G(z))). Every operation is differentiable in its
input, so the generator's gradient flows through T. The three policies of the paper (section 3, images in [-1, 1]):

- ``color``: brightness + U(-0.5, 0.5); saturation x U(0, 2) around the per-pixel channel mean; contrast
  x U(0.5, 1.5) around the per-image mean;
- ``translation``: shift by up to 1/8 of the image size in each axis, zero padding;
- ``cutout``: zero a random square of half the image size.

Each sample draws its own parameters. :func:`diff_augment` is a pure function of the images, the policy and an
optional ``torch.Generator``.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import torch
from torch import Tensor

Policy = Union[None, str, Sequence[str]]


def _uniform(x: Tensor, rng: Optional[torch.Generator], *shape: int) -> Tensor:
    return torch.rand(x.shape[0], *shape, device=x.device, dtype=x.dtype, generator=rng)


def brightness(x: Tensor, rng: Optional[torch.Generator] = None) -> Tensor:
    return x + (_uniform(x, rng, 1, 1, 1) - 0.5)


def saturation(x: Tensor, rng: Optional[torch.Generator] = None) -> Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_uniform(x, rng, 1, 1, 1) * 2.0) + mean


def contrast(x: Tensor, rng: Optional[torch.Generator] = None) -> Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x, rng, 1, 1, 1) + 0.5) + mean


def translation(x: Tensor, rng: Optional[torch.Generator] = None, ratio: float = 0.125) -> Tensor:
    """Integer shifts in [-ratio * size, ratio * size] per sample and axis; pixels shifted in are zero."""
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (n, 1, 1), device=x.device, generator=rng)
    dx = torch.randint(-sx, sx + 1, (n, 1, 1), device=x.device, generator=rng)
    # output pixel (i, j) reads input pixel (i - dy, j - dx) of the image padded by one zero on every side
    rows = (torch.arange(h, device=x.device)[None, :, None] - dy + 1).clamp(0, h + 1)  # (N, H, 1)
    cols = (torch.arange(w, device=x.device)[None, None, :] - dx + 1).clamp(0, w + 1)  # (N, 1, W)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1)).permute(0, 2, 3, 1)  # (N, H+2, W+2, C)
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: Tensor, rng: Optional[torch.Generator] = None, ratio: float = 0.5) -> Tensor:
    """Multiplies by a mask that is zero on a (ratio H) x (ratio W) square at a random centre (clipped at edges)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device, generator=rng)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device, generator=rng)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = (ys >= cy - ch // 2) & (ys < cy - ch // 2 + ch) & (xs >= cx - cw // 2) & (xs < cx - cw // 2 + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


AUGMENTATIONS: dict[str, list[Callable[..., Tensor]]] = {
    "color": [brightness, saturation, contrast],
    "translation": [translation],
    "cutout": [cutout],
}


def parse_policy(policy: Policy) -> tuple[str, ...]:
    """``"color,translation,cutout"`` or a list of names -> a tuple of names; ``None``/``""``/``[]`` -> ()."""
    if policy is None:
        return ()
    names = [p.strip() for p in policy.split(",")] if isinstance(policy, str) else [str(p).strip() for p in policy]
    names = [p for p in names if p]
    unknown = [p for p in names if p not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {unknown}; use a comma-separated subset of {sorted(AUGMENTATIONS)}")
    return tuple(names)


def diff_augment(x: Tensor, policy: Policy, rng: Optional[torch.Generator] = None) -> Tensor:
    """T(x) for images (N, C, H, W); identity when the policy is empty.

    >>> x = torch.randn(2, 3, 8, 8)
    >>> torch.equal(diff_augment(x, None), x), diff_augment(x, "color,translation,cutout").shape
    (True, torch.Size([2, 3, 8, 8]))
    """
    for name in parse_policy(policy):
        for op in AUGMENTATIONS[name]:
            x = op(x, rng)
    return x
