"""``lit-gans predict`` writes what it draws: one sample per element of the predict data (see
:meth:`GANModule.predict_step`), as a tensor file and as a picture or text a person can look at.

Files, in ``dirpath`` (default: ``predictions/`` beside the checkpoint's run, ``<run>/checkpoints/last.ckpt`` ->
``<run>/predictions/``; without a checkpoint, in this command's run folder):

- ``predictions.pt``: every sample, one tensor (images in [-1, 1] (N, C, H, W), points (N, D), token ids (N, T));
- ``predictions.png``: the first ``grid_samples`` as a grid (at least ``min_size`` pixels across) or, for 2D points,
  a scatter plot, marked as synthetic like every lit_gans picture; ``predictions.txt`` for token sequences.

Under DDP each process writes its own share, as ``predictions_rank<r>.*``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

import lightning as L
import torch
from lightning.pytorch.callbacks import BasePredictionWriter

from lit_gans.images import samples_to_picture
from lit_gans.provenance import save_synthetic_png


class PredictionWriter(BasePredictionWriter):
    """Writes ``predict``'s samples (see the module docstring).

    Args:
        dirpath: folder of the files; None: ``predictions/`` in the checkpoint's run folder (or this run's).
        grid_samples: how many samples the picture shows.
        min_size: least width of an image grid in pixels (nearest-neighbour enlargement); 0 keeps the images' size.
    """

    def __init__(self, dirpath: Optional[str] = None, grid_samples: int = 64, min_size: int = 512) -> None:
        super().__init__(write_interval="epoch")
        if grid_samples < 1 or min_size < 0:
            raise ValueError(f"need grid_samples >= 1 and min_size >= 0, got {grid_samples}, {min_size}")
        self.dirpath, self.grid_samples, self.min_size = dirpath, grid_samples, min_size

    def folder(self, trainer: L.Trainer) -> Path:
        if self.dirpath is not None:
            return Path(self.dirpath)
        if trainer.ckpt_path:
            ckpt_dir = Path(trainer.ckpt_path).parent
            return (ckpt_dir.parent if ckpt_dir.name == "checkpoints" else ckpt_dir) / "predictions"
        return Path(trainer.log_dir or trainer.default_root_dir) / "predictions"

    def write_on_epoch_end(self, trainer: L.Trainer, pl_module, predictions: Sequence[Any], batch_indices) -> None:
        if predictions and isinstance(predictions[0], list):  # several predict dataloaders: one list each
            predictions = [p for loader in predictions for p in loader]
        if not predictions:
            return
        samples = torch.cat([p.detach().cpu() for p in predictions])
        folder = self.folder(trainer)
        folder.mkdir(parents=True, exist_ok=True)
        stem = "predictions" if trainer.world_size == 1 else f"predictions_rank{trainer.global_rank}"
        torch.save(samples, folder / f"{stem}.pt")
        shown = samples[: self.grid_samples]
        if not samples.is_floating_point():  # token ids
            lines = pl_module.decode(shown.cpu())
            (folder / f"{stem}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        elif samples.dim() == 4 or (samples.dim() == 2 and samples.shape[1] == 2):
            picture = samples_to_picture(shown, min_size=self.min_size)
            save_synthetic_png(picture, folder / f"{stem}.png", pl_module, checkpoint=trainer.ckpt_path,
                               description=f"{len(shown)} samples of {type(pl_module).__name__} (lit-gans predict)")
