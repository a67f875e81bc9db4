"""Rebuilding a lit_gans model from its checkpoint: the class is chosen from the model registry by the name stored in
the checkpoint, never an import path taken from the file. The one part of :mod:`lit_gans.checkpoints` that knows the
models (so the models can use the rest without an import cycle)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from lit_gans.checkpoints.format import CheckpointError, check_checkpoint, read_checkpoint
from lit_gans.errors import UserError
from lit_gans.models import MODELS, GANModule


def load_model(path: str | Path, expected: Optional[type[GANModule]] = None) -> GANModule:
    """Rebuilds the lit_gans model saved in ``path`` (hyper-parameters and weights), on the CPU, in eval mode."""
    ckpt = read_checkpoint(path)
    name = ckpt.get("lit_gans_model")
    if name not in MODELS:
        raise UserError(f"{path} was not written by a lit_gans model (found {name!r}); known models: {sorted(MODELS)}")
    try:
        check_checkpoint(ckpt, source=str(path))  # a newer format
    except CheckpointError as e:
        raise UserError(str(e)) from None
    cls = MODELS[name]
    if expected is not None and not issubclass(cls, expected):
        raise UserError(f"{path} holds a {name} model, but this command needs a {expected.__name__} checkpoint")
    # LightningCLI adds bookkeeping entries (``_class_path``, ``_instantiator``) that are not constructor arguments
    hparams = {k: v for k, v in ckpt.get("hyper_parameters", {}).items() if not k.startswith("_")}
    model = cls(**hparams)
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()
