"""Turning samples into pictures: image grids, 2D scatter plots, and the PNG writer every command shares."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import torch
from PIL import Image, ImageDraw
from PIL.PngImagePlugin import PngInfo
from torch import Tensor
from torchvision.utils import make_grid


def image_grid(images: Tensor, nrow: Optional[int] = None, min_size: int = 0) -> Image.Image:
    """(N, C, H, W) images in [-1, 1] -> one RGB/grey grid picture, ``nrow`` images a row (default ~sqrt(N)),
    enlarged to at least ``min_size`` pixels across (:func:`enlarge`; 0: the images' own size)."""
    nrow = nrow or max(1, math.isqrt(images.shape[0] - 1) + 1)
    grid = make_grid(images.detach().float().cpu().clamp(-1, 1), nrow=nrow, padding=1, normalize=True, value_range=(-1, 1))
    array = grid.mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return enlarge(Image.fromarray(array[..., 0] if images.shape[1] == 1 else array[..., :3]), min_size)


def enlarge(picture: Image.Image, min_size: int) -> Image.Image:
    """The picture scaled up by the smallest whole factor that makes it at least ``min_size`` pixels wide, each pixel
    a block of equal pixels (nearest neighbour: no blur, the samples' pixels as they are).

    >>> enlarge(Image.new("L", (182, 100)), 512).size, enlarge(Image.new("L", (600, 10)), 512).size
    ((546, 300), (600, 10))
    """
    factor = max(1, math.ceil(min_size / picture.width)) if min_size > 0 else 1
    return picture if factor == 1 else picture.resize((picture.width * factor, picture.height * factor), Image.NEAREST)


def scatter_plot(points: Tensor, reference: Optional[Tensor] = None, size: int = 400, margin: float = 0.1) -> Image.Image:
    """(N, 2) points drawn in blue over optional reference points (e.g. mixture means) in red, on a square canvas."""
    pts = points.detach().float().cpu()
    everything = pts if reference is None else torch.cat([pts, reference.float().cpu()])
    finite = everything[torch.isfinite(everything).all(1)]
    lo, hi = (finite.min(0).values, finite.max(0).values) if len(finite) else (torch.zeros(2), torch.ones(2))
    span = float((hi - lo).max().clamp_min(1e-6)) * (1 + 2 * margin)
    center = (hi + lo) / 2

    def to_px(p: Tensor) -> list[tuple[float, float]]:
        xy = (p - center) / span + 0.5
        return [(float(x) * size, (1 - float(y)) * size) for x, y in xy]

    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    for x, y in to_px(pts[torch.isfinite(pts).all(1)]):
        draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=(31, 119, 180))
    if reference is not None:
        for x, y in to_px(reference.float().cpu()):
            draw.ellipse([x - 4, y - 4, x + 4, y + 4], outline=(214, 39, 40), width=2)
    return img


def samples_to_picture(samples: Tensor, reference: Optional[Tensor] = None, nrow: Optional[int] = None,
                       min_size: int = 0) -> Image.Image:
    """A grid for images (N, C, H, W), at least ``min_size`` pixels across; a scatter plot for 2D points (N, 2)."""
    if samples.dim() == 4:
        return image_grid(samples, nrow, min_size)
    if samples.dim() == 2 and samples.shape[1] == 2:
        return scatter_plot(samples, reference)
    raise ValueError(f"cannot draw samples of shape {tuple(samples.shape)}: expected (N, C, H, W) or (N, 2)")


def save_png(img: Image.Image, path: str | Path, metadata: Optional[dict[str, str]] = None) -> Path:
    """Writes a PNG with text metadata chunks, creating the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngInfo()
    for key, value in (metadata or {}).items():
        info.add_text(key, str(value))
    img.save(path, format="PNG", pnginfo=info)
    return path
