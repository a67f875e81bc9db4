"""Progressive GAN: equalised-LR scale, pixel norm and minibatch stddev by hand, fade-in at alpha 0 and 1, the
schedule, the real-image fade, exact resume mid fade-in, the digits config, and a small learning run."""

from __future__ import annotations

import math
from pathlib import Path

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import ModelCheckpoint

from lit_gans.checkpoints import load_model
from lit_gans.data.digits import DigitsDataModule, load_digits_tensors
from lit_gans.losses import drift_penalty
from lit_gans.models.progan import ProGAN, real_images_at, schedule_images, schedule_phase
from lit_gans.nets.blocks import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm
from lit_gans.nets.progan import ProGANDiscriminator, ProGANGenerator, paper_channels

CH = {4: 8, 8: 8, 16: 4}  # tiny channel table for the fast tests
ROOT = Path(__file__).resolve().parents[1]


def quiet_trainer(**kwargs) -> L.Trainer:
    defaults = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                    limit_val_batches=0, num_sanity_val_steps=0)
    return L.Trainer(**(defaults | kwargs))


# --- layers -----------------------------------------------------------------------------------------------------------
def test_equalized_layers_scale_weights_at_run_time_by_he_constant():
    torch.manual_seed(0)
    conv = EqualizedConv2d(6, 5, 3, padding=1)
    assert abs(conv.weight_scale - math.sqrt(2.0) / math.sqrt(6 * 3 * 3)) < 1e-12
    x = torch.randn(2, 6, 4, 4)
    expected = F.conv2d(x, conv.weight * math.sqrt(2.0 / 54), conv.bias, padding=1)
    assert (conv(x) - expected).abs().max() < 1e-6
    to_rgb = EqualizedConv2d(16, 3, 1, gain=1.0)  # linear toRGB: gain 1
    assert abs(to_rgb.weight_scale - 0.25) < 1e-12
    lin = EqualizedLinear(200, 300)
    assert abs(lin.weight_scale - math.sqrt(2.0 / 200)) < 1e-12
    assert abs(lin.weight.std().item() - 1.0) < 0.02  # stored weights ~ N(0, 1): the scale is applied at run time
    # so the output of a unit-variance input keeps variance ~2 (He) whatever the fan-in
    assert abs(lin(torch.randn(4000, 200)).var().item() - 2.0) < 0.15


def test_pixel_norm_matches_hand_computation():
    x = torch.tensor([3.0, 4.0, 0.0, -5.0]).view(1, 4, 1, 1)  # rms over channels = sqrt(50 / 4)
    rms = math.sqrt((9 + 16 + 0 + 25) / 4)
    out = PixelNorm()(x).flatten()
    for got, want in zip(out.tolist(), [3 / rms, 4 / rms, 0.0, -5 / rms]):
        assert abs(got - want) < 1e-6


def test_minibatch_stddev_matches_hand_computation_with_interleaved_groups():
    torch.manual_seed(0)
    x = torch.randn(8, 3, 2, 2)
    out = MinibatchStdDev(group_size=4)(x)
    assert out.shape == (8, 4, 2, 2)
    assert torch.equal(out[:, :3], x)
    # 8 samples, group 4: groups are {0, 2, 4, 6} and {1, 3, 5, 7}; std over the group (population), averaged over
    # every feature (C x H x W), broadcast as one extra channel
    for members in ([0, 2, 4, 6], [1, 3, 5, 7]):
        g = x[members]
        std = ((g - g.mean(0)).pow(2).mean(0) + 1e-8).sqrt().mean().item()
        for i in members:
            assert (out[i, 3] - std).abs().max() < 1e-6


# --- fade-in ----------------------------------------------------------------------------------------------------------
def test_generator_at_alpha_0_is_previous_resolution_upsampled():
    torch.manual_seed(0)
    g = ProGANGenerator(z_dim=8, out_channels=1, resolution=16, channels=CH)
    z = torch.randn(3, 8)
    previous = F.interpolate(g(z, resolution=8, alpha=1.0), scale_factor=2, mode="nearest")
    assert (g(z, resolution=16, alpha=0.0) - previous).abs().max() < 1e-6
    assert (g(z, resolution=16, alpha=0.5) - previous).abs().max() > 1e-3  # the new block does change the output


def test_generator_at_alpha_1_is_the_new_block_alone():
    torch.manual_seed(0)
    g = ProGANGenerator(z_dim=8, out_channels=1, resolution=16, channels=CH)
    z = torch.randn(3, 8)
    full, half = g(z, resolution=16, alpha=1.0), g(z, resolution=16, alpha=0.5)
    with torch.no_grad():
        g.to_rgb["8"].weight.add_(1.0)  # the previous toRGB: must not matter at alpha 1, must at alpha 0.5
    assert torch.equal(g(z, resolution=16, alpha=1.0), full)
    assert (g(z, resolution=16, alpha=0.5) - half).abs().max() > 1e-3


