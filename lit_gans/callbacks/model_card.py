"""A short model card (Mitchell et al. 2019, "Model Cards for Model Reporting", arXiv:1810.03993) written next to the
checkpoints at the end of every fit: what was trained, on which data, for how long, with which final metrics, what
it is for and what it must not be used for."""

from __future__ import annotations

import datetime
import math
import sys
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.utilities import rank_zero_only

import lit_gans
from lit_gans.provenance import file_sha256

INTENDED_USE = (
    "Research and teaching: studying how this GAN variant trains, comparing it with other variants and losses, "
    "and producing synthetic data for experiments where every output is labelled as synthetic."
)
LIMITATIONS = (
    "A GAN reproduces the biases and gaps of its training data, can drop whole modes of it (mode collapse), and can "
    "memorise training examples, so samples may leak private training data. Sample quality is only as good as the "
    "metrics below say, measured on the data named here; it says nothing about other data."
)
RESPONSIBLE_USE = (
    "Do not use the model or its samples to impersonate real people, to deceive, or to pass synthetic media off as "
    "real. Every PNG that lit-gans writes carries provenance metadata (synthetic, model, checkpoint hash, library "
    "version; see `lit_gans.provenance.read_provenance`); keep it when you share samples, and say that they are "
    "synthetic. Check the licence and consent terms of the training data before releasing weights or samples."
)


class ModelCard(L.Callback):
    """Writes ``MODEL_CARD.md`` into the checkpoint folder when a fit ends (also when it stops on an error, saying
    so), on rank zero. ``filename`` names the file; ``enabled=False`` turns it off."""

    def __init__(self, filename: str = "MODEL_CARD.md", enabled: bool = True) -> None:
        self.filename, self.enabled = filename, enabled

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.enabled:
            # card_folder may ask trainer.log_dir, which broadcasts under DDP: every rank must call it
            self._write(trainer, pl_module, card_folder(trainer), status="finished")

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        # no collective call here: after an error the other ranks may never reach it
        if self.enabled:
            self._write(trainer, pl_module, card_folder(trainer, collective=False),
                        status=f"stopped early: {type(exception).__name__}: {exception}")

    @rank_zero_only
    def _write(self, trainer: L.Trainer, pl_module: L.LightningModule, folder: Path, status: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        text = render_card(pl_module, trainer.datamodule, _metrics(trainer), _checkpoints(folder), _training(trainer, pl_module), status)
        (folder / self.filename).write_text(text, encoding="utf-8")


def card_folder(trainer: L.Trainer, collective: bool = True) -> Path:
    """The folder of the run's checkpoints (that of the first ModelCheckpoint), else ``<log dir>/checkpoints``; with
    ``collective=False`` (no DDP broadcast: ``trainer.log_dir`` needs one) the fallback is ``default_root_dir``."""
    ckpt = trainer.checkpoint_callback
    if ckpt is not None and getattr(ckpt, "dirpath", None):
        return Path(ckpt.dirpath)
    if not collective:
        return Path(trainer.default_root_dir)
    return Path(trainer.log_dir or trainer.default_root_dir) / "checkpoints"


def render_card(model, datamodule, metrics: dict[str, float], checkpoints: dict[str, str], training: dict[str, Any], status: str) -> str:
    """The card's Markdown."""
    name = type(model).__name__
    data_name = type(datamodule).__name__ if datamodule is not None else "unknown (no LightningDataModule)"
    lines = [
        f"# Model card: {name} trained on {data_name}",
        "",
        f"Written by lit_gans {lit_gans.__version__} on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC. "
        f"Training {status}.",
        "",
        "## Model",
        f"- Variant: `{type(model).__module__}.{name}`",
        f"- Paper: {paper_of(model)}",
        f"- Hyper-parameters: {_inline(model.hparams)}",
        "",
        "## Training data",
        *_data_lines(datamodule),
        "",
        "## Training",
        *[f"- {k}: {v}" for k, v in training.items()],
        "",
        "## Final metrics",
        *_metric_lines(metrics),
        "",
        "## Checkpoints",
        *([f"- `{f}` sha256 `{h}`" for f, h in checkpoints.items()] or ["- none saved in this folder"]),
        "",
        *use_sections(),
    ]
    return "\n".join(lines)


def use_sections() -> list[str]:
    """The closing sections of every card: intended use, limitations, responsible use."""
    return ["## Intended use", INTENDED_USE, "", "## Limitations", LIMITATIONS, "", "## Responsible use", RESPONSIBLE_USE, ""]


def paper_of(model) -> str:
    """The first paragraph of the model's module docstring, where every lit_gans variant cites its paper."""
    doc = (sys.modules[type(model).__module__].__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split()) or "not stated"


def _data_lines(datamodule) -> list[str]:
    if datamodule is None:
        return ["- not recorded (the data came as bare dataloaders)"]
    lines = [f"- DataModule: `{type(datamodule).__module__}.{type(datamodule).__name__}`"]
    for attr in ("data_shape", "num_classes", "batch_size"):
        try:
            lines.append(f"- {attr}: {getattr(datamodule, attr)}")
        except (AttributeError, NotImplementedError):
            pass
    train_set = getattr(datamodule, "train_set", None)
    if train_set is not None and hasattr(train_set, "__len__"):
        lines.append(f"- training examples: {len(train_set)}")
    for attr in ("root", "data_dir", "path", "domain_a", "domain_b"):
        if getattr(datamodule, attr, None) is not None:
            lines.append(f"- {attr}: `{getattr(datamodule, attr)}`")
    return lines


def _training(trainer: L.Trainer, model) -> dict[str, Any]:
    out = {"epochs": trainer.current_epoch, "trainer steps": trainer.global_step,
           "d_steps": int(model.d_steps), "g_steps": int(model.g_steps)}
    out["devices x nodes"] = f"{trainer.num_devices} x {trainer.num_nodes}"
    out["precision"] = trainer.precision
    return out


def _metrics(trainer: L.Trainer) -> dict[str, float]:
    out = {}
    for key, value in sorted(trainer.callback_metrics.items()):
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out


def _metric_lines(metrics: dict[str, float]) -> list[str]:
    if not metrics:
        return ["- none logged"]
    rows = ["| metric | value |", "|---|---|"]
    return rows + [f"| {k} | {v:.6g} |" if math.isfinite(v) else f"| {k} | {v} |" for k, v in metrics.items()]


def _checkpoints(folder: Path) -> dict[str, str]:
    return {p.name: file_sha256(p) for p in sorted(folder.glob("*.ckpt")) if p.is_file()}


def _inline(hparams) -> str:
    items = {k: v for k, v in dict(hparams).items() if not str(k).startswith("_")}
    return ", ".join(f"`{k}={v!r}`" for k, v in items.items()) or "none"

