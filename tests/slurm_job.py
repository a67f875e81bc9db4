"""Callbacks that the SLURM tests (tests/test_slurm.py) add to the jobs they submit, as
``--trainer.callbacks+=slurm_job.<Name>`` (tests/ is on the jobs' PYTHONPATH)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import lightning as L

from lit_gans.callbacks.preemption import Preemption

PAUSE_TIMEOUT = 240  # seconds a paused run waits for its signal before it goes on (the test then fails)


class PauseAt(L.Callback):
    """After the training batch that ends at a global step in ``steps``, writes ``<folder>/paused_at_<step>_rank<r>``
    (SLURM's restart count and the process id, as JSON) and waits until a signal has reached the process or the test
    writes ``<folder>/go_<step>``, so that the test interrupts the job at a known point in training. Comes before the
    Preemption callback (the CLI appends its own callbacks), which then stops the run after this batch."""

    def __init__(self, folder: str, steps: list[int]) -> None:
        self.folder, self.steps = Path(folder), steps

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        step = trainer.global_step
        if step not in self.steps:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        record = {"restarts": os.environ.get("SLURM_RESTART_COUNT", "0"), "pid": os.getpid()}
        (self.folder / f"paused_at_{step}_rank{trainer.global_rank}").write_text(json.dumps(record))
        preemption = next(cb for cb in trainer.callbacks if isinstance(cb, Preemption))
        deadline = time.time() + PAUSE_TIMEOUT
        while not (trainer.received_sigterm or preemption.signalled or (self.folder / f"go_{step}").exists()):
            if time.time() > deadline:
                break
            time.sleep(0.05)  # the signal handler runs in this thread, between two sleeps


class SlurmRanks(L.Callback):
    """Writes what each process took from SLURM, and what Lightning made of it, to ``<folder>/rank<r>.json``."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        env = trainer._accelerator_connector.cluster_environment
        self.folder.mkdir(parents=True, exist_ok=True)
        record = {"environment": type(env).__name__, "global_rank": trainer.global_rank,
                  "world_size": trainer.world_size, "local_rank": trainer.local_rank, "node_rank": trainer.node_rank,
                  **{name: os.environ.get(name) for name in ("SLURM_PROCID", "SLURM_LOCALID", "SLURM_JOB_ID",
                                                               "SLURM_RESTART_COUNT")}}
        (self.folder / f"rank{trainer.global_rank}.json").write_text(json.dumps(record))
