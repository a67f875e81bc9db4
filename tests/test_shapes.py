"""Every network checks the shape of what enters it and names the shape it wants and the one it got."""

from __future__ import annotations

import pytest
import torch

from lit_gans.nets.cyclegan import PatchDiscriminator, ResnetGenerator
from lit_gans.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from lit_gans.nets.mlp import MLPDiscriminator, MLPGenerator
from lit_gans.nets.progan import ProGANDiscriminator, ProGANGenerator
from lit_gans.nets.seqgan import CNNDiscriminator, LSTMGenerator
from lit_gans.nets.shapes import check_shape
from lit_gans.nets.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator

SMALL_PROGAN = {4: 8, 8: 8}
# (network, a good input, a bad input, the message wanted)
CASES = {
    "mlp_g": (lambda: MLPGenerator(3, (2,), (8,)), torch.zeros(2, 3), torch.zeros(2, 4), r"z must have shape \(N, 3\), got \(2, 4\)"),
    "mlp_d": (lambda: MLPDiscriminator((2,), (8,)), torch.zeros(2, 2), torch.zeros(2, 3), r"\(N, 2\), got \(2, 3\)"),
    "dcgan_g": (lambda: DCGANGenerator(4, (1, 8, 8), 4, 8), torch.zeros(2, 4), torch.zeros(2, 4, 1), r"z must have shape \(N, 4\), got \(2, 4, 1\)"),
    "dcgan_d": (lambda: DCGANDiscriminator((1, 8, 8), 4, 8), torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 16, 16), r"\(N, 1, 8, 8\), got \(2, 1, 16, 16\)"),
    "progan_g": (lambda: ProGANGenerator(4, 1, 8, SMALL_PROGAN), torch.zeros(2, 4), torch.zeros(2, 5), r"z must have shape \(N, 4\), got \(2, 5\)"),
    "progan_d": (lambda: ProGANDiscriminator(1, 8, SMALL_PROGAN), torch.zeros(2, 1, 8, 8), torch.zeros(2, 3, 8, 8), r"\(N, 1, 8, 8\), got \(2, 3, 8, 8\)"),
    "cyclegan_g": (lambda: ResnetGenerator(1, 4, 0), torch.zeros(1, 1, 8, 8), torch.zeros(1, 3, 8, 8), r"\(N, 1, H, W\), got \(1, 3, 8, 8\)"),
    "cyclegan_d": (lambda: PatchDiscriminator(1, 4, 1), torch.zeros(1, 1, 8, 8), torch.zeros(1, 8, 8), r"\(N, 1, H, W\), got \(1, 8, 8\)"),
    "seqgan_g": (lambda: LSTMGenerator(5, 4, 4, 4), torch.zeros(2, 4, dtype=torch.long), torch.zeros(4, dtype=torch.long), r"\(N, T\), got \(4,\)"),
    "seqgan_d": (lambda: CNNDiscriminator(5, 4, 4, (2,), (3,)), torch.zeros(2, 4, dtype=torch.long), torch.zeros(2, 4, 1, dtype=torch.long), r"\(N, T\), got \(2, 4, 1\)"),
    "stylegan2_g": (lambda: StyleGAN2Generator(4, 4, (1, 8, 8), 1, channel_base=32, channel_max=8), torch.zeros(2, 4), torch.zeros(2, 3), r"z must have shape \(N, 4\), got \(2, 3\)"),
    "stylegan2_d": (lambda: StyleGAN2Discriminator((1, 8, 8), 32, 8, mbstd_group=2), torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 4, 4), r"\(N, 1, 8, 8\), got \(2, 1, 4, 4\)"),
}


@pytest.mark.parametrize("name", CASES)
def test_network_boundary_checks_its_input_shape(name):
    build, good, bad, message = CASES[name]
    net = build().eval()
    with torch.no_grad():
        net(good)  # the right shape passes
        with pytest.raises(ValueError, match=message):
            net(bad)


def test_stylegan2_synthesis_checks_ws_against_num_ws_and_w_dim():
    g = StyleGAN2Generator(4, 4, (1, 8, 8), 1, channel_base=32, channel_max=8)
    with pytest.raises(ValueError, match=rf"ws must have shape \(N, {g.num_ws}, 4\), got \(2, {g.num_ws - 1}, 4\)"):
        g.synthesis(torch.zeros(2, g.num_ws - 1, 4))


def test_check_shape_wildcards_match_any_size_but_not_a_missing_axis():
    check_shape(torch.zeros(3, 5), ("N", "T"), "x")
    with pytest.raises(ValueError, match=r"x must have shape \(N, T\), got \(3, 5, 1\)"):
        check_shape(torch.zeros(3, 5, 1), ("N", "T"), "x")
