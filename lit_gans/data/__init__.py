"""LightningDataModules; :data:`DATAMODULES` maps the CLI's data names to their classes."""

from lit_gans.data.base import DataError, GANDataModule
from lit_gans.data.digits import DigitsDataModule
from lit_gans.data.toy import Toy2DDataModule
from lit_gans.data.vision import (
    CelebADataModule,
    CIFAR10DataModule,
    FashionMNISTDataModule,
    ImageFolderDataModule,
    MNISTDataModule,
)
from lit_gans.data.unpaired import DigitsStylesDataModule, UnpairedDataModule
from lit_gans.data.sequences import OracleDataModule, TextDataModule

DATAMODULES: dict[str, type[GANDataModule]] = {
    "Digits": DigitsDataModule,
    "Toy2D": Toy2DDataModule,
    "MNIST": MNISTDataModule,
    "FashionMNIST": FashionMNISTDataModule,
    "CIFAR10": CIFAR10DataModule,
    "CelebA": CelebADataModule,
    "ImageFolder": ImageFolderDataModule,
    "Unpaired": UnpairedDataModule,
    "DigitsStyles": DigitsStylesDataModule,
    "Oracle": OracleDataModule,
    "Text": TextDataModule,
}

__all__ = [
    "DataError",
    "GANDataModule",
    "DigitsDataModule",
    "Toy2DDataModule",
    "CelebADataModule",
    "CIFAR10DataModule",
    "FashionMNISTDataModule",
    "ImageFolderDataModule",
    "MNISTDataModule",
    "DigitsStylesDataModule",
    "UnpairedDataModule",
    "OracleDataModule",
    "TextDataModule",
    "DATAMODULES",
]
