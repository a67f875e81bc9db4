"""Checkpoints written atomically: a crash or a kill while writing never leaves a truncated ``last.ckpt``.

Lightning 2.6's ``TorchCheckpointIO`` serialises into memory and writes through an fsspec transaction: the bytes go
to a temporary file in the *system* temp folder, which is then moved over the target. When that folder is on another
filesystem than the run (the usual case on clusters: a local /tmp, runs on a network filesystem), the move is a copy
into the target, so a job killed during it leaves a partial checkpoint; nothing is fsync'ed either. Here the bytes go
to a hidden temporary file beside the target, are flushed to disk, and ``os.replace`` swaps it in (atomic on POSIX
within one filesystem): readers see the old checkpoint or the new one, never a mix. Remote paths keep Lightning's way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import torch
from fsspec.implementations.local import LocalFileSystem
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.plugins.io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose local saves are write-to-temporary, fsync, ``os.replace``."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Optional[Any] = None) -> None:
        if not isinstance(get_filesystem(path), LocalFileSystem):
            return super().save_checkpoint(checkpoint, path, storage_options)
        atomic_save(checkpoint, Path(path))


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save(obj, path)`` such that ``path`` holds either its old content or all of the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # same folder, so the same filesystem
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # only left when something failed before the replace
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Makes the rename itself durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