def test_discriminator_at_alpha_0_is_the_downsampled_path():
    torch.manual_seed(0)
    d = ProGANDiscriminator(in_channels=1, resolution=16, channels=CH)
    x = torch.randn(4, 1, 16, 16)
    assert (d(x, resolution=16, alpha=0.0) - d(F.avg_pool2d(x, 2), resolution=8, alpha=1.0)).abs().max() < 1e-5
    full = d(x, resolution=16, alpha=1.0)
    with torch.no_grad():
        d.from_rgb["8"].weight.add_(1.0)  # the downsampled path's fromRGB: irrelevant at alpha 1
    assert torch.equal(d(x, resolution=16, alpha=1.0), full)
    assert (d(x, resolution=16, alpha=0.0) - d(F.avg_pool2d(x, 2), resolution=8, alpha=1.0)).abs().max() < 1e-5


def test_real_images_fade_like_the_networks():
    x = torch.randn(2, 1, 16, 16)
    x8 = F.avg_pool2d(x, 2)
    assert torch.allclose(real_images_at(x, 8, 1.0), x8)
    x4_up = F.interpolate(F.avg_pool2d(x8, 2), scale_factor=2, mode="nearest")
    assert (real_images_at(x, 8, 0.0) - x4_up).abs().max() < 1e-6
    assert (real_images_at(x, 8, 0.25) - (0.75 * x4_up + 0.25 * x8)).abs().max() < 1e-6


def test_paper_channel_table():
    assert paper_channels(1024) == {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}


# --- schedule ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "images, expected",
    [(0, (4, 1.0)), (99, (4, 1.0)), (100, (8, 0.0)), (125, (8, 0.25)), (199, (8, 0.99)), (200, (8, 1.0)),
     (299, (8, 1.0)), (300, (16, 0.0)), (360, (16, 0.6)), (400, (16, 1.0)), (10**7, (16, 1.0))],
)
def test_schedule_turns_image_count_into_resolution_and_alpha(images, expected):
    r, alpha = schedule_phase(images, target=16, fade_images=100, stable_images=100)
    assert r == expected[0]
    assert abs(alpha - expected[1]) < 1e-9


def test_schedule_inverse_round_trips():
    for r, alpha in [(8, 0.0), (8, 0.3), (16, 0.5), (32, 0.75)]:
        n = schedule_images(r, alpha, fade_images=400, stable_images=600)
        got_r, got_alpha = schedule_phase(n, target=32, fade_images=400, stable_images=600)
        assert got_r == r and abs(got_alpha - alpha) < 1e-9


