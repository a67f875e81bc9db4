"""Wall time and images seen, logged with the metrics so that ``lit-gans report`` can tell a run's speed from its
log files alone."""

from __future__ import annotations

import time
from typing import Optional

import lightning as L


class Throughput(L.Callback):
    """Logs ``time/elapsed_s`` (seconds since training started, on this process's clock) and ``time/images`` (real
    training images consumed so far, over all processes) after the training batches whose logs are written (every
    ``log_every_n_steps``, and the first). ``images / elapsed_s`` is the run's throughput in images/s."""

    def __init__(self) -> None:
        self.start: Optional[float] = None
        self.images = 0

    def on_train_start(self, trainer: L.Trainer, pl_module) -> None:
        self.start, self.images = time.perf_counter(), 0

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self.images += pl_module.batch_size(batch) * trainer.world_size
        if pl_module.logged_last_step:  # the steps whose logs are written: two logs cost ~1 ms
            pl_module.log("time/elapsed_s", time.perf_counter() - self.start, batch_size=1)
            pl_module.log("time/images", float(self.images), batch_size=1)
