"""Sample grids from a fixed noise batch, written to the run directory as PNG and to the logger where it takes images;
token sequences (SeqGAN) are written as decoded text instead."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import lightning as L
from lightning.pytorch.utilities import rank_zero_only

from lit_gans.images import samples_to_picture, save_png


class SampleGrid(L.Callback):
    """Every ``every_n_steps`` generator updates (and at the end of training), draws ``num_samples`` samples with a
    fixed seed, so that grids from one run show the same noise vectors as training goes on.

    Files: ``<run dir>/samples/step_<g steps>.png`` and ``<run dir>/samples/last.png``.
    """

    def __init__(self, every_n_steps: int = 500, num_samples: int = 64, seed: int = 0) -> None:
        self.every_n_steps, self.num_samples, self.seed = every_n_steps, num_samples, seed
        self._last_written: Optional[int] = None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        g_steps = int(pl_module.g_steps)
        if self.every_n_steps and g_steps % self.every_n_steps == 0 and g_steps != self._last_written:
            self._write(trainer, pl_module, g_steps)

    def on_train_end(self, trainer: L.Trainer, pl_module) -> None:
        self._write(trainer, pl_module, int(pl_module.g_steps))

    def _write(self, trainer: L.Trainer, pl_module, g_steps: int) -> None:
        self._last_written = g_steps
        samples = pl_module.sample(self.num_samples, seed=self.seed)
        self._save(trainer, pl_module, samples, g_steps, samples_folder(trainer))

    @rank_zero_only
    def _save(self, trainer: L.Trainer, pl_module, samples, g_steps: int, folder: Path) -> None:
        if not samples.is_floating_point():  # token sequences (SeqGAN): decoded text instead of a picture
            return _save_text(trainer, pl_module, samples, g_steps, folder)
        reference = getattr(trainer.datamodule, "means", None) if trainer.datamodule is not None else None
        picture = samples_to_picture(samples, reference)
        meta = {"Software": "lit_gans", "Description": f"synthetic samples of {type(pl_module).__name__}"}
        save_png(picture, folder / f"step_{g_steps:07d}.png", meta)
        save_png(picture, folder / "last.png", meta)
        for logger in trainer.loggers:
            if hasattr(logger, "log_image"):  # W&B, and others that take images
                logger.log_image(key="samples", images=[picture], step=trainer.global_step)


def samples_folder(trainer: L.Trainer) -> Path:
    """``<run dir>/samples``; every process must ask (under DDP ``trainer.log_dir`` is a broadcast from rank 0, and a
    rank-zero-only call of it waits forever for the others)."""
    return Path(trainer.log_dir or trainer.default_root_dir) / "samples"


def _save_text(trainer: L.Trainer, pl_module, tokens, g_steps: int, folder: Path) -> None:
    """``samples/step_<g steps>.txt`` and ``samples/last.txt``, one decoded sequence a line; the first few to loggers
    that take text."""
    lines = pl_module.decode(tokens.cpu()) if hasattr(pl_module, "decode") else [" ".join(map(str, r)) for r in tokens.tolist()]
    folder.mkdir(parents=True, exist_ok=True)
    for name in (f"step_{g_steps:07d}.txt", "last.txt"):
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    for logger in trainer.loggers:
        if hasattr(logger, "log_text"):  # W&B
            logger.log_text(key="samples", columns=["sample"], data=[[line] for line in lines[:8]], step=trainer.global_step)
        elif hasattr(getattr(logger, "experiment", None), "add_text"):  # TensorBoard
            logger.experiment.add_text("samples", "\n\n".join(lines[:8]), global_step=trainer.global_step)
