"""Tiny random teachers saved as lit_gans checkpoints, shared by tests/test_compress.py and tests/test_export.py."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from lit_gans.checkpoint_io import atomic_save
from lit_gans.cli import main
from lit_gans.compress.student import student_checkpoint
from lit_gans.models import CGAN, DCGAN, StyleGAN2

TEACHERS = {
    "DCGAN": lambda: DCGAN(data_shape=(1, 8, 8), z_dim=8, g_channels=8, d_channels=8),
    "CGAN": lambda: CGAN(data_shape=(1, 8, 8), num_classes=10, net="dcgan", z_dim=8, base_channels=4),
    "StyleGAN2": lambda: StyleGAN2(data_shape=(1, 8, 8), z_dim=8, w_dim=8, mapping_layers=1, channel_base=64,
                                   channel_max=8),
}


def visible_dcgan(z_dim: int = 8) -> DCGAN:
    """A tiny 16x16 DCGAN in eval mode whose generator draws visible images (DCGAN's init, std 0.02, and the random
    teachers above draw near-blank ones) and whose batch norms hold running statistics of its own outputs (not the
    fresh 0 / 1), as a trained generator's do."""
    torch.manual_seed(0)
    model = DCGAN(data_shape=(1, 16, 16), z_dim=z_dim, g_channels=8, d_channels=8)
    with torch.no_grad():
        for m in model.generator.modules():
            if isinstance(m, torch.nn.ConvTranspose2d):
                m.weight.mul_(10)
        model.train()
        for _ in range(20):
            model.discriminator(model.generator(torch.randn(64, z_dim)))
    return model.eval()


def save_teacher(name: str, folder: Path, seed: int = 0) -> Path:
    """A random tiny model of the variant ``name`` as a checkpoint in ``folder``."""
    torch.manual_seed(seed)
    path = folder / f"{name}.ckpt"
    atomic_save(student_checkpoint(TEACHERS[name]().eval(), {}), path)
    return path


def run_cli(args, cwd: Path) -> int:
    """lit-gans in-process from ``cwd``; the exit status (0 when it returns normally)."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        main([str(a) for a in args])
        return 0
    except SystemExit as e:
        return e.code
    finally:
        os.chdir(old)
