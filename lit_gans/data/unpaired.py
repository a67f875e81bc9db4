"""Unpaired two-domain data for image-to-image translation (CycleGAN): batches are ``(a, b)``, an image batch of
domain A and one of domain B that have nothing to do with each other.

- :class:`UnpairedDataModule` reads the public CycleGAN datasets' layout, ``root/trainA``, ``root/trainB``,
  ``root/testA``, ``root/testB``, with the authors' augmentation: resize to ``load_size`` (286), random crop to
  ``image_size`` (256), random horizontal flip.
- :class:`DigitsStylesDataModule` is an embedded pair that needs no download: scikit-learn's digits (domain A)
  against a thick-stroke or inverted rendering of them (domain B), A and B drawn from disjoint halves of the digits,
  so no image has its twin in the other domain; since the restyling is known, translations can be measured.

Training never pairs images by index: A is served in the loader's shuffled order and each A image is matched with a
B image drawn uniformly at random, anew every time (the authors' ``unaligned`` dataset).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Literal, Optional, Sequence

import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.transforms import v2 as T

from lit_gans.data.base import DataError, GANDataModule, image_shape
from lit_gans.data.digits import load_digits_tensors

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm")


class UnpairedDataset(Dataset):
    """Item i is (A[i], B[j]): j drawn at random when ``random_b`` (training), else i mod len(B) (a fixed,
    arbitrary match for viewing and prediction). ``len`` is the larger domain's size; A wraps around."""

    def __init__(self, domain_a: Sequence[Tensor], domain_b: Sequence[Tensor], random_b: bool = True) -> None:
        self.domain_a, self.domain_b, self.random_b = domain_a, domain_b, random_b

    def __len__(self) -> int:
        return max(len(self.domain_a), len(self.domain_b))

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        j = int(torch.randint(len(self.domain_b), ())) if self.random_b else i % len(self.domain_b)
        return self.domain_a[i % len(self.domain_a)], self.domain_b[j]


class ImageFiles(Dataset):
    """The images of one folder (sorted by name), read with PIL and transformed to (C, S, S) tensors in [-1, 1]."""

    def __init__(self, folder: Path, channels: int, transform: Callable[[Image.Image], Tensor]) -> None:
        self.files = list_images(folder)
        self.channels, self.transform = channels, transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> Tensor:
        return self.transform(load_image(self.files[i], self.channels))


