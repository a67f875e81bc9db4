"""LightningDataModules; :data:`DATAMODULES` maps the CLI's data names to their classes."""

from lit_gans.data.base import DataError, GANDataModule
from lit_gans.data.digits import DigitsDataModule
from lit_gans.data.sequences import OracleDataModule, TextDataModule
from lit_gans.data.toy import Toy2DDataModule

DATAMODULES: dict[str, type[GANDataModule]] = {
    "Digits": DigitsDataModule,
    "Toy2D": Toy2DDataModule,
    "Oracle": OracleDataModule,
    "Text": TextDataModule,
}

__all__ = ["DataError", "GANDataModule", "DigitsDataModule", "Toy2DDataModule", "OracleDataModule", "TextDataModule", "DATAMODULES"]
