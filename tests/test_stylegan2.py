"""StyleGAN2 (lit_gans.nets.stylegan2, lit_gans.models.stylegan2): each piece against a computation done another way."""

from pathlib import Path

import lightning as L
import pytest
import torch
import torch.nn.functional as F

from lit_gans.augment import diff_augment
from lit_gans.checkpoints import load_model
from lit_gans.data import DigitsDataModule
from lit_gans.data.digits import load_digits_tensors
from lit_gans.losses import path_length_penalty
from lit_gans.models import MODELS
from lit_gans.models.phases import due_phases
from lit_gans.models.stylegan2 import (
    StyleGAN2,
    ema_beta,
    lazy_adam_adjustment,
    mix_styles,
)
from lit_gans.nets.stylegan2 import modulated_conv2d

TINY = dict(z_dim=16, w_dim=16, mapping_layers=2, channel_base=128, channel_max=16)


def tiny(shape=(1, 8, 8), **kw) -> StyleGAN2:
    return StyleGAN2(data_shape=shape, **{**TINY, **kw})


# --- modulated convolution -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_conv_matches_scale_conv_demodulate(demodulate):
    torch.manual_seed(0)
    x, weight, styles = torch.randn(3, 5, 7, 7), torch.randn(4, 5, 3, 3), torch.rand(3, 5) + 0.5
    got = modulated_conv2d(x, weight, styles, demodulate=demodulate)
    for n in range(3):  # independently: scale the input channels by s, plain conv, divide by the per-output norm
        y = F.conv2d(x[n : n + 1] * styles[n][None, :, None, None], weight, padding=1)[0]
        if demodulate:
            y = y / (weight * styles[n][None, :, None, None]).square().sum(dim=(1, 2, 3)).add(1e-8).sqrt()[:, None, None]
        assert (got[n] - y).abs().max() < 1e-5
    # and the other way round: changing one sample's style changes that sample's output only
    styles2 = styles.clone()
    styles2[1, 0] += 1.0
    got2 = modulated_conv2d(x, weight, styles2, demodulate=demodulate)
    assert (got2[1] - got[1]).abs().max() > 1e-3
    assert (got2[[0, 2]] - got[[0, 2]]).abs().max() < 1e-6


def test_demodulation_gives_unit_variance_for_unit_input():
    torch.manual_seed(0)
    weight = torch.randn(256, 256, 3, 3)
    styles = torch.randn(4, 256) * 3  # styles far from 1, so that modulation alone would not keep the scale
    y = modulated_conv2d(torch.randn(4, 256, 16, 16), weight, styles)[:, :, 1:-1, 1:-1]  # away from zero padding
    y_plain = modulated_conv2d(torch.randn(4, 256, 16, 16), weight / 48.0, styles, demodulate=False)  # 1/sqrt(fan-in)
    assert abs(y.std().item() - 1.0) < 0.05
    assert abs(y_plain.std().item() - 1.0) > 0.2  # without demodulation the styles change the scale


# --- lazy regularisation schedule, Adam adjustment, EMA -----------------------------------------------------------
def test_lazy_phases_fire_on_the_right_steps():
    model = tiny()
    runs = {name: [s for s in range(1, 65) if name in [p.name for p in due_phases(model.phases(), s)]]
            for name in ("Dmain", "Dreg", "Gmain", "Greg")}
    assert runs["Dreg"] == [16, 32, 48, 64]
    assert runs["Greg"] == list(range(4, 65, 4))
    assert runs["Dmain"] == runs["Gmain"] == list(range(1, 65))
    assert [p.name for p in tiny(r1_gamma=0.0, pl_weight=0.0).phases()] == ["Dmain", "Gmain"]


def test_adam_adjusted_by_k_over_k_plus_1():
    lr, betas = lazy_adam_adjustment(0.0025, (0.0, 0.99), 4)
    assert abs(lr - 0.0025 * 4 / 5) < 1e-12 and abs(betas[1] - 0.99**0.8) < 1e-12 and betas[0] == 0.0
    (g_opt, d_opt), _ = tiny().configure_optimizers()
    assert abs(d_opt.param_groups[0]["lr"] - 0.002 * 16 / 17) < 1e-12
    assert abs(d_opt.param_groups[0]["betas"][1] - 0.99 ** (16 / 17)) < 1e-12
    assert abs(g_opt.param_groups[0]["lr"] - 0.002 * 4 / 5) < 1e-12


