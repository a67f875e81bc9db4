"""WGAN and WGAN-GP: weight clipping, the critic schedule, the critic's Wasserstein estimate, a learning test on the
ring, checkpoints, and the shipped configs."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lit_gans.checkpoints import load_model
from lit_gans.data.toy import Toy2DDataModule
from lit_gans.metrics.modes import mode_statistics
from lit_gans.models import MODELS, WGAN, WGANGP
from lit_gans.models.wgan import PAPER_CRITIC_SCHEDULE, CriticSchedule

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def _fit(model: L.LightningModule, loader: DataLoader, batches: int) -> L.Trainer:
    trainer = L.Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=batches, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, loader)
    return trainer


def _points(n: int = 64) -> DataLoader:
    return DataLoader(TensorDataset(torch.randn(n, 2)), batch_size=8)


def _tiny_wgan(**kwargs) -> WGAN:
    return WGAN(data_shape=(2,), z_dim=2, g_hidden=(16,), d_hidden=(16, 16), **kwargs)


# --- weight clipping ------------------------------------------------------------------------------------------------
def _largest_weight(net: nn.Module) -> float:
    return max(p.abs().max().item() for p in net.parameters())


def test_clipping_comes_before_every_critic_update_as_in_the_reference_code():
    """The reference code clamps at the start of each critic iteration: every critic loss, the first one included,
    is computed on weights in [-c, c]. Clipping after the update (the former order) computes the first loss on the
    initial weights, far outside the box."""
    torch.manual_seed(0)
    model = _tiny_wgan(n_critic=2, d_optimizer=lambda p: torch.optim.RMSprop(p, lr=1e-2))
    assert _largest_weight(model.discriminator) > 0.1  # default init: far outside
    seen = {"d": [], "g": []}
    for name in seen:
        loss_fn = getattr(model, f"{'discriminator' if name == 'd' else 'generator'}_loss")
        setattr(model, loss_fn.__name__, lambda batch, f=loss_fn, n=name: seen[n].append(
            _largest_weight(model.discriminator)) or f(batch))
    _fit(model, _points(), batches=3)
    assert len(seen["d"]) == 3 and all(abs(w - 0.01) < 1e-7 for w in seen["d"])  # in the box, the bound reached
    # the generator meets the critic as its last RMSProp step left it: just outside the box, as in the reference code
    assert len(seen["g"]) == 1 and 0.01 < seen["g"][0] < 0.2


def test_without_binding_clip_the_weights_stay_large():
    torch.manual_seed(0)
    model = _tiny_wgan(clip_value=10.0)
    _fit(model, _points(), batches=3)
    assert max(p.abs().max().item() for p in model.discriminator.parameters()) > 0.1


# --- the critic schedule as data ------------------------------------------------------------------------------------
def test_paper_schedule_spends_100_critic_steps_early_and_every_500():
    s = CriticSchedule(5, PAPER_CRITIC_SCHEDULE)
    assert [s.n_critic_at(k) for k in (0, 24, 25, 26, 499, 500, 501, 1000)] == [100, 100, 5, 5, 5, 100, 5, 100]
    assert s.critic_steps_through(0) == 100 and s.critic_steps_through(24) == 2500
    assert s.critic_steps_through(499) == 2500 + 475 * 5 and s.critic_steps_through(500) == 2500 + 475 * 5 + 100
    assert CriticSchedule(5).critic_steps_through(9) == 50  # no rules: every 5th critic step
    with pytest.raises(ValueError, match="bad critic_schedule rule"):
        CriticSchedule(5, [{"after": 3, "n_critic": 10}])


def test_training_follows_the_schedule_and_survives_a_checkpoint(tmp_path):
    # rules: 3 critic steps before each of the first 2 generator steps, then 2: G after critic steps 3, 6, 8, 10
    model = _tiny_wgan(n_critic=2, critic_schedule=[{"until": 2, "n_critic": 3}])
    trainer = _fit(model, _points(80), batches=10)
    assert (int(model.d_steps), int(model.g_steps)) == (10, 4)
    trainer.save_checkpoint(tmp_path / "wgan.ckpt")
    restored = load_model(tmp_path / "wgan.ckpt", expected=WGAN)
    assert restored.hparams.critic_schedule == [{"until": 2, "n_critic": 3}]
    assert (int(restored.d_steps), int(restored.g_steps)) == (10, 4)
    assert torch.equal(restored.sample(5, seed=1), model.sample(5, seed=1))


def test_constant_n_critic_matches_the_base_cadence():
    model = _tiny_wgan(n_critic=3)
    _fit(model, _points(), batches=8)
    assert (int(model.d_steps), int(model.g_steps)) == (8, 2)


# --- the critic estimates W1 ----------------------------------------------------------------------------------------
class _Shift(nn.Module):
    """A fixed 'generator' G(z) = z + (mu, 0): with z, x ~ N(0, I), W1(P_r, P_g) = mu exactly."""

    def __init__(self, mu: float) -> None:
        super().__init__()
        self.register_buffer("offset", torch.tensor([mu, 0.0]))
        self.dummy = nn.Parameter(torch.zeros(()))  # the base module's generator optimizer needs a parameter

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + self.offset


def _critic_estimate(mu: float, steps: int = 100) -> float:
    torch.manual_seed(0)
    model = WGANGP(data_shape=(2,), z_dim=2, g_hidden=(4,), d_hidden=(32, 32))
    model.generator = _Shift(mu)
    opt = torch.optim.Adam(model.discriminator.parameters(), lr=5e-3, betas=(0.5, 0.9))
    for _ in range(steps):  # critic steps only: the generator is fixed
        loss, _ = model.discriminator_loss((torch.randn(128, 2),))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        real, fake = torch.randn(4096, 2), model.generator(torch.randn(4096, 2))
        return (model.discriminate(real).mean() - model.discriminate(fake).mean()).item()


def test_critic_estimates_a_wasserstein_distance_that_shrinks_with_the_generator():
    far, near = _critic_estimate(2.0), _critic_estimate(0.5)
    assert abs(far - 2.0) < 0.3, far
    assert abs(near - 0.5) < 0.15, near


# --- WGAN-GP learns the ring ----------------------------------------------------------------------------------------
def _modes(model, data: Toy2DDataModule):
    """Modes holding at least 5 of 500 samples within 0.2 of their centre (adjacent modes are 0.77 apart)."""
    return mode_statistics(model.sample(500, seed=0), data.means, data.std, threshold=0.2 / data.std, min_count=5)


def test_wgan_gp_learns_the_ring():
    """Mode counts, not only distances: a generator collapsed onto one mode would be close to a mode too."""
    L.seed_everything(0, verbose=False)
    data = Toy2DDataModule("ring", num_samples=64 * 500, batch_size=64)
    model = WGANGP(data_shape=(2,), z_dim=2, g_hidden=(64, 64), d_hidden=(64, 64), gp_lambda=1.0,
                   g_optimizer=lambda p: torch.optim.Adam(p, lr=2e-3, betas=(0.5, 0.9)),
                   d_optimizer=lambda p: torch.optim.Adam(p, lr=2e-3, betas=(0.5, 0.9)))
    before = _modes(model, data)
    _fit(model, data.train_dataloader(), batches=100 * 5)  # 100 generator steps
    after = _modes(model, data)
    assert int(model.g_steps) == 100
    assert before.modes <= 2, before
    # measured: all 8 modes, 15-36 samples each (41% of all within 0.2), reverse KL 0.04
    assert after.modes == 8 and after.high_quality > 25.0 and after.reverse_kl < 0.2, after


# --- networks, errors, registry, configs ----------------------------------------------------------------------------
def test_networks_for_points_and_images_of_any_channel_count():
    for shape in [(2,), (1, 8, 8), (3, 16, 16), (5, 8, 8)]:
        for cls in (WGAN, WGANGP):
            m = cls(data_shape=shape, z_dim=4, g_hidden=(8,), d_hidden=(8,), g_channels=4, d_channels=4)
            x = m.sample(4, seed=0)
            assert x.shape == (4, *shape)
            loss, logs = m.discriminator_loss((x,))
            assert torch.isfinite(loss) and "w_distance" in logs
    flat = WGANGP(data_shape=(1, 8, 8), net="mlp", z_dim=4, g_hidden=(8,), d_hidden=(8,))
    assert flat.sample(2, seed=0).abs().max() <= 1.0  # tanh output for images


def test_wgan_gp_refuses_batch_norm_and_models_are_registered():
    with pytest.raises(ValueError, match="set d_norm to 'layer' or 'none'"):
        WGANGP(data_shape=(1, 8, 8), d_norm="batch")
    assert MODELS["WGAN"] is WGAN and MODELS["WGANGP"] is WGANGP
    assert isinstance(WGAN(data_shape=(2,)).configure_optimizers()[0][1], torch.optim.RMSprop)
    g_opt, d_opt = WGANGP(data_shape=(2,)).configure_optimizers()[0]
    assert d_opt.defaults["lr"] == 1e-4 and d_opt.defaults["betas"] == (0.0, 0.9)


@pytest.mark.parametrize("config", [f"{v}/{d}.yaml" for v in ("wgan", "wgan_gp") for d in ("ring", "grid", "digits")])
def test_config_builds_a_model_that_takes_its_data(config, monkeypatch):
    monkeypatch.setattr("sys.argv", ["lit-gans"])  # LightningCLI warns when pytest's own arguments are present
    from lit_gans.cli import GANCLI
    from lit_gans.data import GANDataModule
    from lit_gans.models import GANModule

    cli = GANCLI(GANModule, GANDataModule, subclass_mode_model=True, subclass_mode_data=True, run=False,
                 args=["-c", str(EXPERIMENTS / config), "--trainer.logger=false"], auto_configure_optimizers=False)
    model, data = cli.model, cli.datamodule
    assert type(model).__name__ == ("WGAN" if config.startswith("wgan/") else "WGANGP")
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    loss, _ = model.discriminator_loss(batch)
    assert torch.isfinite(loss)
    assert model.hparams.n_critic == 5
