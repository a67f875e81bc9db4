"""Loading lit_gans checkpoints safely: ``weights_only`` unpickling, and a model class chosen from the registry by
the name stored in the checkpoint, never an import path taken from the file."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Optional

import torch

from lit_gans.commands import UserError
from lit_gans.models import MODELS, GANModule
from lit_gans.training_state import CheckpointError, check_checkpoint


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


def prepare_resume(config) -> None:
    """Before ``fit --ckpt_path PATH`` builds anything: PATH must be a lit_gans checkpoint of the configured model, in
    a format this version reads (one line otherwise, not a traceback), and a W&B logger continues PATH's W&B run."""
    path = _resume_path(config)
    if path is None:
        return
    ckpt = read_checkpoint(path)
    try:
        check_checkpoint(ckpt, str(config.model.class_path).rsplit(".", 1)[-1], source=str(path))
    except CheckpointError as e:
        raise UserError(str(e)) from None
    if ckpt.get("wandb_run_id"):
        continue_wandb_run(config.trainer.logger, ckpt["wandb_run_id"])


def _resume_path(config) -> Optional[Path]:
    ckpt_path = config.get("ckpt_path")
    if ckpt_path in (None, "best", "hpc") or "://" in str(ckpt_path):
        return None
    if ckpt_path == "last":  # Lightning looks in the checkpoint folder: known here when the config fixes it
        folder = config.get("checkpoint.dirpath")
        last = Path(folder) / "last.ckpt" if folder else None
        return last if last is not None and last.is_file() else None
    return Path(ckpt_path)


def continue_wandb_run(logger_config, run_id: str) -> None:
    """Makes each configured WandbLogger resume the W&B run ``run_id`` (unless the config names a run itself)."""
    for logger in logger_config if isinstance(logger_config, list) else [logger_config]:
        if not str(getattr(logger, "class_path", "")).endswith("WandbLogger"):
            continue
        args = logger.init_args
        if args.get("id") is None and args.get("version") is None:
            args["id"] = run_id
        if args.get("resume") is None:
            args["resume"] = "allow"
