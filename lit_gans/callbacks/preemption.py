"""Pre-emption: SIGTERM or SIGUSR1 saves ``last.ckpt`` and ends the run cleanly (exit status 0).

Built on Lightning's own signal handling (``lightning.pytorch.trainer.connectors.signal_connector``): on SIGTERM
Lightning sets ``trainer.received_sigterm`` and raises ``SIGTERMException`` (a ``SystemExit``) at the next point where
the loops are consistent: after the current training batch, or after the epoch when it was the last batch. This
callback adds the missing halves:

1. SIGUSR1 (which outside SLURM would kill the process with no handler) is routed to Lightning's SIGTERM handler.
   Under SLURM with auto-requeue (Lightning's default there), the callback replaces Lightning's own handler of the
   requeue signal: that one writes ``hpc_ckpt_N.ckpt`` from inside the signal handler, wherever the step happens to
   be (between the D and the G update, say; under DDP its save waits at a barrier the other ranks may never reach).
   Here the handler only notes the signal; at the end of each training batch the processes agree (an all-reduce
   of a host tensor under DDP, on a gloo group so that no batch waits for the GPU: a signal that reached one rank in
   time stops all of them) and set Lightning's stop flag together, so
   every rank stops after the same batch; the job is requeued after 2.
2. On ``SIGTERMException`` during ``fit``, the run's ``last.ckpt`` is written (in the ModelCheckpoint folder, else in
   ``default_root_dir``) with every counter, RNG state and the DataLoader's place in the epoch, so a resumed run
   continues exactly. After the requeue signal, rank 0 then runs ``scontrol requeue $SLURM_JOB_ID``; the requeued
   job runs the same script, whose ``--ckpt_path last`` resumes from ``last.ckpt``.
3. Every checkpoint records the W&B run id, so that ``lit-gans fit --ckpt_path ...`` continues the same W&B run.

Relaunching: give a fixed checkpoint folder and ``--ckpt_path last``; the same command then starts fresh the first
time (Lightning warns that there is no last checkpoint) and continues from ``last.ckpt`` after a pre-emption::

    lit-gans fit -c cfg.yaml --checkpoint.dirpath runs/exp1/checkpoints --ckpt_path last
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from typing import Any, Optional

import lightning as L
import torch
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException
from lightning.pytorch.utilities.rank_zero import rank_zero_info

log = logging.getLogger(__name__)


class Preemption(Callback):
    """Saves ``last.ckpt`` when the run is told to stop by SIGTERM or SIGUSR1, then lets it exit with status 0.

    Args:
        sigusr1: also treat SIGUSR1 as a stop request (the usual pre-emption warning of batch schedulers).
    """

    def __init__(self, sigusr1: bool = True) -> None:
        self.sigusr1 = sigusr1
        self.saved_path: Optional[str] = None
        self.slurm_requeue = False  # SLURM with auto-requeue: this callback handles the requeue signal
        self.signalled = False  # the requeue signal reached this process
        self.requeue = False  # the processes agreed to stop: requeue the job once last.ckpt is written
        self._group = None  # the host-side process group of the agreement (DDP)

    # --- 1. SIGUSR1 -> Lightning's SIGTERM handling, or a stop and a requeue under SLURM -----------------------------
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning installs its handlers just before training starts, and restores the previous ones at teardown.
        env = getattr(trainer._accelerator_connector, "cluster_environment", None)  # what Lightning's connector checks
        self.slurm_requeue = isinstance(env, SLURMEnvironment) and env.auto_requeue and env.requeue_signal is not None
        self.signalled = self.requeue = False
        if self.slurm_requeue:
            signal.signal(env.requeue_signal, self._note_signal)
            self._group = host_group(trainer)
        elif self.sigusr1 and hasattr(signal, "SIGUSR1"):
            signal.signal(signal.SIGUSR1, _forward_to_sigterm_handler)

    def _note_signal(self, signum: int, frame: Any) -> None:
        self.signalled = True

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        # Lightning checks its stop flag right after this hook. Its SIGTERM handler sets the flag too, but under DDP
        # it broadcasts from inside the handler, in the middle of whatever collective the ranks are in.
        if self.slurm_requeue and self._anyone_signalled(trainer):
            self.requeue = True
            trainer._signal_connector.received_sigterm = True

    def _anyone_signalled(self, trainer: L.Trainer) -> bool:
        """Whether the signal reached any process: a sum over the processes of a host tensor, on a gloo group (on the
        device the reduction would make every batch wait for the GPU)."""
        if trainer.world_size == 1:
            return self.signalled
        flag = torch.tensor([int(self.signalled)])
        torch.distributed.all_reduce(flag, group=self._group)
        return flag.tolist()[0] > 0  # a host tensor: no wait for the device

    # --- 2. the checkpoint ----------------------------------------------------------------------------------------------
    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, SIGTERMException) or trainer.state.fn != TrainerFn.FITTING:
            return
        self.saved_path = last_checkpoint_path(trainer)
        for cb in trainer.checkpoint_callbacks:  # recorded in the checkpoint: the resumed run's ModelCheckpoint then
            if isinstance(cb, ModelCheckpoint) and cb.dirpath == os.path.dirname(self.saved_path):  # overwrites
                cb.last_model_path = self.saved_path  # this last.ckpt, instead of writing last-v1.ckpt beside it
        trainer.save_checkpoint(self.saved_path)
        rank_zero_info(f"lit-gans: stopped by a signal at step {trainer.global_step}; saved {self.saved_path}. "
                       f"Continue with --ckpt_path {self.saved_path} (or --ckpt_path last)")
        if self.requeue and trainer.is_global_zero:
            requeue_slurm_job()

    # --- 3. the W&B run id -----------------------------------------------------------------------------------------------
    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        run_id = wandb_run_id(trainer)
        if run_id is not None:
            checkpoint["wandb_run_id"] = run_id


def host_group(trainer: L.Trainer):
    """A process group whose collectives run on host tensors: the default one under gloo, else a new gloo group
    (made on every process at the same point, on_train_start); ``None`` for a single process."""
    if trainer.world_size == 1 or not torch.distributed.is_initialized():
        return None
    return None if torch.distributed.get_backend() == "gloo" else torch.distributed.new_group(backend="gloo")


def _forward_to_sigterm_handler(signum: int, frame: Any) -> None:
    handler = signal.getsignal(signal.SIGTERM)
    if callable(handler):
        handler(signum, frame)


def requeue_slurm_job() -> None:
    """``scontrol requeue`` this job (array jobs by ``<array job id>_<task id>``), as Lightning's own handler does."""
    job_id = os.environ["SLURM_JOB_ID"]
    if "SLURM_ARRAY_JOB_ID" in os.environ:
        job_id = f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    done = subprocess.run(["scontrol", "requeue", job_id], capture_output=True, text=True)
    if done.returncode == 0:
        rank_zero_info(f"lit-gans: requeued SLURM job {job_id}")
    else:
        log.warning(f"lit-gans: scontrol requeue {job_id} failed ({done.returncode}): {done.stderr.strip()}")


def last_checkpoint_path(trainer: L.Trainer) -> str:
    """``last.ckpt`` in the run's ModelCheckpoint folder, or in ``default_root_dir`` when there is none."""
    for cb in trainer.checkpoint_callbacks:
        if isinstance(cb, ModelCheckpoint) and cb.dirpath is not None:
            return os.path.join(cb.dirpath, cb.CHECKPOINT_NAME_LAST + cb.FILE_EXTENSION)
    return os.path.join(trainer.default_root_dir, "last.ckpt")


def wandb_run_id(trainer: L.Trainer) -> Optional[str]:
    """The id of the run's W&B run, if it logs to W&B and the run has started."""
    for logger in trainer.loggers:
        if type(logger).__name__ == "WandbLogger" and getattr(logger, "_experiment", None) is not None:
            return str(logger.experiment.id)
    return None
