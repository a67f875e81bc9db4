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


def test_same_family_same_draw_for_real_and_fake():
    # Two batches augmented with the same seed get the same per-sample parameters: the same T for real and fake.
    real, fake = torch.randn(6, 1, 8, 8), torch.randn(6, 1, 8, 8)
    policy = "color,translation,cutout"
    t_real = diff_augment(real, policy, torch.Generator().manual_seed(3))
    t_fake = diff_augment(fake, policy, torch.Generator().manual_seed(3))
    # T is linear in x given its parameters except for the brightness offset; T(a) - T(b) = T0(a - b) (no offset)
    t_diff = diff_augment(real - fake, "translation,cutout", None)
    assert t_real.shape == t_fake.shape == t_diff.shape == real.shape
    mask_real = (t_real == t_real.flatten(1).mode(1).values[:, None, None, None])
    assert mask_real.any()  # cutout / translation leave constant regions


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