def test_ema_half_life_in_images():
    beta = ema_beta(batch_size=64, ema_kimg=10.0)
    assert abs(beta ** (10_000 / 64) - 0.5) < 1e-9  # after ema_kimg thousand images, half the weight is left
    assert abs(ema_beta(64, 10.0, images_seen=640, ema_rampup=0.05) - 0.5 ** (64 / 32)) < 1e-12  # ramp-up: 32 images


def test_ema_weights_move_by_the_configured_amount():
    model = tiny(ema_kimg=0.5)
    model._make_ema()
    before = [p.clone() for p in model.generator_ema.parameters()]
    with torch.no_grad():
        for p in model.generator.parameters():
            p.add_(1.0)
    model.g_steps += 1
    model.update_ema(model.ema_decay_at(batch_size=50))
    beta = 0.5 ** (50 / 500)
    for b, p_ema, p in zip(before, model.generator_ema.parameters(), model.generator.parameters()):
        assert torch.allclose(p_ema, beta * b + (1 - beta) * p, atol=1e-6)


# --- path length, style mixing, truncation --------------------------------------------------------------------------
def test_path_length_penalty_by_hand():
    # G(w) = reshape(sum over layers of w A): J^T y = A y for every layer, so the length is ||A y||.
    n, layers, side = 4, 3, 4
    ws = torch.randn(n, layers, side * side, requires_grad=True)
    y = torch.randn(n, 1, side, side)
    for scale in (1.0, 3.0):  # an isometry and a 3x stretch
        fake = (ws.sum(1) * scale).view(n, 1, side, side)
        lengths = scale * y.flatten(1).norm(dim=1)
        pl_mean = torch.tensor(0.7)
        penalty, a = path_length_penalty(fake, ws, pl_mean, 0.01, y=y)
        a_expected = 0.7 + 0.01 * (lengths.mean() - 0.7)
        assert abs(a.item() - a_expected.item()) < 1e-6
        expected = (lengths - a_expected).square().mean().item()
        assert abs(penalty.item() - expected) < 1e-6 * expected
    # y of equal norms and a at that norm: an isometry has zero penalty
    y_equal = y / y.flatten(1).norm(dim=1)[:, None, None, None] * 2.0
    penalty, _ = path_length_penalty(ws.sum(1).view(n, 1, side, side), ws, torch.tensor(2.0), 0.01, y=y_equal)
    assert penalty.item() < 1e-10


def test_style_mixing_uses_both_latents():
    torch.manual_seed(0)
    g = tiny(shape=(1, 16, 16)).generator.eval()
    with torch.no_grad():
        for layer in g.synthesis.modules():  # the noise is off at init (strength 0); keep it so
            if hasattr(layer, "noise_strength"):
                layer.noise_strength.zero_()
        z1, z2, z3 = torch.randn(3, 2, 16)
        w1, w2, w3 = g.mapping(z1), g.mapping(z2), g.mapping(z3)
        base = g.synthesis(mix_styles(w1, w2, cutoff=3))
        change_second = g.synthesis(mix_styles(w1, w3, cutoff=3))
        change_first = g.synthesis(mix_styles(w3, w2, cutoff=3))
    assert (base - change_second).abs().max() > 1e-3 and (base - change_first).abs().max() > 1e-3
    mixed = mix_styles(w1, w2, 3)
    assert torch.equal(mixed[:, :3], w1[:, :3]) and torch.equal(mixed[:, 3:], w2[:, 3:])


def test_truncation_psi_zero_is_the_average_image_and_psi_one_is_none():
    torch.manual_seed(0)
    model = tiny(shape=(1, 16, 16), ema_kimg=0)
    with torch.no_grad():
        model.generator.mapping.w_avg.normal_()
    a = model.sample(5, seed=1, truncation=0.0)
    avg_image = model.generator.synthesis(model.generator.mapping.w_avg.expand(1, model.generator.num_ws, -1))
    avg_image = avg_image.clamp(-1, 1)  # as samples are
    assert (a - avg_image).abs().max() < 1e-5  # every z gives the image of w_avg (the noise is off at init)
    assert torch.allclose(model.sample(5, seed=1, truncation=1.0), model.sample(5, seed=1), atol=0)
    assert (model.sample(5, seed=1, truncation=0.5) - model.sample(5, seed=1)).abs().max() > 1e-3
    with pytest.raises(TypeError):
        model.sample(2, label=3)


