"""``lit-gans compress``: students of the teacher's variant (distill), L1 channel pruning, int8 quantisation; each
end to end on tiny random teachers, and one-line errors for what is not supported."""

from __future__ import annotations

import pytest
import torch
from compress_helpers import TEACHERS, run_cli, save_teacher, visible_dcgan

from lit_gans.checkpoints import load_model, read_checkpoint
from lit_gans.commands import UserError
from lit_gans.compress.graph import DeployedGenerator, GeneratorGraph
from lit_gans.compress.prune import l1_keep, prune_into
from lit_gans.compress.quantize import quantize_int8
from lit_gans.checkpoints.atomic import atomic_save
from lit_gans.compress.student import build_student, check_supported, count_parameters, student_checkpoint
from lit_gans.models import MODELS
from lit_gans.models.distill import Distillation
from lit_gans.provenance import file_sha256

FAST = ["--steps", "3", "--batch_size", "8", "--progress", "false"]


def test_student_scales_only_the_generator_width():
    teacher = TEACHERS["DCGAN"]()
    student = build_student(teacher, 0.25)
    assert (student.hparams.g_channels, student.hparams.d_channels) == (2, 8)
    assert count_parameters(student.generator) < count_parameters(teacher.generator) / 3
    # the discriminator has the teacher's shape, so it takes the teacher's weights
    for p_s, p_t in zip(student.discriminator.parameters(), teacher.discriminator.parameters()):
        assert torch.equal(p_s, p_t)
    style = build_student(TEACHERS["StyleGAN2"](), 0.5)
    assert (style.hparams.channel_base, style.hparams.channel_max) == (32, 4)


@pytest.mark.parametrize("name", ["DCGAN", "CGAN", "StyleGAN2"])
def test_distill_writes_an_ordinary_checkpoint_of_the_variant(name, tmp_path, capsys):
    teacher = save_teacher(name, tmp_path)
    out = tmp_path / "student.ckpt"
    assert run_cli(["compress", "--ckpt", teacher, "--method", "distill", "--width", "0.5", "--out", out, *FAST], tmp_path) == 0
    student = load_model(out)
    assert type(student).__name__ == name
    assert count_parameters(student.generator) < count_parameters(load_model(teacher).generator)
    assert read_checkpoint(out)["lit_gans_derived_from"]["checkpoint_sha256"] == file_sha256(teacher)
    card = (tmp_path / "student_MODEL_CARD.md").read_text()
    assert file_sha256(teacher) in card and "distill" in card
    label = ["--label", "3"] if name == "CGAN" else []
    assert run_cli(["sample", "--ckpt", out, "--num", "4", "--out", tmp_path / "s.pt", *label], tmp_path) == 0
    assert torch.load(tmp_path / "s.pt").shape == (4, 1, 8, 8)


def test_distillation_brings_the_student_towards_the_teacher():
    torch.manual_seed(0)
    teacher = TEACHERS["DCGAN"]().eval()
    with torch.no_grad():  # DCGAN's init (std 0.02) makes near-blank images: give the teacher visible ones
        for m in teacher.generator.modules():
            if isinstance(m, torch.nn.ConvTranspose2d):
                m.weight.mul_(10)
    module = Distillation(teacher, build_student(teacher, 0.5), steps=40, batch_size=16, lr=3e-3)
    before = module.held_out_loss(n=64)
    opt = torch.optim.Adam(module.student.generator.parameters(), lr=3e-3)
    for _ in range(40):
        loss, _ = module.distillation_loss(*module.draw_inputs(16))
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = module.held_out_loss(n=64)
    assert after["loss"] < 0.7 * before["loss"] and after["pixel"] < before["pixel"], (before, after)
    assert all(p.grad is None for p in teacher.parameters())  # the teacher stays as it was


