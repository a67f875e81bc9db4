"""The judge of the 2D-mixture benchmarks, the same path a user takes: ``lit-gans sample --ckpt CKPT --num 2500
--out s.pt`` (the checkpoint loaded back, the EMA generator when there is one, batch norm in eval mode on its running
statistics, noise seed 0), then the PacGAN protocol (:func:`lit_gans.metrics.modes.mode_statistics`) on ``s.pt``.

    stats = judge_checkpoint("runs/gan_ring/.../last.ckpt", "ring")
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import torch

from lit_gans.commands.sample import main as sample_command
from lit_gans.data.toy import Toy2DDataModule
from lit_gans.metrics.modes import ModeStats, mode_statistics

NUM_SAMPLES = 2500  #: PacGAN's 2,500 samples


def user_samples(ckpt: str | Path, num: int = NUM_SAMPLES, seed: int = 0) -> torch.Tensor:
    """The (num, 2) tensor that ``lit-gans sample --ckpt ckpt --num num --seed seed --out s.pt`` writes."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "s.pt"
        with contextlib.redirect_stdout(io.StringIO()):  # its "wrote N samples" line
            sample_command(["--ckpt", str(ckpt), "--num", str(num), "--seed", str(seed), "--out", str(out)])
        return torch.load(out)


def judge_checkpoint(ckpt: str | Path, mixture: str, num: int = NUM_SAMPLES, seed: int = 0) -> ModeStats:
    """Mode statistics (PacGAN protocol) of :func:`user_samples` against the ``mixture``'s modes."""
    data = Toy2DDataModule(mixture)
    return mode_statistics(user_samples(ckpt, num, seed), data.means, data.std)
