"""Shared by the benchmarks that measure a shipped config: as a user runs it (`lit-gans fit -c CONFIG` in a
subprocess, timed, then the final checkpoint loaded back), or its model built in-process for a custom loop."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from lightning.pytorch.cli import instantiate_class

from lit_gans.checkpoints import load_model
from lit_gans.models import GANModule

ROOT = Path(__file__).resolve().parents[2]


def fit_config(config: str, *extra_args: str) -> tuple[GANModule, float]:
    """Runs the fit (output silenced) in a temporary run directory; returns the trained model and the wall seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "lit_gans.cli", "fit", "-c", str(ROOT / config), *extra_args,
               "--trainer.default_root_dir", tmp, "--trainer.enable_progress_bar", "false"]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "PYTHONWARNINGS": "ignore"},
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        return load_model(next(Path(tmp).rglob("last.ckpt"))), seconds


def build_model(class_path: str, init_args: dict, **linked) -> GANModule:
    """The model of a config's ``model`` section, built as LightningCLI builds it: optimizer entries
    (``class_path`` + ``init_args``) become ``params -> Optimizer`` factories (picklable), and ``linked`` adds the
    arguments the CLI links from the data (``data_shape``, ``num_classes``)."""
    args = {key: partial(instantiate_class, init=value) if key.endswith("_optimizer") and isinstance(value, dict)
            else value for key, value in init_args.items()}
    return instantiate_class((), {"class_path": class_path, "init_args": args | linked})
