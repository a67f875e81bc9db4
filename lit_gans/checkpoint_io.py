"""Kept for configs written before checkpoint handling moved to :mod:`lit_gans.checkpoints` (their trainer plugins name
``lit_gans.checkpoint_io.AtomicCheckpointIO``)."""

from lit_gans.checkpoints.atomic import AtomicCheckpointIO, atomic_save

__all__ = ["AtomicCheckpointIO", "atomic_save"]