def test_student_and_teacher_share_every_random_draw_inside_the_networks():
    """A student identical to its teacher has loss 0 although the networks draw noise (StyleGAN2's noise inputs,
    DiffAugment in D): both passes see the same draws; and the draws still change from step to step."""
    torch.manual_seed(0)
    teacher = MODELS["StyleGAN2"](data_shape=(1, 8, 8), z_dim=8, w_dim=8, mapping_layers=1, channel_base=64,
                                  channel_max=8, augment="color,translation,cutout").eval()
    with torch.no_grad():
        for name, p in teacher.generator.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(1.0)  # 0 at init: the noise inputs would not show
    twin = build_student(teacher, 1.0)
    twin.generator.load_state_dict(teacher.generator.state_dict())
    module = Distillation(teacher, twin, feature_weight=1.0, adv_weight=1.0)
    z, cond = module.draw_inputs(4)
    loss, logs = module.distillation_loss(z, cond)
    assert logs["pixel"] == 0 and logs["feature"] == 0
    first = module.teacher.generate(teacher.generator, z)
    assert not torch.equal(first, module.teacher.generate(teacher.generator, z))  # the noise is random
    loss.backward()  # the adversarial term reaches the student only
    assert all(p.grad is None for p in teacher.parameters())


def test_distill_resumes_and_the_student_validates_and_continues_with_fit(tmp_path):
    teacher = save_teacher("DCGAN", tmp_path)
    out = tmp_path / "s.ckpt"
    args = ["compress", "--ckpt", teacher, "--method", "distill", "--out", out, "--batch_size", "8", "--progress", "false"]
    assert run_cli([*args, "--steps", "2"], tmp_path) == 0
    assert run_cli([*args, "--steps", "4", "--resume", "last"], tmp_path) == 0
    assert read_checkpoint(tmp_path / "s_run" / "checkpoints" / "last.ckpt")["global_step"] == 4
    common = ["--model", "DCGAN", "--data", "Digits", "--data.image_size", "8", "--trainer.logger", "false",
              "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false", "--ckpt_path", out]
    assert run_cli(["validate", *common], tmp_path) == 0  # evaluation on held-out digits
    assert run_cli(["fit", *common, "--trainer.max_steps", "2", "--trainer.default_root_dir", "run"], tmp_path) == 0
    resumed = load_model(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert resumed.hparams.g_channels == 2 and int(resumed.g_steps) >= 1  # the student's width, from the file


def test_l1_pruning_keeps_the_strongest_channels_and_nothing_else():
    w = torch.tensor([[0.1, 0.1], [2.0, -2.0], [0.0, 0.5], [-1.0, 0.0]])
    assert l1_keep(w, out_dim=0, k=2).tolist() == [1, 3]
    assert l1_keep(w.T, out_dim=1, k=3).tolist() == [1, 2, 3]
    teacher = TEACHERS["DCGAN"]().eval()
    full = build_student(teacher, 1.0)
    prune_into(teacher.generator, full.generator)  # nothing removed: the very same generator
    z = torch.randn(4, 8)
    assert (full.generator.eval()(z) - teacher.generator(z)).abs().max() < 1e-6
    half = build_student(teacher, 0.5)
    kept = prune_into(teacher.generator, half.generator)
    assert kept == {"net.0": 4, "net.3": 1}
    assert not torch.allclose(half.generator.eval()(z), teacher.generator(z), atol=1e-6)


def test_prune_end_to_end_and_its_refusal_for_stylegan2(tmp_path, capsys):
    teacher = save_teacher("CGAN", tmp_path)
    out = tmp_path / "p.ckpt"
    assert run_cli(["compress", "--ckpt", teacher, "--method", "prune", "--amount", "0.5", "--out", out, *FAST], tmp_path) == 0
    assert load_model(out).hparams.base_channels == 2
    assert "L1 norm" in (tmp_path / "p_MODEL_CARD.md").read_text()
    capsys.readouterr()
    style = save_teacher("StyleGAN2", tmp_path)
    assert run_cli(["compress", "--ckpt", style, "--method", "prune", "--out", out, *FAST], tmp_path) == 2
    assert "prune needs a generator that is a chain" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["DCGAN", "CGAN"])
def test_int8_is_close_to_the_float_generator_and_samples(name, tmp_path):
    teacher = save_teacher(name, tmp_path)
    out = tmp_path / "q.pt"
    assert run_cli(["compress", "--ckpt", teacher, "--method", "int8", "--out", out, "--calibration", "2", "--batch_size", "16"], tmp_path) == 0
    float_images, int8_images = load_model(teacher).sample(32, seed=1), DeployedGenerator(out).sample(32, seed=1)
    error = float((float_images - int8_images).abs().mean())
    assert 0.0 < error < 0.05, error  # quantised (not the float graph), yet close
    label = ["--label", "3"] if name == "CGAN" else []
    assert run_cli(["sample", "--ckpt", out, "--num", "4", "--out", tmp_path / "q.png", *label], tmp_path) == 0
    assert (tmp_path / "q_MODEL_CARD.md").is_file()


