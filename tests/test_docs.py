"""The code of docs/add_a_variant.md runs: the LSGAN example is built, trained, checkpointed and reloaded, and its
YAML config builds through the CLI. The module is made from the page's ```python block, so the page cannot rot."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from conftest import quick_trainer

from lit_gans.data import Toy2DDataModule
from lit_gans.losses import d_least_squares_loss, g_least_squares_loss

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "add_a_variant.md"


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.S)


@pytest.fixture
def lsgan(monkeypatch, tmp_path):
    """The page's module, written to a file (so that its source can be inspected, as the CLI does) and imported as
    ``lit_gans.models.lsgan``; registered in MODELS for this test only."""
    (source,) = [b for b in code_blocks("python") if "class LSGAN" in b]
    path = tmp_path / "lsgan.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("lit_gans.models.lsgan", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    from lit_gans.models import MODELS

    monkeypatch.setitem(MODELS, "LSGAN", module.LSGAN)
    return module


def fake_outputs(model, real, real_out, fake_out):
    """Makes the model's D return ``real_out`` for the tensor ``real`` itself and ``fake_out`` for anything else."""
    model.discriminate = lambda x, **cond: real_out if x is real else fake_out


REAL = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])


def test_losses_follow_equation_2(lsgan):
    real_out, fake_out = torch.tensor([0.5, 2.0, -1.0]), torch.tensor([0.0, 1.0, -2.0])
    model = lsgan.LSGAN(data_shape=(2,), a=-1.0, b=1.0, c=0.0)
    fake_outputs(model, REAL, real_out, fake_out)
    d_loss, logs = model.discriminator_loss((REAL, torch.zeros(3)))
    # 1/2 mean((D(x) - 1)^2) + 1/2 mean((D(G(z)) + 1)^2) = 1/2 (0.25 + 1 + 4)/3 + 1/2 (1 + 4 + 1)/3
    assert abs(d_loss.item() - (0.5 * 5.25 / 3 + 0.5 * 6.0 / 3)) < 1e-6
    assert abs(logs["d_real"].item() - 0.5) < 1e-6  # raw D outputs are logged, not probabilities
    g_loss, _ = model.generator_loss((REAL, torch.zeros(3)))
    assert abs(g_loss.item() - 0.5 * (0 + 1 + 4) / 3) < 1e-6  # 1/2 mean((D(G(z)) - 0)^2)


def test_default_targets_equal_the_librarys_least_squares_loss(lsgan):
    real_out, fake_out = torch.tensor([0.3, 1.7]), torch.tensor([-0.4, 0.9])
    model = lsgan.LSGAN(data_shape=(2,))
    real = REAL[:2]
    fake_outputs(model, real, real_out, fake_out)
    d_loss, _ = model.discriminator_loss((real, torch.zeros(2)))
    g_loss, _ = model.generator_loss((real, torch.zeros(2)))
    assert abs(d_loss.item() - d_least_squares_loss(real_out, fake_out).item()) < 1e-6
    assert abs(g_loss.item() - g_least_squares_loss(fake_out).item()) < 1e-6


def test_trains_on_the_ring_and_reloads_from_a_checkpoint(lsgan, tmp_path):
    from lit_gans.checkpoints import load_model

    L.seed_everything(0, verbose=False)
    model = lsgan.LSGAN(data_shape=(2,), z_dim=2, hidden=(16, 16), a=-1.0, b=1.0, c=0.0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = quick_trainer(max_steps=2 * 3)
    trainer.fit(model, Toy2DDataModule(mixture="ring", num_samples=600, batch_size=100))
    assert (int(model.d_steps), int(model.g_steps)) == (3, 3)
    for player in ("generator", "discriminator"):
        mine = [k for k in model.state_dict() if k.startswith(player + ".")]
        changed = [k for k in mine if not torch.equal(model.state_dict()[k], before[k])]
        assert changed, f"{player} did not change"
    losses = {k: v for k, v in trainer.callback_metrics.items() if k.endswith("_loss")}
    assert set(losses) == {"train/d_loss", "train/g_loss"} and all(torch.isfinite(v) for v in losses.values())
    path = tmp_path / "lsgan.ckpt"
    trainer.save_checkpoint(path)
    again = load_model(path)
    assert type(again).__name__ == "LSGAN" and (again.hparams.a, again.hparams.c) == (-1.0, 0.0)
    assert torch.equal(again.sample(5, seed=3), model.sample(5, seed=3))


def test_the_pages_config_builds_through_the_cli(lsgan, tmp_path):
    from lit_gans.cli import GANCLI
    from lit_gans.data import GANDataModule
    from lit_gans.models import GANModule

    (config,) = [b for b in code_blocks("yaml") if "LSGAN" in b]
    path = tmp_path / "ring.yaml"
    path.write_text(config)
    cli = GANCLI(GANModule, GANDataModule, subclass_mode_model=True, subclass_mode_data=True, run=False,
                 args=["-c", str(path), "--trainer.logger", "false"], auto_configure_optimizers=False,
                 save_config_callback=None)
    assert isinstance(cli.model, lsgan.LSGAN)
    assert (cli.model.hparams.a, cli.model.hparams.b, cli.model.hparams.c) == (-1.0, 1.0, 0.0)
    assert tuple(cli.model.hparams.data_shape) == (2,)
    g_opt, d_opt = cli.model.configure_optimizers()[0]
    assert abs(g_opt.param_groups[0]["lr"] - 1e-3) < 1e-12 and abs(d_opt.param_groups[0]["lr"] - 1e-3) < 1e-12


def test_the_page_names_only_hooks_that_exist():
    from lit_gans.models.base import GANModule

    table = PAGE.read_text(encoding="utf-8").split("## The hooks", 1)[1].split("## ", 1)[0]
    hooks = re.findall(r"^\| `(\w+)", table, flags=re.M)
    assert len(hooks) >= 12, hooks
    missing = [h for h in hooks if not hasattr(GANModule, h)]
    assert not missing, missing
