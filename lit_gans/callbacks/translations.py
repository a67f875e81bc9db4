"""Translation triplets for image-to-image models: input, translation and reconstruction, both directions."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor

from lit_gans.callbacks.samples import samples_folder
from lit_gans.images import image_grid
from lit_gans.loggers import log_picture
from lit_gans.provenance import image_metadata, save_synthetic_png


class TranslationTriplets(L.Callback):
    """Every ``every_n_steps`` generator updates (and at the end of training) draws, for ``num_images`` fixed training
    images of each domain, the row ``a, G_AB(a), G_BA(G_AB(a)) | b, G_BA(b), G_AB(G_BA(b))``.

    The images are the first ``num_images`` of each domain that training sees, kept for the whole run, so that the
    pictures of one run are comparable. The model must have ``translate(x, direction)`` (e.g. CycleGAN).
    Files: ``<run dir>/samples/translations_step_<g steps>.png`` and ``<run dir>/samples/translations_last.png``.
    """

    def __init__(self, every_n_steps: int = 1000, num_images: int = 8) -> None:
        if num_images < 1:
            raise ValueError(f"num_images must be >= 1, got {num_images}")
        self.every_n_steps, self.num_images = every_n_steps, num_images
        self.held_a: Optional[Tensor] = None
        self.held_b: Optional[Tensor] = None
        self._last_written: Optional[int] = None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self._hold(batch[0], batch[1])
        g_steps = int(pl_module.g_steps)
        if self.every_n_steps and g_steps % self.every_n_steps == 0 and g_steps != self._last_written:
            self._write(trainer, pl_module, g_steps)

    def on_train_end(self, trainer: L.Trainer, pl_module) -> None:
        if self.held_a is not None:
            self._write(trainer, pl_module, int(pl_module.g_steps))

    def _hold(self, a: Tensor, b: Tensor) -> None:
        """Collects images from the first batches until ``num_images`` of each domain are held (on the batches' device:
        no copy to the host, which would wait for the device, before a picture is drawn)."""
        if self.held_a is not None and len(self.held_a) >= self.num_images and len(self.held_b) >= self.num_images:
            return
        a, b = a[: self.num_images].detach().clone(), b[: self.num_images].detach().clone()
        self.held_a = a if self.held_a is None else torch.cat([self.held_a, a])
        self.held_b = b if self.held_b is None else torch.cat([self.held_b, b])
        self.held_a, self.held_b = self.held_a[: self.num_images], self.held_b[: self.num_images]

    def _write(self, trainer: L.Trainer, pl_module, g_steps: int) -> None:
        self._last_written = g_steps
        picture = triplet_grid(pl_module, self.held_a, self.held_b)
        self._save(trainer, pl_module, picture, g_steps, samples_folder(trainer))

    @rank_zero_only
    def _save(self, trainer: L.Trainer, pl_module, picture, g_steps: int, folder: Path) -> None:
        rows = "rows: a, G_AB(a), G_BA(G_AB(a)), b, G_BA(b), G_AB(G_BA(b)); every G(.) is synthetic"
        meta = image_metadata(pl_module, description=rows)
        for name in (f"translations_step_{g_steps:07d}.png", "translations_last.png"):
            save_synthetic_png(picture, folder / name, pl_module, metadata=meta)
        log_picture(trainer, "translations", picture)


def triplet_grid(model, a: Tensor, b: Tensor):
    """One row per image pair: a, G_AB(a), G_BA(G_AB(a)), b, G_BA(b), G_AB(G_BA(b)); rows as long as the shorter set."""
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    fake_b, fake_a = model.translate(a, "AtoB"), model.translate(b, "BtoA")
    rec_a, rec_b = model.translate(fake_b, "BtoA"), model.translate(fake_a, "AtoB")
    columns = [x.cpu() for x in (a.to(fake_b), fake_b, rec_a, b.to(fake_a), fake_a, rec_b)]
    rows = torch.stack(columns, dim=1).flatten(0, 1)  # (n * 6, C, H, W), row-major
    return image_grid(rows, nrow=6)
