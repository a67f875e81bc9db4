"""Sample grids from a fixed noise batch, written to the run directory as PNG and to the logger where it takes images."""

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
        self._save(trainer, pl_module, samples, g_steps)

    @rank_zero_only
    def _save(self, trainer: L.Trainer, pl_module, samples, g_steps: int) -> None:
        reference = getattr(trainer.datamodule, "means", None) if trainer.datamodule is not None else None
        picture = samples_to_picture(samples, reference)
        folder = Path(trainer.log_dir or trainer.default_root_dir) / "samples"
        meta = {"Software": "lit_gans", "Description": f"synthetic samples of {type(pl_module).__name__}"}
        save_png(picture, folder / f"step_{g_steps:07d}.png", meta)
        save_png(picture, folder / "last.png", meta)
        for logger in trainer.loggers:
            if hasattr(logger, "log_image"):  # W&B, and others that take images
                logger.log_image(key="samples", images=[picture], step=trainer.global_step)
