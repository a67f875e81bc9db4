"""StyleGAN2 against the official NVlabs stylegan2-ada-pytorch code: golden outputs, and ``import-weights``.

The golden file (``tests/golden/stylegan2_ada_pytorch.pt``, see the README beside it) holds the official networks'
state dicts of a small configuration and what the official code computes from them. Each test loads those state dicts
(the lit_gans networks use the official names, so the name mapping is the identity) and compares one output, with a
tolerance of 1e-4 relative to the output's largest magnitude.

How these tests fail on the layers lit_gans had before (measured by loading the same golden weights into them through
a name mapping): the old discriminator, which blurred and subsampled *before* a 3x3 conv at half resolution, gave
logits off by 0.44 of their scale (max |diff| 0.106, max |logit| 0.243) and R1 penalties off by 0.42; the old
generator (zero insertion + FIR + 3x3 conv instead of the transposed conv + FIR) gave noise-free images off by 0.67
of their scale. The old style mixing also moved w_avg with the second latent (the official loss passes
``skip_w_avg_update``): ``test_official_mixing_latent_leaves_w_avg`` checks that.
"""

from pathlib import Path

import pytest
import torch

import lit_gans
from lit_gans.cli import main
from lit_gans.models.stylegan2 import StyleGAN2, path_lengths
from lit_gans.nets.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator, channel_table

GOLDEN = Path(__file__).resolve().parent / "golden" / "stylegan2_ada_pytorch.pt"
TOL = 1e-4


@pytest.fixture(scope="module")
def golden():
    return torch.load(GOLDEN, weights_only=True)


@pytest.fixture(scope="module")
def nets(golden):
    cfg = golden["config"]
    shape = (cfg["img_channels"], cfg["img_resolution"], cfg["img_resolution"])
    g = StyleGAN2Generator(cfg["z_dim"], cfg["w_dim"], shape, cfg["mapping_layers"], cfg["lr_multiplier"],
                           cfg["channel_base"], cfg["channel_max"], cfg["architecture_g"])
    d = StyleGAN2Discriminator(shape, cfg["channel_base"], cfg["channel_max"], cfg["mbstd_group_size"],
                               cfg["architecture_d"], cfg["mbstd_num_channels"])
    g.load_state_dict(golden["G_state_dict"])
    d.load_state_dict(golden["D_state_dict"])
    return g.eval(), d.eval()


def rel_err(got: torch.Tensor, expected: torch.Tensor) -> float:
    assert got.shape == expected.shape
    return ((got - expected).abs().max() / expected.abs().max()).item()


# --- golden outputs -------------------------------------------------------------------------------------------------
def test_official_mapping_ws_and_truncation(golden, nets):
    g, _ = nets
    with torch.no_grad():
        assert rel_err(g.mapping(golden["z"], None, truncation_psi=1), golden["ws"]) < TOL
        truncated = g.mapping(golden["z"], None, truncation_psi=0.5)
    assert rel_err(truncated, golden["ws_truncated_0.5"]) < TOL
    assert rel_err(truncated, golden["ws"]) > 0.1  # truncation did something


def test_official_w_avg_after_one_update(golden, nets):
    g, _ = nets
    mapping = StyleGAN2Generator(16, 16, (3, 16, 16), 2, channel_base=256, channel_max=16).mapping
    mapping.load_state_dict(g.mapping.state_dict())
    with torch.no_grad():
        mapping.train()(golden["z"])
    assert rel_err(mapping.w_avg, golden["w_avg_after_one_update"]) < TOL
    assert rel_err(g.mapping.w_avg, golden["w_avg_after_one_update"]) > 1e-3  # it moved


@pytest.mark.parametrize("mode", ["none", "const"])
def test_official_images(golden, nets, mode):
    g, _ = nets
    with torch.no_grad():
        img = g.synthesis(golden["ws"], noise_mode=mode)
    assert rel_err(img, golden[f"img_noise_{mode}"]) < TOL


def test_official_noise_modes_differ(golden, nets):
    g, _ = nets
    with torch.no_grad():
        none, const = g.synthesis(golden["ws"], noise_mode="none"), g.synthesis(golden["ws"], noise_mode="const")
        rand = g.synthesis(golden["ws"], noise_mode="random", rng=torch.Generator().manual_seed(0))
    assert rel_err(const, none) > 1e-3 and rel_err(rand, const) > 1e-3


def test_official_discriminator_logits_and_r1(golden, nets):
    _, d = nets
    x = golden["x"].clone().requires_grad_(True)
    logits = d(x).flatten()
    assert rel_err(logits.detach(), golden["d_logits"]) < TOL
    (grad,) = torch.autograd.grad(logits.sum(), x)
    assert rel_err(grad.square().flatten(1).sum(1), golden["r1_penalty"]) < TOL


def test_official_path_lengths(golden, nets):
    g, _ = nets
    ws = golden["ws"].clone().requires_grad_(True)
    lengths = path_lengths(g.synthesis(ws, noise_mode="const"), ws, y=golden["pl_noise"])
    assert rel_err(lengths.detach(), golden["pl_lengths"]) < TOL


def test_official_mixing_latent_leaves_w_avg():
    torch.manual_seed(0)
    model = StyleGAN2(data_shape=(1, 8, 8), z_dim=8, w_dim=8, mapping_layers=2, channel_base=64, channel_max=8,
                      style_mixing_prob=1.0)
    mapping = model.generator.mapping.train()
    torch.manual_seed(1)
    with torch.no_grad():
        model.generate_ws(model.generator, 16)
    mixed = mapping.w_avg.clone()
    mapping.w_avg.zero_()
    torch.manual_seed(1)  # generate_ws draws the first latent before the mixing decision: the same z again
    with torch.no_grad():
        mapping(model.sample_latent(16))
    assert (mixed - mapping.w_avg).abs().max() < 1e-7  # only the first latent moved w_avg (skip_w_avg_update)
    assert mixed.abs().max() > 1e-6
