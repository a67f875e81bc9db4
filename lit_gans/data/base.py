"""What every lit_gans DataModule tells the model: the shape of one sample and the number of classes.

The CLI links these two properties into the model's ``data_shape`` and ``num_classes`` arguments, so an image size or
a channel count is written once, in the data section of a config.
"""

from __future__ import annotations

from typing import Optional, Sequence

import lightning as L
from torch.utils.data import DataLoader, Dataset

from lit_gans.checkpoints.resume import ResumableDataLoader


class DataError(ValueError):
    """A dataset that cannot be used as given: the message says what to fix."""


class GANDataModule(L.LightningDataModule):
    """Base of the lit_gans DataModules: batches are ``(x, y)``, ``y`` the class (0 where there is none).

    Args:
        batch_size: samples per batch (per process under DDP).
        num_workers: DataLoader worker processes.
    """

    def __init__(self, batch_size: int = 64, num_workers: int = 0) -> None:
        super().__init__()
        if batch_size < 1:
            raise DataError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size, self.num_workers = batch_size, num_workers
        self.train_set: Optional[Dataset] = None
        self.val_set: Optional[Dataset] = None

    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape of one sample: (C, H, W) for images, (D,) for points."""
        raise NotImplementedError

    @property
    def num_classes(self) -> int:
        """Number of classes for conditional models (0 when the data has no labels)."""
        return 0

    def _loader(self, dataset: Optional[Dataset], shuffle: bool) -> DataLoader:
        if dataset is None:
            self.setup("fit")
            dataset = self.train_set
        # the shuffled training loader keeps its place in the epoch in every checkpoint (exact mid-epoch resume)
        return (ResumableDataLoader if shuffle else DataLoader)(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            drop_last=shuffle,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set if self.val_set is not None else self.train_set, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()

    def predict_dataloader(self) -> DataLoader:
        return self.val_dataloader()


def image_shape(channels: int, image_size: int | Sequence[int]) -> tuple[int, int, int]:
    h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    return (int(channels), int(h), int(w))
