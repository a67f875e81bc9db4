"""What makes a file a lit_gans checkpoint: its layout version, the model that wrote it, and reading it safely.

- :data:`CHECKPOINT_FORMAT` and :func:`check_checkpoint`: which lit_gans model wrote a checkpoint, and in which layout;
  a checkpoint of another variant, or of a newer layout, is refused with one line that says what to do.
- :func:`read_checkpoint`: ``weights_only`` unpickling, with one clear error for anything that is not a checkpoint.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Optional

import torch

from lit_gans.errors import UserError

#: layout of the lit_gans entries of a checkpoint; raise it when they change incompatibly (older files are read).
CHECKPOINT_FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint this run cannot use; the message says which one to give instead."""


def check_checkpoint(checkpoint: dict, model_name: Optional[str] = None, source: str = "the checkpoint") -> None:
    """Refuses a checkpoint of a newer format, or (``model_name`` given) one written by another lit_gans model."""
    version = checkpoint.get("lit_gans_format", 1)  # written before formats were numbered: the first layout
    if not isinstance(version, int) or version > CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{source} has lit_gans checkpoint format {version}, newer than this lit_gans reads "
            f"({CHECKPOINT_FORMAT}): upgrade lit_gans"
        )
    found = checkpoint.get("lit_gans_model")
    if model_name is not None and found != model_name:
        what = f"a {found} model" if found else "no lit_gans model"
        raise CheckpointError(
            f"{source} holds {what}, but this run builds a {model_name}: give a {model_name} checkpoint, or the "
            f"model the checkpoint was made with"
        )



def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint's dictionary, unpickled with ``weights_only=True``; a clear error for anything else."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist: give the path of a .ckpt file (e.g. runs/.../last.ckpt)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, OSError, KeyError, ValueError) as e:
        raise UserError(f"{path} is not a readable PyTorch checkpoint ({type(e).__name__}); pass a .ckpt written by lit-gans fit") from e
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise UserError(f"{path} is not a Lightning checkpoint (no state_dict); pass a .ckpt written by lit-gans fit")
    return ckpt
