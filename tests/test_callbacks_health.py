"""The training-health monitor on synthetic signals and on real short runs, both ways: it fires on a collapsed
generator and on vanishing gradients, and stays quiet on a healthy run."""

from __future__ import annotations

import functools
import logging
import math
import warnings
from types import SimpleNamespace

import lightning as L
import pytest
import torch

from lit_gans.callbacks.health import TrainingHealth, TrainingHealthWarning, mean_pairwise_distance
from lit_gans.data.digits import DigitsDataModule
from lit_gans.data.toy import Toy2DDataModule, mixture_means
from lit_gans.models.gan import VanillaGAN


@pytest.fixture(autouse=True)
def _quiet_lightning():
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)


def _feed(monitor: TrainingHealth, steps: list[dict[str, float]], probabilistic: bool = True,
          logged: bool = True) -> None:
    """Calls the monitor as Lightning would after each batch, with these logged values, one generator step each
    (``logged``: whether the module logged at those steps)."""
    module = SimpleNamespace(g_steps=0, logged_last_step=logged, adv=SimpleNamespace(probabilistic=probabilistic))
    trainer = SimpleNamespace(callback_metrics={}, loggers=[], global_step=0, datamodule=None)
    for i, values in enumerate(steps):
        module.g_steps = i + 1
        trainer.callback_metrics = {f"train/{k}": torch.tensor(v) for k, v in values.items()}
        monitor.on_train_batch_end(trainer, module, None, None, i)


def test_steps_that_logged_nothing_are_not_read():
    """Between logging steps the values in callback_metrics are old ones, and reading them would wait for the device."""
    monitor = TrainingHealth(window=2, every_n_steps=0)
    _feed(monitor, [{"g_grad_norm": 1.0, "d_real": 0.6, "d_fake": 0.4}] * 5, logged=False)
    assert len(monitor.g_grad_norms) == len(monitor.d_real) == 0
    _feed(monitor, [{"g_grad_norm": 1.0, "d_real": 0.6, "d_fake": 0.4}] * 5)
    assert len(monitor.g_grad_norms) == 2 and len(monitor.d_real) == 2


def test_vanishing_gradients_and_saturated_discriminator_are_flagged_once():
    monitor = TrainingHealth(window=10, every_n_steps=0)
    # 30 healthy steps, then D wins: D(x) -> 1, D(G(z)) -> 0, the generator's gradient decays to ~1e-4 of its start
    healthy = [{"g_grad_norm": 1.0 + 0.1 * math.sin(i), "d_real": 0.6, "d_fake": 0.4} for i in range(30)]
    dying = [{"g_grad_norm": 10 ** (-i / 10), "d_real": 0.999, "d_fake": 0.001} for i in range(40)]
    with pytest.warns(TrainingHealthWarning, match="vanishing generator gradients") as record:
        _feed(monitor, healthy + dying)
    assert set(monitor.warned) == {"vanishing_gradients", "d_saturated"}
    assert sum("vanishing" in str(w.message) for w in record) == 1  # once, not at every step
    assert "near-perfect" in monitor.warned["d_saturated"]


def test_healthy_signals_stay_quiet_and_critics_skip_the_probability_check():
    monitor = TrainingHealth(window=10, every_n_steps=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingHealthWarning)
        _feed(monitor, [{"g_grad_norm": 0.5 + 0.4 * math.sin(i), "d_real": 0.7, "d_fake": 0.3} for i in range(60)])
    assert monitor.warned == {}
    critic = TrainingHealth(window=10, every_n_steps=0)  # Wasserstein critic values are not probabilities
    _feed(critic, [{"g_grad_norm": 1.0, "d_real": 5.0, "d_fake": -5.0} for _ in range(20)], probabilistic=False)
    assert critic.warned == {}


def test_mean_pairwise_distance_by_hand():
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]])
    assert abs(mean_pairwise_distance(x) - (5.0 + 4.0 + 3.0) / 3) < 1e-6  # three distinct pairs


def _fit(model, data, monitor, steps: int) -> None:
    trainer = L.Trainer(
        max_steps=steps, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=[monitor], limit_val_batches=0,
    )
    trainer.fit(model, datamodule=data)


def _digits_gan() -> VanillaGAN:
    torch.manual_seed(0)
    opt = functools.partial(torch.optim.Adam, lr=2e-4, betas=(0.5, 0.999))
    return VanillaGAN(data_shape=(1, 8, 8), z_dim=16, g_hidden=(64,), d_hidden=(64,), g_optimizer=opt, d_optimizer=opt)


def test_monitor_fires_on_a_collapsed_generator_and_not_on_a_healthy_one():
    healthy = TrainingHealth(window=5, every_n_steps=10, num_samples=128)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingHealthWarning)
        _fit(_digits_gan(), DigitsDataModule(image_size=8, batch_size=32), healthy, 40)
    assert healthy.warned == {} and healthy.real_diversity > 0
    collapsed_model = _digits_gan()
    with torch.no_grad():  # G ignores z: every sample is the same image
        collapsed_model.generator.net[0].weight.zero_()
    collapsed = TrainingHealth(window=5, every_n_steps=10, num_samples=128)
    with pytest.warns(TrainingHealthWarning, match="mode collapse"):
        _fit(collapsed_model, DigitsDataModule(image_size=8, batch_size=32), collapsed, 20)
    assert "mode_collapse" in collapsed.warned


def test_monitor_counts_the_modes_of_a_2d_mixture():
    data = Toy2DDataModule(mixture="ring", num_samples=2000)
    data.setup()
    means = mixture_means("ring")
    one_mode = SimpleNamespace(sample=lambda n, seed=None: means[:1] + 0.01 * torch.randn(n, 2))
    all_modes = SimpleNamespace(sample=lambda n, seed=None: data.train_set.tensors[0][:n])
    trainer = SimpleNamespace(datamodule=data)
    quiet = TrainingHealth(num_samples=500)
    assert quiet.check_diversity(trainer, all_modes, 1)["health/modes"] == 8 and quiet.warned == {}
    loud = TrainingHealth(num_samples=500)
    with pytest.warns(TrainingHealthWarning):
        out = loud.check_diversity(trainer, one_mode, 1)
    assert out["health/modes"] == 1 and "modes_missing" in loud.warned and "mode_collapse" in loud.warned


def test_non_finite_loss_names_the_last_checkpoint():
    from lit_gans.errors import NonFiniteLossError

    monitor = TrainingHealth()
    error = NonFiniteLossError("the generator loss became nan at step 7; lower the learning rate")
    trainer = SimpleNamespace(checkpoint_callback=SimpleNamespace(last_model_path="runs/last.ckpt", best_model_path=""))
    with pytest.warns(TrainingHealthWarning, match="training stopped: the generator loss became nan at step 7"):
        monitor.on_exception(trainer, None, error)
    assert "runs/last.ckpt" in monitor.warned["non_finite"]
    monitor.on_exception(trainer, None, ValueError("something else"))  # not the monitor's business
    assert list(monitor.warned) == ["non_finite"]