def list_images(folder: str | Path) -> list[Path]:
    """The image files of a folder, sorted; a one-line error when it is missing or has none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"image folder {folder} does not exist: unpaired data needs root/trainA, root/trainB (and testA, testB)")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not files:
        raise DataError(f"image folder {folder} has no images ({', '.join(IMAGE_EXTENSIONS)})")
    return files


def load_image(path: str | Path, channels: int = 3) -> Image.Image:
    """Opens an image as RGB (3 channels) or greyscale (1), naming the file if it cannot be read."""
    try:
        with Image.open(path) as img:
            return img.convert("RGB" if channels == 3 else "L")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DataError(f"cannot read image {path}: {type(e).__name__}; remove or replace the file") from e


def to_tensor_transform(image_size: int, load_size: Optional[int] = None, flip: bool = False) -> T.Compose:
    """PIL image -> (C, S, S) float in [-1, 1]: resize to ``load_size`` then random crop to ``image_size`` (training),
    or resize and center crop to ``image_size`` (``load_size=None``); optional random horizontal flip."""
    resize = T.Resize(load_size or image_size, interpolation=T.InterpolationMode.BICUBIC, antialias=True)
    crop = T.RandomCrop(image_size) if load_size else T.CenterCrop(image_size)
    steps = [T.PILToTensor(), resize, crop] + ([T.RandomHorizontalFlip()] if flip else [])
    steps += [T.ToDtype(torch.float32, scale=True), T.Normalize([0.5], [0.5])]
    return T.Compose(steps)


class UnpairedDataModule(GANDataModule):
    """Two image folders per split (``trainA``/``trainB``, ``testA``/``testB``), served as unpaired ``(a, b)`` batches.

    Args:
        root: folder holding ``trainA``, ``trainB``, ``testA``, ``testB`` (e.g. ``data/horse2zebra``).
        image_size: side of the served (square) images, the crop (256 in the paper).
        load_size: side images are resized to before the random crop (286 in the paper); ``null`` resizes to
            ``image_size`` with no crop.
        flip: random horizontal flips of training images.
        channels: 3 (RGB) or 1 (greyscale).
        batch_size: images per domain per batch (1 in the paper).
    """

    def __init__(
        self,
        root: str = "data/horse2zebra",
        image_size: int = 256,
        load_size: Optional[int] = 286,
        flip: bool = True,
        channels: int = 3,
        batch_size: int = 1,
        num_workers: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        if channels not in (1, 3):
            raise DataError(f"channels must be 1 or 3, got {channels}")
        if load_size is not None and load_size < image_size:
            raise DataError(f"load_size ({load_size}) must be >= image_size ({image_size}) to crop from it")
        self.root, self.image_size, self.load_size, self.flip, self.channels = Path(root), image_size, load_size, flip, channels

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return image_shape(self.channels, self.image_size)

    def setup(self, stage: Optional[str] = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            train = to_tensor_transform(self.image_size, self.load_size, self.flip)
            self.train_set = UnpairedDataset(self._domain("trainA", train), self._domain("trainB", train))
        if stage in (None, "validate", "test", "predict") and self.val_set is None:
            test = to_tensor_transform(self.image_size)
            self.val_set = UnpairedDataset(self._domain("testA", test), self._domain("testB", test), random_b=False)

    def _domain(self, name: str, transform) -> ImageFiles:
        return ImageFiles(self.root / name, self.channels, transform)


def restyle_digits(x: Tensor, style: Literal["thick", "inverted"]) -> Tensor:
    """Domain B's rendering of digit images (N, 1, S, S) in [-1, 1]: strokes dilated by a 3x3 max filter (``thick``)
    or black and white swapped (``inverted``)."""
    if style == "thick":
        return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
    if style == "inverted":
        return -x
    raise DataError(f"unknown digit style {style!r}; choose 'thick' or 'inverted'")


class DigitsStylesDataModule(GANDataModule):
    """Embedded unpaired pair: digits (A) and restyled digits (B), from disjoint halves of scikit-learn's digits.

    A seeded permutation of the 1,797 digits holds out ``test_fraction`` for testing; the rest, and the test part,
    are each cut in two halves, the first rendered as domain A, the second as domain B. Besides the unpaired
    loaders it keeps, for measuring translations, the labels and the other domain's rendering of every image:
    ``split[name]`` for name in train_a, train_b, test_a, test_b is a dict of ``images``, ``labels``, ``index``
    (into the digits) and ``other`` (the same digits in the other domain's style: the ground truth of a translation).

    Args:
        image_size: side of the images (16: the 8x8 digits upsampled; a multiple of 4).
        style: domain B's rendering, ``thick`` (3x3 dilation of the strokes) or ``inverted``.
        test_fraction: share of the digits held out for testing.
        seed: seed of the permutation.
    """

    def __init__(
        self,
        image_size: int = 16,
        style: Literal["thick", "inverted"] = "thick",
        test_fraction: float = 0.2,
        seed: int = 0,
        batch_size: int = 16,
        num_workers: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        if image_size < 4 or image_size % 4:
            raise DataError(f"image_size must be a multiple of 4 (the generator downsamples twice), got {image_size}")
        if not 0.0 < test_fraction < 1.0:
            raise DataError(f"test_fraction must be in (0, 1), got {test_fraction}")
        restyle_digits(torch.zeros(1, 1, 4, 4), style)  # checks the style name now, not at setup
        self.image_size, self.style, self.test_fraction, self.seed = image_size, style, test_fraction, seed
        self.split: dict[str, dict[str, Tensor]] = {}

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return (1, self.image_size, self.image_size)

    def setup(self, stage: Optional[str] = None) -> None:
        if self.split:
            return
        x, y = load_digits_tensors(self.image_size)
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(self.seed))
        n_test = int(round(self.test_fraction * len(x)))
        for part, idx in (("test", perm[:n_test]), ("train", perm[n_test:])):
            half = len(idx) // 2
            for domain, sub in (("a", idx[:half]), ("b", idx[half:])):
                plain, thick = x[sub], restyle_digits(x[sub], self.style)
                images, other = (plain, thick) if domain == "a" else (thick, plain)
                self.split[f"{part}_{domain}"] = {"images": images, "labels": y[sub], "index": sub, "other": other}
        self.train_set = UnpairedDataset(self.split["train_a"]["images"], self.split["train_b"]["images"])
        self.val_set = UnpairedDataset(self.split["test_a"]["images"], self.split["test_b"]["images"], random_b=False)
