"""The loss family's options: gradient penalty against hand computations, spectral normalisation, PacGAN packing,
and the hinge / least-squares losses wired into the models."""

from __future__ import annotations

import pytest
import torch
from conftest import quick_trainer
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lit_gans.losses import d_hinge_loss, d_least_squares_loss, gradient_penalty
from lit_gans.models import DCGAN, WGANGP, VanillaGAN
from lit_gans.nets.dcgan import DCGANDiscriminator
from lit_gans.nets.mlp import Maxout, MLPDiscriminator
from lit_gans.nets.wrappers import Packed, build_discriminator, packed_shape


# --- gradient penalty -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("w, expected", [((3.0, 4.0), 16.0), ((0.6, 0.8), 0.0), ((0.0, 0.5), 0.25)])
def test_gradient_penalty_of_a_linear_critic_is_its_weight_norm(w, expected):
    # C(x) = w.x + b has gradient w at every x_hat, so the penalty is (||w|| - 1)^2 whatever the interpolation
    critic = nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([w]))
    torch.manual_seed(0)
    gp = gradient_penalty(critic, torch.randn(64, 2), torch.randn(64, 2))
    assert abs(gp.item() - expected) < 1e-5


def test_gradient_penalty_on_images_of_any_channel_count():
    # a linear critic on (N, 5, 4, 4) images with ||w|| = 2: penalty (2 - 1)^2 = 1
    w = torch.full((5 * 4 * 4,), 2.0 / (5 * 4 * 4) ** 0.5)
    critic = lambda x: x.flatten(1) @ w  # noqa: E731
    gp = gradient_penalty(critic, torch.randn(8, 5, 4, 4), torch.randn(8, 5, 4, 4))
    assert abs(gp.item() - 1.0) < 1e-5


def test_gradient_penalty_of_a_quadratic_critic_by_hand():
    # C(x) = ||x||^2 / 2 has gradient x; with real = fake every interpolate is x itself
    x = torch.tensor([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]])
    critic = lambda t: 0.5 * (t**2).sum(1)  # noqa: E731
    expected = ((5.0 - 1.0) ** 2 + (0.0 - 1.0) ** 2 + 0.0) / 3
    assert abs(gradient_penalty(critic, x, x).item() - expected) < 1e-5


def test_gradient_penalty_flows_into_the_critic():
    critic = nn.Linear(2, 1)
    gp = gradient_penalty(critic, torch.randn(16, 2), torch.randn(16, 2))
    gp.backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    w = critic.weight.detach()
    expected = 2 * (w.norm() - 1) * w / w.norm()
    assert torch.allclose(critic.weight.grad, expected, atol=1e-5)


# --- spectral normalisation -----------------------------------------------------------------------------------------
def _largest_singular_values(net: nn.Module) -> list[float]:
    layers = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    return [torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2).item() for m in layers]


@pytest.mark.parametrize("make, shape", [
    (lambda s: MLPDiscriminator(s, (64, 64)), (2,)),
    (lambda s: DCGANDiscriminator(s, 8, norm="none"), (3, 16, 16)),
])
def test_spectral_norm_bounds_the_largest_singular_value(make, shape):
    torch.manual_seed(0)
    plain = make(shape)
    with torch.no_grad():  # make every layer far from 1-Lipschitz
        for p in plain.parameters():
            p.mul_(30.0)
    assert min(_largest_singular_values(plain)) > 1.5
    normed = build_discriminator(lambda s: plain, shape, spectral_norm=True)
    for _ in range(30):  # one power iteration per training-mode forward pass
        normed(torch.randn(4, *shape))
    sigmas = _largest_singular_values(normed)
    assert len(sigmas) >= 3
    assert all(abs(s - 1.0) < 0.05 for s in sigmas), sigmas


# --- packing --------------------------------------------------------------------------------------------------------
def test_packed_shape_and_reshape_put_consecutive_samples_side_by_side():
    assert packed_shape((3, 32, 32), 4) == (12, 32, 32) and packed_shape((2,), 2) == (4,)
    x = torch.arange(12.0).view(6, 2)  # 6 points
    out = Packed(nn.Identity(), 3)(x)
    assert out.shape == (2, 6)
    assert torch.equal(out[0], torch.cat([x[0], x[1], x[2]])) and torch.equal(out[1], x[3:].flatten())


