"""What a checkpoint must carry, beyond weights and optimizers, for a resumed run to continue exactly.

- :func:`collect_rng_states` / :func:`restore_rng_states`: the global random number generators (torch CPU, CUDA when
  in use, numpy, Python), as tensors, ints and strings so that a checkpoint stays loadable with ``weights_only=True``.
- :class:`ResumableDataLoader`: a DataLoader that Lightning saves and restores with the loops (it has
  ``state_dict``/``load_state_dict``): a run stopped in the middle of an epoch continues with the same shuffle, at the
  next batch, instead of starting the epoch again on a new shuffle.
- :func:`mark_finished_epoch`: a checkpoint saved after an epoch's last batch resumes as a finished epoch.
- :func:`prepare_resume`: ``fit --ckpt_path`` checked before anything is built, and a W&B run continued.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader

from lit_gans.checkpoints.format import CheckpointError, check_checkpoint, read_checkpoint
from lit_gans.errors import UserError


def mark_finished_epoch(trainer, checkpoint: dict) -> bool:
    """When the epoch's batches are all done at save time, records the training loader as finished (a resume starts
    the next epoch on a fresh shuffle, also when ``limit_train_batches`` ends the epoch early); returns whether the
    epoch-end hooks are still to run (saved at the end of the last batch)."""
    if trainer is None or not trainer.training:
        return False
    loop = trainer.fit_loop
    if not loop.epoch_loop.batch_progress.is_last_batch:
        return False
    for state in loop_states(checkpoint):
        state["served"] = 0
    return loop.epoch_progress.current.processed < loop.epoch_progress.current.started


def loop_states(checkpoint: dict) -> list[dict]:
    """The training loaders' states that Lightning keeps in a checkpoint (ours have a ``served`` count)."""
    states = checkpoint.get("loops", {}).get("fit_loop", {}).get("state_dict", {}).get("combined_loader", [])
    return [s for s in states if isinstance(s, dict) and "served" in s]


# --- random number generators ------------------------------------------------------------------------------------------
def collect_rng_states() -> dict[str, Any]:
    """torch, CUDA, numpy and Python RNG states as tensors, ints and strings (loadable with ``weights_only=True``)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    states = {
        "torch": torch.get_rng_state(),
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": {"version": version, "internal": torch.tensor(internal, dtype=torch.int64), "gauss": gauss},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    """The inverse of :func:`collect_rng_states` (CUDA states only where this process has as many devices)."""
    torch.set_rng_state(states["torch"])
    n = states["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    p = states["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["internal"]), p["gauss"]))
    cuda = states.get("cuda")
    if cuda is not None and torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
        torch.cuda.set_rng_state_all(cuda)


# --- a DataLoader that resumes mid-epoch -------------------------------------------------------------------------------
class _SkipFirst:
    """A batch sampler whose first ``skip`` batches of indices are dropped; its length stays the full epoch's (the
    loops count the batches already done themselves)."""

    def __init__(self, batch_sampler, skip: int) -> None:
        self.batch_sampler, self.skip = batch_sampler, skip

    def __iter__(self) -> Iterator:
        return itertools.islice(iter(self.batch_sampler), self.skip, None)

    def __len__(self) -> int:
        return len(self.batch_sampler)


class ResumableDataLoader(DataLoader):
    """A DataLoader whose position in the epoch is part of the checkpoint.

    Each epoch's shuffle (and worker seeds) come from the loader's own ``torch.Generator``, seeded at the start of the
    epoch with one draw from the global torch RNG; :meth:`state_dict` is that seed and the batches served so far.
    Lightning saves it with the fit loop and, on resume, calls :meth:`load_state_dict` before the epoch's iterator
    is made: the epoch then continues at the next batch of the same order, skipping indices (no data is loaded for
    the skipped batches) and without a new draw from the global RNG, which the checkpoint restores separately.
    Under DDP, Lightning's DistributedSampler (seeded by the epoch) replaces the shuffle; skipping still applies.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("generator", torch.Generator())
        super().__init__(*args, **kwargs)
        self._epoch_seed: Optional[int] = None
        self._served = 0  # batches handed out in the current epoch
        self._resume: Optional[tuple[int, int]] = None  # (seed, batches to skip) for the next iterator
        self._skip = 0

    @property
    def _index_sampler(self):
        sampler = super()._index_sampler
        return _SkipFirst(sampler, self._skip) if self._skip else sampler

    def __iter__(self) -> Iterator:
        if self._resume is not None:
            self._epoch_seed, self._skip = self._resume
            self._resume = None
        else:  # a new epoch: one draw from the global RNG, as the default RandomSampler makes
            self._epoch_seed, self._skip = int(torch.empty((), dtype=torch.int64).random_().item()), 0
        self.generator.manual_seed(self._epoch_seed)
        self._served = self._skip
        iterator = super().__iter__()  # takes the skipping sampler now
        self._skip = 0
        return self._count(iterator)

    def _count(self, iterator: Iterator) -> Iterator:
        for batch in iterator:
            self._served += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch_seed": -1 if self._epoch_seed is None else self._epoch_seed, "served": self._served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        served = int(state["served"])
        # an epoch that was finished (or never started) begins anew with a fresh draw
        if state["epoch_seed"] != -1 and 0 < served < len(self):
            self._resume = (int(state["epoch_seed"]), served)


# --- fit --ckpt_path ---------------------------------------------------------------------------------------------------
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