def test_batch_size_and_lr_tables_follow_the_resolution():
    model = ProGAN(data_shape=(1, 16, 16), z_dim=8, channels=CH, fade_kimg=0.016, stable_kimg=0.008,
                   batch_size={4: 8, 8: 4}, lr={8: 5e-4})
    seen = []

    class Record(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            seen.append(pl_module.phase)

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            lrs = {g["lr"] for opt in trainer.optimizers for g in opt.param_groups}
            seen[-1] = (seen[-1], lrs)

    torch.manual_seed(0)
    quiet_trainer(max_steps=2 * 3, callbacks=[Record()]).fit(model, DigitsDataModule(image_size=16, batch_size=8))
    assert [(p.resolution, p.batch_size) for p, _ in seen] == [(4, 8), (8, 4), (8, 4)]
    assert seen[0][1] == {1e-3} and seen[1][1] == {5e-4}  # paper default, then the table's value
    assert int(model.images_shown) == 8 + 4 + 4


def test_drift_penalty_and_critic_loss_terms():
    assert abs(drift_penalty(torch.tensor([1.0, -2.0, 3.0])).item() - 14.0 / 3) < 1e-6
    torch.manual_seed(0)
    model = ProGAN(data_shape=(1, 8, 8), z_dim=8, channels={4: 8, 8: 8})
    loss, logs = model.discriminator_loss(torch.randn(4, 1, 4, 4))  # at the start: 4x4
    expected = logs["d_fake"] - logs["d_real"] + 10.0 * logs["gp"] + 0.001 * logs["drift"]
    assert abs(loss.item() - expected.item()) < 1e-5


def test_bad_input_gets_clear_errors():
    with pytest.raises(ValueError, match="power-of-two"):
        ProGAN(data_shape=(1, 12, 12))
    with pytest.raises(ValueError, match="Wasserstein loss"):
        ProGAN(data_shape=(1, 16, 16), loss="hinge")
    with pytest.raises(ValueError, match="no entry for resolutions"):
        ProGAN(data_shape=(1, 16, 16), channels={4: 8, 8: 8})
    model = ProGAN(data_shape=(1, 8, 8), z_dim=8, channels={4: 8, 8: 8}, batch_size={4: 32})
    with pytest.raises(ValueError, match="data.batch_size >= 32"):
        quiet_trainer(max_steps=2).fit(model, DigitsDataModule(image_size=8, batch_size=16))


# --- resume -----------------------------------------------------------------------------------------------------------
def _fit_digits(epochs: int, root: Path, ckpt_path=None) -> ProGAN:
    """3 batches of 8 per epoch; 4x4 for 8 images, 8x8 faded in over 24 images, 8 stable, 16x16 faded in over 24."""
    L.seed_everything(0)
    model = ProGAN(data_shape=(1, 16, 16), z_dim=8, channels=CH, fade_kimg=0.024, stable_kimg=0.008)
    data = DigitsDataModule(image_size=16, batch_size=8, val_fraction=0.985)  # 27 training images
    trainer = quiet_trainer(max_epochs=epochs, enable_checkpointing=True, default_root_dir=root,
                            callbacks=[ModelCheckpoint(dirpath=root, save_last=True)])
    trainer.fit(model, data, ckpt_path=ckpt_path)
    return model


def test_progan_resume_mid_fade_in_is_bit_identical(tmp_path):
    straight = _fit_digits(2, tmp_path / "straight")
    first_half = _fit_digits(1, tmp_path / "half")
    assert schedule_phase(int(first_half.images_shown), 16, 24, 8) == (8, 16 / 24)  # stopped mid fade-in of 8x8
    resumed = _fit_digits(2, tmp_path / "resumed", ckpt_path=tmp_path / "half" / "last.ckpt")
    assert int(resumed.images_shown) == int(straight.images_shown) == 48
    assert resumed.phase.resolution == 16 and abs(resumed.phase.alpha - 8 / 24) < 1e-9  # grew after the resume
    for name, tensor in straight.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name
    # the checkpoint loads safely (weights_only) and samples at the phase it was saved in
    loaded = load_model(tmp_path / "half" / "last.ckpt")
    assert loaded.phase.resolution == 8 and abs(loaded.phase.alpha - 16 / 24) < 1e-9
    assert loaded.sample(2, seed=0).shape == (2, 1, 16, 16)


# --- configs and learning ---------------------------------------------------------------------------------------------
def test_digits_config_builds_and_trains_two_steps(tmp_path):
    from lit_gans.cli import main

    main(["fit", "-c", str(ROOT / "experiments/progan/digits.yaml"), "--trainer.max_steps", "4",
          "--trainer.default_root_dir", str(tmp_path), "--trainer.logger", "false",
          "--trainer.enable_progress_bar", "false", "--samples.every_n_steps", "0",
          "--model.init_args.stable_kimg", "0.016"])  # a schedule override from the command line
    ckpt = next(tmp_path.rglob("last.ckpt"))
    model = load_model(ckpt, ProGAN)
    assert int(model.images_shown) == 32 and model.hparams.channels == {4: 64, 8: 32, 16: 16}
    assert model.phase.resolution == 8 and abs(model.phase.alpha - 16 / 2000) < 1e-9


def pixel_mmd(a: torch.Tensor, b: torch.Tensor, bandwidth: float = 64.0) -> float:
    """Squared MMD with a Gaussian kernel exp(-||x - y||^2 / bandwidth) between two image sets, in pixel space."""
    xy = torch.cat([a.flatten(1), b.flatten(1)])
    k = torch.exp(-torch.cdist(xy, xy).pow(2) / bandwidth)
    n = len(a)
    return (k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()).item()


def test_tiny_progan_learns_digits():
    real = load_digits_tensors(8)[0][:400]
    L.seed_everything(0)
    # 4x4 for 320 images, 8x8 faded in over 320, then 8x8; a short EMA so that 100 steps show in the samples
    model = ProGAN(data_shape=(1, 8, 8), z_dim=32, channels={4: 32, 8: 16}, fade_kimg=0.32, stable_kimg=0.32,
                   ema_decay=0.9)
    before = pixel_mmd(model.sample(400, seed=1), real)
    quiet_trainer(max_steps=2 * 100).fit(model, DigitsDataModule(image_size=8, batch_size=16))
    after = pixel_mmd(model.sample(400, seed=1), real)
    assert model.phase == (8, 1.0, None, None)
    assert before > 0.3 and after < 0.5 * before, (before, after)


def test_samples_are_clipped_to_the_data_range_training_outputs_are_not():
    torch.manual_seed(0)
    model = ProGAN(data_shape=(1, 8, 8), z_dim=8, channels={4: 8, 8: 8}, fade_kimg=0.01, stable_kimg=0.01,
                   ema_decay=None)
    model.images_shown = 10**6  # 8x8, alpha 1
    with torch.no_grad():
        model.generator.to_rgb["8"].weight.mul_(20.0)  # a toRGB whose linear outputs overshoot [-1, 1]
    raw = model.fake_images(256)
    samples = model.sample(256, seed=0)
    assert raw.abs().max() > 1.5  # the generator itself is linear at the output, as in the paper
    assert samples.shape == (256, 1, 8, 8) and samples.min() >= -1.0 and samples.max() <= 1.0
    assert (samples.abs() == 1.0).float().mean() > 0.1  # clipped, not rescaled