@pytest.mark.parametrize("model", [
    lambda: VanillaGAN(data_shape=(2,), z_dim=2, g_hidden=(8,), d_hidden=(8,), pack=4),
    lambda: DCGAN(data_shape=(3, 16, 16), z_dim=4, g_channels=4, d_channels=4, pack=2),
    lambda: WGANGP(data_shape=(1, 8, 8), z_dim=4, g_channels=4, d_channels=4, pack=2),
])
def test_packed_models_judge_groups_and_train(model):
    m = model()
    pack = m.hparams.pack
    real = torch.randn(8, *m.hparams.data_shape)
    assert m.discriminate(real).shape == (8 // pack,)
    first = next(p for p in m.discriminator.parameters() if p.dim() > 1)
    assert first.shape[1] == pack * m.hparams.data_shape[0]  # the input layer sees pack samples
    loss, _ = m.discriminator_loss((real,))
    assert torch.isfinite(loss)
    # and it trains: 5 batches of 8 update both players (WGAN-GP: n_critic 5, so G once, after the 5th critic step)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    data = DataLoader(TensorDataset(torch.randn(40, *m.hparams.data_shape)), batch_size=8)
    quick_trainer(max_steps=-1, max_epochs=1).fit(m, data)
    assert int(m.d_steps) == 5 and int(m.g_steps) == (1 if isinstance(m, WGANGP) else 5)
    for net in ("generator.", "discriminator."):
        weights = [k for k, v in m.state_dict().items() if k.startswith(net) and v.is_floating_point()]
        assert weights and all(not torch.equal(m.state_dict()[k], before[k]) for k in weights if "weight" in k), net


def test_packing_rejects_a_batch_it_cannot_split():
    m = VanillaGAN(data_shape=(2,), z_dim=2, g_hidden=(8,), d_hidden=(8,), pack=4)
    with pytest.raises(ValueError, match="multiple of 4"):
        m.discriminate(torch.randn(6, 2))
    with pytest.raises(ValueError, match="pack must be >= 1"):
        VanillaGAN(data_shape=(2,), pack=0)


def test_maxout_takes_the_largest_of_each_group_of_pieces():
    h = torch.tensor([[1.0, 3.0, 2.0, -4.0, -1.0, -7.0]])
    assert torch.equal(Maxout(3)(h), torch.tensor([[3.0, -1.0]]))
    assert torch.equal(Maxout(2)(h), torch.tensor([[3.0, 2.0, -1.0]]))  # other grouping, other answer
    with pytest.raises(ValueError, match="at least 2 pieces"):
        Maxout(1)


def test_pacgan_discriminator_has_maxout_units_and_the_papers_initialisation():
    """PacGAN section 5.1: D of 3 x 200 maxout units of 5 pieces; weights N(0, 0.02^2), biases 0 (its config.py)."""
    torch.manual_seed(0)
    m = VanillaGAN(data_shape=(2,), z_dim=2, g_hidden=(400,) * 4, d_hidden=(200,) * 3, g_batch_norm=True, pack=4,
                   d_maxout_pieces=5, init_std=0.02)
    linears = [mod for mod in m.discriminator.modules() if isinstance(mod, nn.Linear)]
    assert [tuple(lin.weight.shape) for lin in linears] == [(1000, 8), (1000, 200), (1000, 200), (1, 200)]
    assert sum(isinstance(mod, Maxout) and mod.pieces == 5 for mod in m.discriminator.modules()) == 3
    for lin in linears + [mod for mod in m.generator.modules() if isinstance(mod, nn.Linear)]:
        assert abs(float(lin.weight.std()) - 0.02) < 0.004 and float(lin.bias.abs().max()) == 0.0
    assert m.discriminate(torch.randn(8, 2)).shape == (2,)
    default = VanillaGAN(data_shape=(2,), z_dim=2, d_hidden=(200,))  # PyTorch's init: U(-1/sqrt(fan_in), ...)
    assert abs(float(default.discriminator.net[0].weight.std()) - 0.02) > 0.1
    assert not any(isinstance(mod, Maxout) for mod in default.discriminator.modules())


# --- hinge and least squares on the standard models -----------------------------------------------------------------
@pytest.mark.parametrize("loss, d_loss", [("hinge", d_hinge_loss), ("least_squares", d_least_squares_loss)])
def test_loss_option_reaches_the_discriminator_loss(loss, d_loss):
    torch.manual_seed(0)
    for m in (VanillaGAN(data_shape=(2,), z_dim=2, g_hidden=(8,), d_hidden=(8,), loss=loss),
              DCGAN(data_shape=(1, 8, 8), z_dim=4, g_channels=4, d_channels=4, loss=loss, spectral_norm=True)):
        real = torch.randn(6, *m.hparams.data_shape)
        torch.manual_seed(1)
        got, _ = m.discriminator_loss((real,))
        torch.manual_seed(1)
        fake = m.generate(m.generator, m.sample_latent(6))
        expected = d_loss(m.discriminate(real), m.discriminate(fake))
        assert abs(got.item() - expected.item()) < 1e-5
    # hand values: hinge D(x)=2, D(G(z))=-2 costs 0, both at 0 cost 2; least squares at (1, 0) costs 0
    assert abs(d_hinge_loss(torch.tensor([2.0]), torch.tensor([-2.0])).item()) < 1e-7
    assert abs(d_hinge_loss(torch.zeros(1), torch.zeros(1)).item() - 2.0) < 1e-7
    assert abs(d_least_squares_loss(torch.ones(1), torch.zeros(1)).item()) < 1e-7


def test_dcgan_keeps_batch_norm_by_default_and_takes_layer_norm():
    default = DCGAN(data_shape=(1, 16, 16), g_channels=4, d_channels=4)
    layer = DCGAN(data_shape=(1, 16, 16), g_channels=4, d_channels=4, d_norm="layer")
    assert any(isinstance(m, nn.BatchNorm2d) for m in default.discriminator.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in layer.discriminator.modules())
    assert any(isinstance(m, nn.GroupNorm) and m.num_groups == 1 for m in layer.discriminator.modules())
    with pytest.raises(ValueError, match="choose 'batch', 'layer' or 'none'"):
        DCGANDiscriminator((1, 16, 16), 4, norm="instance")


def test_dcgan_uniform_latent_is_the_papers_u_minus_one_one():
    z = DCGAN(data_shape=(1, 8, 8), z_dim=50, g_channels=4, d_channels=4, z_dist="uniform").sample_latent(
        400, torch.Generator().manual_seed(0))
    assert abs(z.min().item() + 1.0) < 0.01 and abs(z.max().item() - 1.0) < 0.01 and abs(z.mean().item()) < 0.02