# --- lazy regularisation: the penalties' scales ------------------------------------------------------------------
@pytest.mark.parametrize("gamma, interval", [(10.0, 16), (0.5, 4)])
def test_lazy_r1_is_gamma_over_two_times_the_interval(gamma, interval):
    """Dreg's loss is (gamma / 2) E||grad_x D(x)||^2 x r1_interval (section 3.1), the gradient taken here by hand."""
    torch.manual_seed(0)
    model = tiny(r1_gamma=gamma, r1_interval=interval)
    real = torch.randn(4, 1, 8, 8)
    loss, logs = model.d_reg_loss((real,))
    x = real.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model.discriminator(x).sum(), x)
    penalty = grad.square().sum(dim=(1, 2, 3)).mean().item()
    assert abs(logs["r1"].item() - penalty) < 1e-5 * penalty
    assert abs(loss.item() - gamma / 2 * interval * penalty) < 1e-5 * gamma * interval * penalty


@pytest.mark.parametrize("weight, interval", [(2.0, 4), (0.5, 8)])
def test_lazy_path_length_penalty_is_weight_times_the_interval(weight, interval):
    torch.manual_seed(0)
    model = tiny(pl_weight=weight, pl_interval=interval)
    loss, logs = model.g_reg_loss((torch.randn(8, 1, 8, 8),))
    expected = logs["pl_penalty"].item() * weight * interval
    assert logs["pl_penalty"].item() > 0 and abs(loss.item() - expected) < 1e-6 * expected


def test_both_players_see_augmented_real_and_fake_images(monkeypatch):
    """DiffAugment on every image D sees, in D's step (real and fake) and in G's step (fake): never one side only."""
    seen = []

    def recording_augment(x, policy, rng=None):
        seen.append(x.detach().clone())
        return diff_augment(x, policy, rng)

    monkeypatch.setattr("lit_gans.models.stylegan2.diff_augment", recording_augment)
    model = tiny(augment="cutout")
    real = torch.rand(4, 1, 8, 8)
    model.d_main_loss((real,))
    assert len(seen) == 2 and torch.equal(seen[0], real) and not torch.equal(seen[1], real)
    model.g_main_loss((real,))
    assert len(seen) == 3 and not torch.equal(seen[2], real)


# --- configuration errors ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, match", [({"n_critic": 2}, "n_critic"), ({"freeze_d": 9}, "freeze_d"),
                                       ({"style_mixing_prob": 2.0}, "style_mixing_prob"),
                                       ({"augment": "colour"}, "DiffAugment"),
                                       ({"mbstd_num_channels": -1}, "mbstd_num_channels"),
                                       ({"conv_clamp": 0.0}, "conv_clamp"),
                                       ({"g_architecture": "fancy"}, "g_architecture")])
def test_bad_arguments_say_what_to_fix(kw, match):
    with pytest.raises(ValueError, match=match):
        tiny(**kw)


# --- training: transfer, FreezeD, checkpoint, learning ------------------------------------------------------------


def fit(model, steps, batch_size=32, image_size=8, seed=0):
    L.seed_everything(seed, verbose=False)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=steps, limit_val_batches=0, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        accelerator="cpu", num_sanity_val_steps=0)
    trainer.fit(model, DigitsDataModule(image_size=image_size, batch_size=batch_size))
    return trainer


