"""SampleGrid's latent interpolation strip (slerp, White 2016) and the pictures it sends to TensorBoard."""

from __future__ import annotations

import math

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

from lit_gans.callbacks.samples import SampleGrid, interpolate, slerp
from lit_gans.data.digits import DigitsDataModule
from lit_gans.models.cgan import CGAN
from lit_gans.models.cyclegan import CycleGAN
from lit_gans.models.dcgan import DCGAN
from lit_gans.models.progan import ProGAN
from lit_gans.models.seqgan import SeqGAN
from lit_gans.models.stylegan2 import StyleGAN2


def test_slerp_matches_the_formula_and_keeps_the_norm():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(16), rng.standard_normal(16)
    t = np.linspace(0, 1, 7)
    theta = math.acos(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    expected = [(math.sin((1 - s) * theta) * a + math.sin(s * theta) * b) / math.sin(theta) for s in t]
    got = slerp(torch.tensor(a)[None], torch.tensor(b)[None], torch.tensor(t))[0].numpy()
    assert abs(got - np.array(expected)).max() < 1e-10
    assert abs(got[0] - a).max() < 1e-12 and abs(got[-1] - b).max() < 1e-12
    # orthogonal unit vectors: slerp stays on the sphere, the straight line cuts through it (norm 1/sqrt(2) midway)
    e0, e1, half = torch.eye(2)[:1], torch.eye(2)[1:], torch.tensor([0.5], dtype=torch.float32)
    assert abs(float(slerp(e0, e1, half).norm()) - 1.0) < 1e-6
    assert abs(float(interpolate(e0, e1, half, "lerp").norm()) - 2 ** -0.5) < 1e-6
    # equal angles between consecutive points
    path = slerp(e0, e1, torch.linspace(0, 1, 5))[0]
    angles = torch.atan2(path[:, 1], path[:, 0]).diff()
    assert abs(float(angles.min()) - math.pi / 8) < 1e-6 and abs(float(angles.max()) - math.pi / 8) < 1e-6


def test_slerp_of_parallel_endpoints_is_the_straight_line():
    z0 = torch.tensor([[1.0, 2.0]])
    got = slerp(z0, 3 * z0, torch.tensor([0.0, 0.5, 1.0]))[0]
    assert torch.isfinite(got).all() and abs(got - torch.tensor([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])).max() < 1e-5


def test_conditional_strip_has_one_row_per_class_on_one_latent_path():
    torch.manual_seed(0)
    model = CGAN(data_shape=(1, 8, 8), num_classes=10, z_dim=4, hidden=(8,))
    grid = SampleGrid(num_samples=10, seed=3, interpolation_steps=5)
    strip = grid.interpolation_strip(model)
    assert model.num_label_classes == 10 and strip.shape == (10 * 5, 1, 8, 8)
    z0, z1 = model.sample_latent(2, generator=torch.Generator().manual_seed(3)).chunk(2)
    path = slerp(z0, z1, torch.linspace(0, 1, 5))[0]  # (5, z_dim)
    model.eval()
    with torch.no_grad():
        for label in (0, 7):  # row = class, column = the same z
            expected = model.generator(path, torch.full((5,), label))
            assert abs(strip[label * 5 : label * 5 + 5] - expected).max() < 1e-6
    assert abs(strip[0:5] - strip[5:10]).max() > 1e-3  # the label changes the picture


def test_unconditional_strips_per_variant():
    torch.manual_seed(0)
    dcgan = DCGAN(data_shape=(1, 8, 8), z_dim=4, g_channels=4, d_channels=4, z_dist="uniform")  # the paper's: lerp
    strip = SampleGrid(interpolation_rows=3, interpolation_steps=4, seed=1).interpolation_strip(dcgan)
    assert dcgan.num_label_classes == 0 and strip.shape == (12, 1, 8, 8)
    z0, z1 = dcgan.sample_latent(6, generator=torch.Generator().manual_seed(1)).chunk(2)
    middle = torch.lerp(z0[2], z1[2], 1 / 3)[None]
    dcgan.eval()
    with torch.no_grad():
        assert abs(strip[9] - dcgan.generator(middle)[0]).max() < 1e-6  # row 2, column 1
        arc = slerp(z0[2:], z1[2:], torch.tensor([1 / 3]))[0]
        assert abs(strip[9] - dcgan.generator(arc)[0]).max() > 1e-4  # not slerp

    for model in (StyleGAN2(data_shape=(1, 8, 8), z_dim=8, w_dim=8, channel_base=64, channel_max=8),
                  ProGAN(data_shape=(1, 8, 8), z_dim=8, channels={4: 8, 8: 8})):
        state = torch.get_rng_state()
        first = SampleGrid(interpolation_rows=2, interpolation_steps=3).interpolation_strip(model)
        again = SampleGrid(interpolation_rows=2, interpolation_steps=3).interpolation_strip(model)
        assert first.shape == (6, 1, 8, 8) and torch.isfinite(first).all()
        assert torch.equal(first, again)  # StyleGAN2's noise inputs too: the strip is the same at every step
        assert torch.equal(state, torch.get_rng_state())  # and training's random stream is untouched


def test_no_strip_without_a_latent_vector():
    cyclegan = CycleGAN(data_shape=(1, 16, 16), g_channels=4, d_channels=4, n_residual_blocks=1, d_layers=1)
    seqgan = SeqGAN(data_shape=(5,), num_classes=9, d_filter_sizes=(2, 3), d_num_filters=(8, 8), d_emb_dim=8)
    for model in (cyclegan, seqgan):
        assert SampleGrid().interpolation_strip(model) is None
    dcgan = DCGAN(data_shape=(1, 8, 8), z_dim=4, g_channels=4, d_channels=4)
    assert SampleGrid(interpolation_rows=0).interpolation_strip(dcgan) is None
    with pytest.raises(ValueError, match="interpolation_steps >= 2"):
        SampleGrid(interpolation_steps=1)


def test_grids_and_strips_reach_tensorboard(tmp_path):
    pytest.importorskip("tensorboard")
    from lightning.pytorch.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    L.seed_everything(0)
    model = CGAN(data_shape=(1, 8, 8), num_classes=10, z_dim=4, hidden=(8,))
    logger = TensorBoardLogger(tmp_path)
    trainer = L.Trainer(max_steps=4, accelerator="cpu", logger=logger, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[SampleGrid(every_n_steps=1, num_samples=20, interpolation_steps=6)])
    trainer.fit(model, DigitsDataModule(image_size=8, batch_size=8))
    logger.experiment.flush()
    events = EventAccumulator(logger.log_dir, size_guidance={"images": 0})
    events.Reload()
    assert set(events.Tags()["images"]) == {"samples", "interpolation"}
    strips = events.Images("interpolation")
    # after batches 0 and 1 (the steps their losses are logged at; not global_step, 2 a batch), and at the end (2)
    assert [e.step for e in strips] == [0, 1, 2]
    with Image.open(f"{logger.log_dir}/samples/interpolation_last.png") as png:
        # 6 x 10 images of 8 px with 1 px padding (55 x 91), enlarged 10x to >= 512 px across, in both places
        assert (strips[-1].width, strips[-1].height) == png.size == (10 * (6 * 9 + 1), 10 * (10 * 9 + 1))