def test_int8_is_close_for_a_generator_that_draws_visible_images():
    """The tiny teachers draw near-blank images; x86's qconfig mapping got visible ones wrong (0.48 here)."""
    model = visible_dcgan()
    graph = GeneratorGraph(model)
    quantized = quantize_int8(graph, [graph.example_inputs(model, 64, seed=i) for i in range(4)])
    check = graph.example_inputs(model, 64, seed=99)
    assert graph(*check).std() > 0.3
    assert float((quantized(*check) - graph(*check)).abs().mean()) < 0.1


def test_an_int8_file_runs_right_in_a_process_on_the_default_engine(tmp_path):
    """The saved graph, loaded where torch.backends.quantized.engine is torch's default (x86): the file says its
    engine and DeployedGenerator selects it (run under x86, the same file's images were off by 0.45 on average)."""
    teacher = tmp_path / "teacher.ckpt"
    atomic_save(student_checkpoint(visible_dcgan(), {}), teacher)
    out = tmp_path / "q.pt"
    assert run_cli(["compress", "--ckpt", teacher, "--method", "int8", "--out", out, "--calibration", "4"], tmp_path) == 0
    torch.backends.quantized.engine = "x86"
    error = float((DeployedGenerator(out).sample(64, seed=3) - load_model(teacher).sample(64, seed=3)).abs().mean())
    assert torch.backends.quantized.engine == "fbgemm" and error < 0.1, error


def test_int8_refuses_what_it_cannot_quantise_in_one_line():
    class Loops(torch.nn.Module):  # control flow on the input: FX cannot trace it
        def forward(self, z):
            return torch.stack([row * 2 for row in z])

    class Elementwise(torch.nn.Module):  # traceable, but no operator has an int8 kernel
        def forward(self, z):
            return torch.tanh(z) * 2

    with pytest.raises(UserError, match="int8: cannot quantise this generator"):
        quantize_int8(Loops(), [(torch.randn(4, 3),)])
    with pytest.raises(UserError, match="nothing was quantised"):
        quantize_int8(Elementwise(), [(torch.randn(4, 3),)])


def test_int8_of_stylegan2_is_refused_in_one_line_or_close_to_float(tmp_path, capsys):
    style = save_teacher("StyleGAN2", tmp_path)
    code = run_cli(["compress", "--ckpt", style, "--method", "int8", "--out", tmp_path / "q.pt", "--calibration", "2"], tmp_path)
    err = capsys.readouterr().err.strip().splitlines()
    if code == 2:  # the modulated convolution of this version cannot be traced
        assert len(err) == 1 and err[0].startswith("lit-gans: error: int8: cannot quantise")
    else:
        assert code == 0
        float_graph = GeneratorGraph(load_model(style))
        z = torch.randn(8, 8)
        assert (DeployedGenerator(tmp_path / "q.pt").graph(z) - float_graph(z)).abs().mean() < 0.1


@pytest.mark.parametrize("name", ["ProGAN", "CycleGAN", "SeqGAN"])
def test_unsupported_variants_get_one_clear_line(name):
    with pytest.raises(UserError, match=f"compress does not support {name}"):
        check_supported(MODELS[name].__new__(MODELS[name]))


@pytest.mark.parametrize("args, needle", [
    (["--method", "distill", "--width", "0", "--out", "s.ckpt"], "--width must be in (0, 1]"),
    (["--method", "int8", "--out", "s.ckpt"], "give --out ending in .pt"),
    (["--method", "shrink", "--out", "s.ckpt"], "method"),
])
def test_bad_options_get_one_line(args, needle, tmp_path, capsys):
    teacher = save_teacher("DCGAN", tmp_path)
    assert run_cli(["compress", "--ckpt", teacher, *args, *FAST], tmp_path) == 2
    assert needle in capsys.readouterr().err
