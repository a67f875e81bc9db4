"""Loggers: the W&B logger the configs use (offline by itself when it cannot go online), and sending pictures and
text to whichever loggers a trainer has.

:class:`WandbLogger` is Lightning's, with two differences:

- ``offline=None`` (the default) decides by itself: online only with credentials (``WANDB_API_KEY``, an identity
  token file, or a ``~/.netrc`` entry for the W&B host, as ``wandb login`` writes) and a reachable host; offline
  otherwise, so it never prompts for a key. ``WANDB_MODE`` set by the user is respected (except ``online`` with no
  credentials, which would prompt). ``wandb sync <dir>/wandb/offline-run-*`` uploads an offline run later.
- :meth:`WandbLogger.describe_run` (called by ``lit-gans fit`` before training starts) makes the run comparable on a
  dashboard: ``group`` = the variant, ``tags`` = [variant, dataset], ``config`` = the whole resolved configuration,
  and a fresh run folder ``<default_root_dir>/lightning_logs/version_<N>`` as Lightning's CSV and TensorBoard
  loggers make (``lit-gans fit`` puts the checkpoints in its ``checkpoints/``; samples and ``wandb/`` go there too).

Lightning's W&B logger creates its run on global rank 0 only, so a DDP run makes one W&B run.
"""

from __future__ import annotations

import netrc
import os
import socket
import threading
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlparse

import lightning as L
import numpy as np
from lightning.pytorch.loggers import WandbLogger as _LightningWandbLogger
from lightning.pytorch.utilities import rank_zero_only, rank_zero_warn
from PIL import Image


class WandbLogger(_LightningWandbLogger):
    """Lightning's ``WandbLogger`` with automatic offline mode and run descriptions (see the module docstring).

    Args:
        project: W&B project name.
        save_dir: folder of the run (W&B writes ``<save_dir>/wandb/``); ``None``: chosen by :meth:`describe_run`,
            or the current folder.
        offline: ``True``/``False`` to force; ``None`` to decide from the credentials and the network.
        **kwargs: passed to Lightning's ``WandbLogger`` and ``wandb.init`` (``group``, ``tags``, ``name``, ...).
    """

    def __init__(self, project: str = "lit-gans", save_dir: Optional[str] = None, offline: Optional[bool] = None,
                 **kwargs: Any) -> None:
        self.offline_reason: Optional[str] = None
        if offline is None:
            self.offline_reason = offline_reason()
            offline = self.offline_reason is not None
            if offline and os.environ.get("WANDB_MODE", "").lower() == "online":
                rank_zero_warn(f"W&B runs offline although WANDB_MODE=online: {self.offline_reason}")
        kwargs.setdefault("settings", {"silent": True})  # no banners; offline runs never ask for a key anyway
        super().__init__(project=project, save_dir=save_dir, offline=offline, **kwargs)

    def describe_run(self, variant: str, dataset: str, config: dict[str, Any], root_dir: str) -> None:
        """Sets the group, tags and config of the W&B run and its folder; before the run starts (it is created on
        first use), so that they are part of ``wandb.init``. Values the user gave (``group``, ``tags``, ``config``,
        ``save_dir``) are kept; tags are added to."""
        if self._experiment is not None:
            raise RuntimeError("describe_run must be called before the W&B run starts")
        init = self._wandb_init
        init["group"] = init.get("group") or variant
        init["tags"] = list(dict.fromkeys([*(init.get("tags") or []), variant, dataset]))
        init["config"] = {**config, **(init.get("config") or {})}
        if self._save_dir is None:
            self._save_dir = init["dir"] = str(next_version_dir(Path(root_dir) / "lightning_logs"))

    @property
    def experiment(self):
        if self._experiment is None and self._save_dir is not None and rank_zero_only.rank == 0:
            Path(self._save_dir).mkdir(parents=True, exist_ok=True)  # wandb would make it, warning first
        return super().experiment


def offline_reason(timeout: float = 3.0) -> Optional[str]:
    """Why W&B must run offline on this machine, or ``None`` when it can go online (or the user chose a mode)."""
    mode = os.environ.get("WANDB_MODE", "").lower()
    if mode and mode != "online":
        return None  # offline, dryrun or disabled: wandb itself follows WANDB_MODE
    host = urlparse(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname or "api.wandb.ai"
    if not has_credentials(host):
        return f"no W&B credentials for {host} (WANDB_API_KEY or `wandb login`)"
    if mode != "online" and not reachable(host, 443, timeout):
        return f"{host} cannot be reached"
    return None


def has_credentials(host: str) -> bool:
    """An API key in the environment, an identity token file, or a netrc entry for ``host``."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    try:
        return path.is_file() and netrc.netrc(path).authenticators(host) is not None
    except (netrc.NetrcParseError, OSError):
        return False


def reachable(host: str, port: int, timeout: float) -> bool:
    """Whether a TCP connection to ``host:port`` opens within ``timeout`` seconds (name lookup included, which
    ``socket.create_connection`` alone would not bound)."""
    result: list[bool] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def next_version_dir(root: Path) -> Path:
    """``root/version_<N>`` with N one more than the largest there (0 for none), as Lightning's CSV logger counts."""
    taken = [int(p.name[8:]) for p in root.glob("version_*") if p.name[8:].isdigit()] if root.is_dir() else []
    return root / f"version_{max(taken, default=-1) + 1}"


# --- pictures and text to every logger that takes them --------------------------------------------------------------
def logging_step(trainer: L.Trainer) -> int:
    """The step a callback's values are logged at: the training batches done, the axis of ``self.log``'s values and of
    Lightning's own callbacks (LearningRateMonitor). ``trainer.global_step`` counts optimizer steps, two or more a
    batch under manual optimization, so values logged at it land at twice the step of the losses beside them."""
    return trainer.fit_loop.epoch_loop._batches_that_stepped


def log_picture(trainer: L.Trainer, key: str, picture: Image.Image) -> None:
    """Sends a picture to the trainer's loggers that take images: W&B (``log_image``) and TensorBoard
    (``experiment.add_image``, CHW uint8). Call on rank 0 (the loggers write there only)."""
    for logger in trainer.loggers:
        if hasattr(logger, "log_image"):
            logger.log_image(key=key, images=[picture], step=logging_step(trainer))
        elif hasattr(getattr(logger, "experiment", None), "add_image"):
            array = np.asarray(picture)  # (H, W) grey or (H, W, C)
            chw = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
            logger.experiment.add_image(key, chw, global_step=logging_step(trainer), dataformats="CHW")


def log_text(trainer: L.Trainer, key: str, lines: list[str]) -> None:
    """Sends lines of text to the loggers that take text: W&B (a one-column table) and TensorBoard."""
    for logger in trainer.loggers:
        if hasattr(logger, "log_text"):
            logger.log_text(key=key, columns=["sample"], data=[[line] for line in lines], step=logging_step(trainer))
        elif hasattr(getattr(logger, "experiment", None), "add_text"):
            logger.experiment.add_text(key, "\n\n".join(lines), global_step=logging_step(trainer))
