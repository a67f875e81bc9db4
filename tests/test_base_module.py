"""GANModule's training procedure: the alternation, the cadence, frozen players, EMA, logging, sampling, errors."""

import math

import pytest
import torch
from conftest import quick_trainer

from lit_gans.data import Toy2DDataModule
from lit_gans.models import MODELS, VanillaGAN
from lit_gans.errors import NonFiniteLossError


def toy_data(n=400, batch_size=20):
    return Toy2DDataModule(mixture="ring", num_samples=n, batch_size=batch_size)


class Recorder(VanillaGAN):
    """Records which player's parameters are trainable while each loss is computed."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = []

    def discriminator_loss(self, batch):
        self.calls.append(("d", _trainable(self.generator), _trainable(self.discriminator)))
        return super().discriminator_loss(batch)

    def generator_loss(self, batch):
        self.calls.append(("g", _trainable(self.generator), _trainable(self.discriminator)))
        return super().generator_loss(batch)


def _trainable(net):
    return any(p.requires_grad for p in net.parameters())


@pytest.mark.parametrize("n_critic,d_steps,g_steps", [(1, 6, 6), (3, 6, 2), (5, 12, 2)])
def test_n_critic_cadence(n_critic, d_steps, g_steps):
    model = Recorder(z_dim=2, g_hidden=(8,), d_hidden=(8,), n_critic=n_critic)
    quick_trainer(max_steps=d_steps + g_steps).fit(model, toy_data())
    assert int(model.d_steps) == d_steps and int(model.g_steps) == g_steps
    order = "".join(c[0] for c in model.calls)
    assert order == "".join("d" + ("g" if i % n_critic == 0 else "") for i in range(1, d_steps + 1))


def test_each_player_is_updated_with_the_other_frozen():
    model = Recorder(z_dim=2, g_hidden=(8,), d_hidden=(8,))
    quick_trainer(max_steps=4).fit(model, toy_data())
    assert model.calls[0] == ("d", False, True)  # D's loss: G frozen
    assert model.calls[1] == ("g", True, False)  # G's loss: D frozen


def test_global_step_counts_both_optimizers():
    model = VanillaGAN(z_dim=2, g_hidden=(8,), d_hidden=(8,))
    trainer = quick_trainer(max_steps=10)
    trainer.fit(model, toy_data())
    assert trainer.global_step == 10 and int(model.g_steps) == 5


def test_logs_losses_probabilities_and_grad_norms():
    model = VanillaGAN(z_dim=2, g_hidden=(8,), d_hidden=(8,))
    trainer = quick_trainer(max_steps=2, log_every_n_steps=1)
    trainer.fit(model, toy_data())
    m = trainer.callback_metrics
    for key in ("train/d_loss", "train/g_loss", "train/d_real", "train/d_fake", "train/d_grad_norm", "train/g_grad_norm"):
        assert key in m and math.isfinite(float(m[key]))
    assert 0.0 < float(m["train/d_real"]) < 1.0 and 0.0 < float(m["train/d_fake"]) < 1.0
    assert float(m["train/g_grad_norm"]) > 0.0


def test_default_optimizer_is_the_variants_paper_default():
    model = VanillaGAN(z_dim=2)
    (g_opt, d_opt), _ = model.configure_optimizers()
    assert isinstance(g_opt, torch.optim.Adam) and g_opt.defaults["lr"] == 2e-4 and g_opt.defaults["betas"] == (0.5, 0.999)


def test_injected_optimizer_factories_are_used():
    model = VanillaGAN(z_dim=2, g_optimizer=lambda p: torch.optim.SGD(p, lr=0.1), d_optimizer=lambda p: torch.optim.RMSprop(p, lr=5e-5))
    (g_opt, d_opt), _ = model.configure_optimizers()
    assert isinstance(g_opt, torch.optim.SGD) and isinstance(d_opt, torch.optim.RMSprop)
    assert {id(p) for p in g_opt.param_groups[0]["params"]} == {id(p) for p in model.generator.parameters()}


def test_schedulers_step_once_per_epoch():
    model = VanillaGAN(
        z_dim=2, g_hidden=(8,), d_hidden=(8,),
        g_scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=1, gamma=0.5),
        d_scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=1, gamma=0.1),
    )
    quick_trainer(max_steps=-1, max_epochs=2).fit(model, toy_data(n=40, batch_size=20))
    g_opt, d_opt = model.optimizers()
    assert abs(g_opt.param_groups[0]["lr"] - 2e-4 * 0.25) < 1e-12
    assert abs(d_opt.param_groups[0]["lr"] - 2e-4 * 0.01) < 1e-12


def test_ema_is_a_moving_average_of_the_generator():
    model = VanillaGAN(z_dim=2, g_hidden=(4,), d_hidden=(4,), ema_decay=0.9)
    model._make_ema()
    p, p_ema = next(model.generator.parameters()), next(model.generator_ema.parameters())
    with torch.no_grad():
        p_ema.fill_(1.0)
        p.fill_(3.0)
    model.update_ema()
    assert abs(float(p_ema.mean()) - (0.9 * 1.0 + 0.1 * 3.0)) < 1e-6
    assert not any(q.requires_grad for q in model.generator_ema.parameters())


def test_sample_uses_ema_and_survives_checkpoint_round_trip(tmp_path):
    model = VanillaGAN(z_dim=2, g_hidden=(8,), d_hidden=(8,), ema_decay=0.5)
    trainer = quick_trainer(max_steps=6, enable_checkpointing=True, default_root_dir=str(tmp_path))
    trainer.fit(model, toy_data())
    assert model.generator_ema is not None
    expected = model.generator_ema(model.sample_latent(4, torch.Generator().manual_seed(7)))
    assert torch.allclose(model.sample(4, seed=7), expected)
    ckpt = next(tmp_path.rglob("*.ckpt"))
    restored = VanillaGAN.load_from_checkpoint(ckpt, weights_only=True)
    assert restored.generator_ema is not None
    assert torch.allclose(restored.sample(4, seed=7), model.sample(4, seed=7))


def test_sample_is_repeatable_by_seed_and_keeps_the_training_mode():
    model = VanillaGAN(z_dim=3, g_hidden=(8,), d_hidden=(8,), g_batch_norm=True)
    model.train()
    a, b, c = model.sample(5, seed=1), model.sample(5, seed=1), model.sample(5, seed=2)
    assert torch.equal(a, b) and not torch.allclose(a, c)
    assert model.generator.training
    with pytest.raises(TypeError, match="unconditional"):
        model.sample(2, labels=3)


def test_non_finite_loss_stops_with_a_clear_error():
    class Broken(VanillaGAN):
        def discriminator_loss(self, batch):
            loss, logs = super().discriminator_loss(batch)
            return loss * float("nan"), logs

    model = Broken(z_dim=2, g_hidden=(8,), d_hidden=(8,))
    before = [p.clone() for p in model.discriminator.parameters()]
    with pytest.raises(NonFiniteLossError, match="discriminator loss became nan.*lower the learning rate"):
        quick_trainer(max_steps=2).fit(model, toy_data())
    assert all(torch.equal(a, b) for a, b in zip(before, model.discriminator.parameters()))


class LateNaN(VanillaGAN):
    """A discriminator loss that becomes NaN at its 6th update (batch 6, global step 10), a step that logs nothing."""

    def discriminator_loss(self, batch):
        loss, logs = super().discriminator_loss(batch)
        return (loss * float("nan") if self.d_steps == 5 else loss), logs


def test_non_finite_loss_between_logging_steps_is_caught_at_the_next_one():
    model = LateNaN(z_dim=2, g_hidden=(8,), d_hidden=(8,))
    with pytest.raises(NonFiniteLossError, match=r"discriminator loss became nan at step 10 \(noticed at step 18\)"):
        quick_trainer(max_steps=40, log_every_n_steps=10).fit(model, toy_data())  # batch 10 (step 18) logs


def test_no_checkpoint_holds_weights_a_non_finite_loss_reached(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    every_batch = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=1, save_top_k=-1)
    with pytest.raises(NonFiniteLossError, match="discriminator loss became nan at step 10"):
        quick_trainer(max_steps=40, enable_checkpointing=True, callbacks=[every_batch]).fit(
            LateNaN(z_dim=2, g_hidden=(8,), d_hidden=(8,)), toy_data())
    saved = {int(p.stem.split("step=")[1]): torch.load(p, weights_only=True) for p in tmp_path.glob("*.ckpt")}
    assert sorted(saved) == [2, 4, 6, 8, 10]  # batches 1-5; batch 6's update met the NaN: its checkpoint was refused
    assert all(torch.isfinite(v).all() for ckpt in saved.values() for v in ckpt["state_dict"].values())


@pytest.mark.parametrize("kwargs,match", [({"n_critic": 0}, "n_critic"), ({"ema_decay": 1.0}, "ema_decay"), ({"loss": "bce"}, "unknown loss")])
def test_bad_training_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VanillaGAN(z_dim=2, **kwargs)


#: every variant that samples images from z, tiny, on 8x8 grey images
IMAGE_VARIANTS = {
    "VanillaGAN": {"z_dim": 4, "g_hidden": (8,), "d_hidden": (8,)},
    "CGAN": {"num_classes": 10, "net": "dcgan", "z_dim": 4, "base_channels": 4},
    "DCGAN": {"z_dim": 4, "g_channels": 4, "d_channels": 4},
    "WGAN": {"net": "dcgan", "z_dim": 4, "g_channels": 4, "d_channels": 4},
    "WGANGP": {"net": "mlp", "z_dim": 4, "g_hidden": (8,), "d_hidden": (8,)},
    "ProGAN": {"z_dim": 8, "channels": {4: 8, 8: 8}},
    "StyleGAN2": {"z_dim": 8, "w_dim": 8, "mapping_layers": 1, "channel_base": 64, "channel_max": 8},
}


@pytest.mark.parametrize("name", list(IMAGE_VARIANTS))
def test_image_samples_stay_in_the_data_range_whatever_the_weights(name):
    """``sample`` promises images in [-1, 1], what the metric backbones and ``lit-gans sample`` take: with every
    generator weight 20 times larger, a tanh output saturates and a linear one (ProGAN, StyleGAN2) is clipped."""
    torch.manual_seed(0)
    model = MODELS[name](data_shape=(1, 8, 8), **IMAGE_VARIANTS[name])
    with torch.no_grad():
        for p in model.sampling_generator().parameters():
            p.mul_(20.0)
    samples = model.sample(64, seed=0)
    assert samples.shape == (64, 1, 8, 8) and torch.isfinite(samples).all()
    assert samples.min() >= -1.0 and samples.max() <= 1.0
