"""WGAN-GP's CIFAR-10 config against the reference gan_cifar.py (github.com/igul222/improved_wgan_training): the same
layer shapes (5x5 kernels, DIM 128, z 128), the same critic parameter count, and a tiny run of the built model."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from lit_gans.nets.dcgan import DCGANDiscriminator, DCGANGenerator

CONFIG = Path(__file__).resolve().parents[1] / "experiments/wgan_gp/cifar10.yaml"
DIM = 128


def _reference_critic_parameters() -> int:
    """gan_cifar.py's critic: three 5x5 stride-2 convolutions 3 -> DIM -> 2 DIM -> 4 DIM with biases, a linear layer
    of the 4x4x4DIM maps to one output."""
    convs = [(3, DIM), (DIM, 2 * DIM), (2 * DIM, 4 * DIM)]
    return sum(c_in * c_out * 25 + c_out for c_in, c_out in convs) + 4 * 4 * 4 * DIM + 1


def test_official_5x5_layers_halve_and_double_the_size_exactly():
    g = DCGANGenerator(z_dim=8, img_shape=(3, 32, 32), base_channels=4, kernel_size=5)
    d = DCGANDiscriminator(img_shape=(3, 32, 32), base_channels=4, norm="none", kernel_size=5)
    x = g(torch.randn(2, 8))
    assert x.shape == (2, 3, 32, 32) and d(x).shape == (2, 1)
    assert [m.kernel_size for m in d.net if isinstance(m, torch.nn.Conv2d)] == [(5, 5)] * 3 + [(4, 4)]


def test_official_cifar10_config_is_the_reference_run_and_trains(monkeypatch):
    monkeypatch.setattr("sys.argv", ["lit-gans"])
    from lit_gans.cli import GANCLI
    from lit_gans.data import GANDataModule
    from lit_gans.models import GANModule

    cli = GANCLI(GANModule, GANDataModule, subclass_mode_model=True, subclass_mode_data=True, run=False,
                 args=["-c", str(CONFIG), "--trainer.logger=false"], auto_configure_optimizers=False)
    model, h = cli.model, cli.model.hparams
    assert (h.z_dim, h.kernel_size, h.n_critic, h.gp_lambda, h.d_norm) == (128, 5, 5, 10.0, "none")
    assert cli.trainer.max_steps == 1_200_000  # 200,000 generator + 1,000,000 critic updates
    assert sum(p.numel() for p in model.discriminator.parameters()) == _reference_critic_parameters() == 4_114_689
    maps = [m.out_channels for m in model.generator.net if isinstance(m, torch.nn.ConvTranspose2d)]
    assert maps == [4 * DIM, 2 * DIM, DIM, 3]
    # a tiny run of the built model (CIFAR-10 itself is not downloaded here): one critic step on 32x32 noise
    images = TensorDataset(torch.rand(2, 3, 32, 32) * 2 - 1, torch.zeros(2, dtype=torch.long))
    trainer = L.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, DataLoader(images, batch_size=2))
    assert int(model.d_steps) == 1
