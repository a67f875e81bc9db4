"""Image DataModules over torchvision's datasets and any folder of images.

MNIST, Fashion-MNIST, CIFAR-10 and CelebA come through torchvision with its on-disk layouts (``download: true`` fetches
them; ``download: false`` reads what is under ``root``). ``ImageFolderDataModule`` reads a folder of images, with or
without class subfolders. Every image is resized (shorter side) and centre-cropped to ``image_size``, converted to
``channels`` channels and scaled to [-1, 1].
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision import datasets, transforms

from lit_gans.data.base import DataError, GANDataModule, image_shape

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


def image_transform(image_size: int, channels: int) -> Callable:
    """PIL image -> (channels, image_size, image_size) tensor in [-1, 1]."""
    mode = {1: "L", 3: "RGB"}.get(channels)
    if mode is None:
        raise DataError(f"channels must be 1 or 3, got {channels}")
    return transforms.Compose(
        [
            ConvertMode(mode),
            transforms.Resize(image_size, antialias=True),
            transforms.CenterCrop(image_size),
            transforms.ToTensor(),
            transforms.Normalize([0.5] * channels, [0.5] * channels),
        ]
    )


class ConvertMode:
    """PIL ``img.convert(mode)`` as a picklable transform (DataLoader workers may be spawned)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __call__(self, img: Image.Image) -> Image.Image:
        return img.convert(self.mode)


class VisionDataModule(GANDataModule):
    """Base of the image DataModules.

    Args:
        root: folder of the dataset files (downloaded there with ``download: true``).
        download: fetch the dataset if it is missing (needs internet).
        image_size: side of the square images served.
        channels: 1 (grey) or 3 (RGB); defaults to the dataset's own.
        batch_size, num_workers: DataLoader settings.
    """

    default_channels = 3
    num_labels = 0

    def __init__(
        self,
        root: str = "data",
        download: bool = False,
        image_size: int = 32,
        channels: Optional[int] = None,
        batch_size: int = 64,
        num_workers: int = 2,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        if image_size < 1:
            raise DataError(f"image_size must be positive, got {image_size}")
        self.root, self.download, self.image_size = root, download, image_size
        self.channels = channels or self.default_channels
        self.transform = image_transform(image_size, self.channels)

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return image_shape(self.channels, self.image_size)

    @property
    def num_classes(self) -> int:
        return self.num_labels

    def prepare_data(self) -> None:
        if self.download:
            self.make_dataset(train=True)
            self.make_dataset(train=False)

    def setup(self, stage: Optional[str] = None) -> None:
        if self.train_set is None:
            self.train_set = self.make_dataset(train=True)
            self.val_set = self.make_dataset(train=False)

    def make_dataset(self, train: bool) -> Dataset:
        try:
            return self.build(train)
        except RuntimeError as e:  # torchvision's "Dataset not found or corrupted"
            raise DataError(
                f"{type(self).__name__}: no dataset under {Path(self.root).resolve()} ({e}); "
                f"set data.download: true, or data.root to the folder that holds it"
            ) from e

    def build(self, train: bool) -> Dataset:
        raise NotImplementedError


class MNISTDataModule(VisionDataModule):
    """MNIST (LeCun et al. 1998): 60,000 + 10,000 28x28 grey digits, 10 classes; IDX files under ``root/MNIST/raw``."""

    default_channels, num_labels = 1, 10
    dataset_class = datasets.MNIST

    def build(self, train: bool) -> Dataset:
        return self.dataset_class(self.root, train=train, transform=self.transform, download=self.download)


class FashionMNISTDataModule(MNISTDataModule):
    """Fashion-MNIST (Xiao et al. 2017): MNIST's format with 10 kinds of clothing; under ``root/FashionMNIST/raw``."""

    dataset_class = datasets.FashionMNIST


class CIFAR10DataModule(VisionDataModule):
    """CIFAR-10 (Krizhevsky 2009): 50,000 + 10,000 32x32 colour images, 10 classes; ``root/cifar-10-batches-py``."""

    num_labels = 10

    def build(self, train: bool) -> Dataset:
        return datasets.CIFAR10(self.root, train=train, transform=self.transform, download=self.download)


class CelebADataModule(VisionDataModule):
    """CelebA (Liu et al. 2015): aligned faces under ``root/celeba``; unlabelled here (y = 0)."""

    def build(self, train: bool) -> Dataset:
        return datasets.CelebA(
            self.root, split="train" if train else "valid", target_type=[], transform=self.transform,
            download=self.download,
        )


class ImageFolderDataModule(VisionDataModule):
    """Any folder of images: ``root/<class>/*.png`` (labelled by subfolder) or ``root/*.png`` (unlabelled).

    A held-out validation share is split off with a fixed seed; an unreadable image stops training with its path.
    """

    def __init__(self, root: str = "data/images", val_fraction: float = 0.0, **kwargs) -> None:
        super().__init__(root=root, **kwargs)
        self.val_fraction = val_fraction
        self._classes: Optional[list[str]] = None

    @property
    def num_classes(self) -> int:
        return len(self.classes) if len(self.classes) > 1 else 0

    @property
    def classes(self) -> list[str]:
        if self._classes is None:
            folder = Path(self.root)
            if not folder.is_dir():  # not there yet (a config being built): setup() names the problem
                return []
            self._classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and _images_in(p))
        return self._classes

    def _folder(self) -> Path:
        folder = Path(self.root)
        if not folder.is_dir():
            raise DataError(f"image folder {folder} does not exist: set data.root to a folder of images")
        return folder

    def prepare_data(self) -> None:  # nothing to download
        pass

    def setup(self, stage: Optional[str] = None) -> None:
        if self.train_set is not None:
            return
        folder = self._folder()
        if self.classes:
            items = [(f, i) for i, c in enumerate(self.classes) for f in _images_in(folder / c)]
        else:
            items = [(f, 0) for f in _images_in(folder)]
        if not items:
            raise DataError(f"no images ({', '.join(IMAGE_EXTENSIONS[:4])}, ...) found in {folder}: check data.root")
        perm = torch.randperm(len(items), generator=torch.Generator().manual_seed(0)).tolist()
        n_val = int(round(self.val_fraction * len(items)))
        self.train_set = ImageFiles([items[i] for i in perm[n_val:]], self.transform)
        self.val_set = ImageFiles([items[i] for i in perm[:n_val]], self.transform) if n_val else None


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


class ImageFiles(Dataset):
    """(path, label) pairs read with PIL; a file PIL cannot decode raises :class:`DataError` naming it."""

    def __init__(self, items: list[tuple[Path, int]], transform: Callable) -> None:
        self.items, self.transform = items, transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.items[index]
        try:
            with Image.open(path) as img:
                img.load()
                return self.transform(img), label
        except (UnidentifiedImageError, OSError, SyntaxError) as e:
            raise DataError(f"cannot read image {path} ({e}): remove or replace the file") from e
