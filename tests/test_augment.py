"""DiffAugment (lit_gans.augment): identity when off, differentiable, the same family for real and fake."""

import pytest
import torch

from lit_gans.augment import cutout, diff_augment, parse_policy, translation


def test_no_policy_is_identity():
    x = torch.randn(4, 3, 8, 8)
    for off in (None, "", []):
        assert torch.equal(diff_augment(x, off), x)


def test_policy_parsing_and_bad_names():
    assert parse_policy("color, translation,cutout") == ("color", "translation", "cutout")
    assert parse_policy(["cutout"]) == ("cutout",)
    with pytest.raises(ValueError, match="unknown DiffAugment policy"):
        parse_policy("color,flip")


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_differentiable(policy):
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    y = diff_augment(x, policy, torch.Generator().manual_seed(0))
    (grad,) = torch.autograd.grad(y.square().sum(), x)
    assert grad.abs().sum() > 0
    assert not torch.equal(y.detach(), x.detach())  # the op did something


def test_same_seed_same_transform_for_real_and_fake():
    # translation and cutout are linear in x for fixed parameters: T(a) - T(b) = T(a - b) when all use one draw
    real, fake = torch.randn(6, 1, 8, 8), torch.randn(6, 1, 8, 8)
    t = lambda x: diff_augment(x, "translation,cutout", torch.Generator().manual_seed(3))
    assert torch.allclose(t(real) - t(fake), t(real - fake))
    assert not torch.allclose(t(real), diff_augment(real, "translation,cutout", torch.Generator().manual_seed(4)))


def test_stylegan2_discriminator_sees_augmented_real_and_fake():
    from lit_gans.models.stylegan2 import StyleGAN2

    model = StyleGAN2(data_shape=(1, 8, 8), z_dim=8, w_dim=8, channel_base=64, channel_max=8, augment="cutout")
    real, fake = torch.randn(4, 1, 8, 8), model.generator(torch.randn(4, 8)).detach()
    for x in (real, fake):
        torch.manual_seed(0)
        augmented = model.discriminate(x)
        torch.manual_seed(0)
        assert torch.allclose(augmented, model.discriminator(cutout(x)).flatten())
        assert not torch.allclose(augmented, model.discriminator(x).flatten())


def test_translation_shifts_by_at_most_one_eighth():
    x = torch.zeros(64, 1, 16, 16)
    x[:, :, 8, 8] = 1.0
    y = translation(x, torch.Generator().manual_seed(0))
    pos = y.flatten(1).argmax(1)
    rows, cols = pos // 16, pos % 16
    assert int((rows - 8).abs().max()) == 2 and int((cols - 8).abs().max()) == 2  # 16 / 8 = 2 pixels
    assert torch.allclose(y.sum((1, 2, 3)), torch.ones(64))  # a shift, not a blur


def test_cutout_zeroes_a_half_size_square():
    x = torch.ones(32, 1, 8, 8)
    y = cutout(x, torch.Generator().manual_seed(0))
    zeros = (y == 0).flatten(1).sum(1)
    assert int(zeros.max()) == 16  # a 4x4 square when fully inside
    assert int(zeros.min()) >= 4  # clipped at the border, never empty


def test_color_ops_draw_their_factors_from_the_papers_ranges():
    """brightness + U(-0.5, 0.5), saturation x U(0, 2), contrast x U(0.5, 1.5): the extremes of 2,000 draws."""
    from lit_gans.augment import brightness, contrast, saturation

    rng = torch.Generator().manual_seed(0)
    x = torch.zeros(2000, 3, 2, 2)
    shift = brightness(x, rng)[:, 0, 0, 0]
    assert abs(shift.min().item() + 0.5) < 0.01 and abs(shift.max().item() - 0.5) < 0.01
    x = torch.zeros(2000, 3, 2, 2)
    x[:, 0] = 1.0  # per-pixel channel mean 1/3: channel 0 lies 2/3 above it
    sat = (saturation(x, rng)[:, 0, 0, 0] - 1 / 3) / (2 / 3)
    assert abs(sat.min().item()) < 0.01 and abs(sat.max().item() - 2.0) < 0.01
    x = torch.zeros(2000, 1, 2, 2)
    x[:, 0, 0, 0] = 1.0  # per-image mean 1/4
    con = (contrast(x, rng)[:, 0, 0, 0] - 0.25) / 0.75
    assert abs(con.min().item() - 0.5) < 0.01 and abs(con.max().item() - 1.5) < 0.01
