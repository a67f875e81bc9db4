"""ProGAN against the authors' code (tkarras/progressive_growing_of_gans): D's fused conv + downscale layer, and the
Adam resets of ``reset_opt_for_new_lod``."""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F
from test_progan import quiet_trainer

from lit_gans.data.digits import DigitsDataModule
from lit_gans.models.progan import ProGAN
from lit_gans.nets.progan import DiscriminatorBlock


def _official_conv2d_downscale2d(x, weight, bias):
    """The authors' fused layer, rewritten from networks.py: the 3x3 kernel padded to 5x5, its four 2x2 shifts
    averaged into a 4x4 kernel, a stride-2 convolution with TF 'SAME' padding (1 each side); then bias."""
    w = F.pad(weight, (1, 1, 1, 1))
    w = (w[..., 1:, 1:] + w[..., :-1, 1:] + w[..., 1:, :-1] + w[..., :-1, :-1]) * 0.25  # (C_out, C_in, 4, 4)
    return F.conv2d(x, w, stride=2, padding=1) + bias.view(1, -1, 1, 1)


def test_official_discriminator_block_pools_before_the_activation():
    torch.manual_seed(0)
    block = DiscriminatorBlock(c_in=6, c_out=5)
    torch.nn.init.normal_(block.conv2.bias)  # non-zero biases, so their place is tested too
    x = torch.randn(3, 6, 8, 8)
    h = F.leaky_relu(block.conv1(x), 0.2)
    official = F.leaky_relu(_official_conv2d_downscale2d(h, block.conv2.weight * block.conv2.weight_scale,
                                                         block.conv2.bias), 0.2)
    assert (block(x) - official).abs().max().item() < 1e-5
    # the former order, activation then pooling, is another function: it differs by far more than the tolerance
    former = F.avg_pool2d(F.leaky_relu(block.conv2(h), 0.2), 2)
    assert (former - official).abs().max().item() > 1e-2


def test_official_adam_state_is_reset_when_a_fade_in_and_when_a_stabilisation_starts():
    """4x4 stable for 1 batch, 8x8 fading in for 2, then stable: the Adam step count of a layer trained throughout
    (D's output) starts again at the fade-in and again at the stabilisation, as when the authors' code sees the floor
    and then the ceiling of its level of detail change."""
    model = ProGAN(data_shape=(1, 8, 8), z_dim=8, channels={4: 8, 8: 8}, fade_kimg=0.016, stable_kimg=0.008)
    seen = []

    class Record(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            phase = pl_module.phase
            seen.append((phase.resolution, int(phase.alpha >= 1.0)))

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            d_opt = next(opt for opt in trainer.optimizers if pl_module.discriminator.out.weight in opt.state)
            seen[-1] += (int(d_opt.state[pl_module.discriminator.out.weight]["step"]),)

    torch.manual_seed(0)
    quiet_trainer(max_steps=2 * 5, callbacks=[Record()]).fit(model, DigitsDataModule(image_size=8, batch_size=8))
    assert seen == [(4, 1, 1), (8, 0, 1), (8, 0, 2), (8, 1, 1), (8, 1, 2)]
