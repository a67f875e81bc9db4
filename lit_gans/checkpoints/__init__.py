"""Everything about checkpoint files, one part a module:

- :mod:`~lit_gans.checkpoints.format`: the layout version and the model a checkpoint records, and reading one safely
  (``weights_only``) with one clear error for anything else;
- :mod:`~lit_gans.checkpoints.atomic`: writing one atomically (temporary file beside the target, fsync, rename);
- :mod:`~lit_gans.checkpoints.resume`: what exact resume needs beyond the weights (RNG states, the loader's position
  in the epoch, an epoch that ended at save time) and the check of ``fit --ckpt_path``;
- :mod:`~lit_gans.checkpoints.loading`: rebuilding a model from a checkpoint (:func:`load_model`).

``load_model`` is the only part that knows the model registry, and the models use the other parts: it is imported on
first use, so that ``lit_gans.checkpoints.load_model(path)`` works without an import cycle.
"""

from lit_gans.checkpoints.atomic import AtomicCheckpointIO, atomic_save
from lit_gans.checkpoints.format import CHECKPOINT_FORMAT, CheckpointError, check_checkpoint, read_checkpoint

__all__ = ["AtomicCheckpointIO", "atomic_save", "CHECKPOINT_FORMAT", "CheckpointError", "check_checkpoint",
           "read_checkpoint", "load_model"]


def __getattr__(name: str):
    if name == "load_model":
        from lit_gans.checkpoints.loading import load_model

        return load_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