def test_init_from_and_freeze_d(tmp_path: Path):
    torch.manual_seed(0)
    source = tiny(ema_kimg=1.0)
    trainer = fit(source, steps=4)
    ckpt = tmp_path / "source.ckpt"
    trainer.save_checkpoint(ckpt)
    assert "pl_mean" in torch.load(ckpt, weights_only=True)["state_dict"] and source.pl_mean.item() > 0
    assert load_model(ckpt).pl_mean.item() == source.pl_mean.item()

    # a wider mapping input (z_dim 8) cannot take the first mapping layer; everything else matches
    target = tiny(z_dim=8, init_from=str(ckpt), freeze_d=1)
    report = target.load_transfer(str(ckpt))
    src = source.state_dict()
    assert torch.equal(target.discriminator.b8.conv0.weight, source.discriminator.b8.conv0.weight)
    assert torch.equal(target.state_dict()["generator.synthesis.b4.const"], src["generator.synthesis.b4.const"])
    assert "generator.mapping.fc0.weight" in report and "loaded" in report
    own_d = [k for k in target.state_dict() if k.startswith("discriminator.")]
    assert all(torch.equal(target.state_dict()[k], src[k]) for k in own_d)

    frozen = {k: v.clone() for k, v in target.discriminator.state_dict().items() if k.startswith("b8.")}
    free = {k: v.clone() for k, v in target.discriminator.state_dict().items() if k.startswith("b4.out")}
    fit(target, steps=2)
    assert all(torch.equal(target.discriminator.state_dict()[k], v) for k, v in frozen.items())
    assert all(not torch.equal(target.discriminator.state_dict()[k], v) for k, v in free.items())
    # init_from ran at fit start: D still equals the source in its frozen layers, not a fresh init
    assert torch.equal(target.discriminator.b8.fromrgb.weight, source.discriminator.b8.fromrgb.weight)


def test_registered_and_configs_build():
    from lit_gans.cli import GANCLI
    from lit_gans.data import GANDataModule
    from lit_gans.models import GANModule

    assert MODELS["StyleGAN2"] is StyleGAN2
    cli = GANCLI(GANModule, GANDataModule, subclass_mode_model=True, subclass_mode_data=True, run=False,
                 args=["-c", "experiments/stylegan2/digits.yaml", "--trainer.logger", "false"],
                 auto_configure_optimizers=False)
    assert isinstance(cli.model, StyleGAN2) and cli.model.augment_policy == ("color", "translation", "cutout")
    h = cli.model.hparams  # the official small-image (cifar) preset's choices
    assert (h.pl_weight, h.style_mixing_prob, h.d_architecture, h.mapping_layers) == (0.0, 0.0, "orig", 2)


def mmd(x, y, sigma=4.0):
    """Gaussian-kernel squared MMD between two flat sample sets."""
    k = lambda a, b: torch.exp(-torch.cdist(a, b).square() / (2 * sigma**2)).mean()
    return (k(x, x) + k(y, y) - 2 * k(x, y)).item()


def test_tiny_stylegan2_learns_digits():
    torch.manual_seed(0)
    model = tiny(channel_base=256, channel_max=32, ema_kimg=0.5, r1_gamma=0.1,
                 g_optimizer=lambda p: torch.optim.Adam(p, lr=0.0025, betas=(0.0, 0.99)),
                 d_optimizer=lambda p: torch.optim.Adam(p, lr=0.0025, betas=(0.0, 0.99)))
    real = load_digits_tensors(8)[0][:500].flatten(1)
    before = mmd(model.generator(torch.randn(500, 16)).detach().flatten(1), real)
    fit(model, steps=100)
    after = mmd(model.sample(500, seed=0).flatten(1), real)
    # measured: 0.504 -> 0.135; without zero_grad 0.504 -> 0.234, which this bar must reject
    assert after < 0.35 * before, (before, after)


def test_samples_are_clipped_to_the_data_range_training_outputs_are_not():
    """toRGB is linear: raw outputs overshoot [-1, 1]. What users get (sample, and so the Evaluation callback's
    backbone input and ``lit-gans sample``; the exported graph) is clipped, as ProGAN's samples are; the training
    path (generate, synthesis) is not."""
    from lit_gans.compress.graph import GeneratorGraph

    torch.manual_seed(0)
    model = MODELS["StyleGAN2"](data_shape=(1, 8, 8), z_dim=8, w_dim=8, mapping_layers=1, channel_base=64,
                                channel_max=8)
    z = model.sample_latent(256, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        raw = model.generate(model.sampling_generator().eval(), z, noise_mode="const")
    assert raw.abs().max() > 1.5  # the generator itself is linear at the output, as in the official code
    samples = model.sample(256, seed=0)
    assert samples.shape == (256, 1, 8, 8) and samples.min() >= -1.0 and samples.max() <= 1.0
    assert (samples.abs() == 1.0).float().mean() > 0.05  # clipped, not rescaled
    graph = GeneratorGraph(model)(z)
    assert torch.equal(graph, raw.clamp(-1, 1))  # the exported generator gives what sample gives
