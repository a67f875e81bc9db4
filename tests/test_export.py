"""``lit-gans export``: ONNX and TorchScript generators equal to PyTorch to 1e-4 at any batch size, TorchScript files
that ``lit-gans sample`` draws from with the same seeds, and one-line errors where a graph cannot be exported."""

from __future__ import annotations

import pytest
import torch
from compress_helpers import TEACHERS, run_cli, save_teacher

from lit_gans.checkpoints import load_model
from lit_gans.compress.graph import DeployedGenerator, GeneratorGraph
from lit_gans.provenance import file_sha256


def test_onnx_equals_pytorch_at_other_batch_sizes(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    teacher = save_teacher("CGAN", tmp_path)  # with labels: the second input
    out = tmp_path / "g.onnx"
    assert run_cli(["export", "--ckpt", teacher, "--format", "onnx", "--out", out], tmp_path) == 0
    model = load_model(teacher)
    graph = GeneratorGraph(model)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for n in (3, 5):
        inputs = graph.example_inputs(model, n, seed=n)
        feed = dict(zip([i.name for i in session.get_inputs()], (t.numpy() for t in inputs)))
        got = torch.from_numpy(session.run(None, feed)[0])
        assert got.shape == (n, 1, 8, 8)
        assert (got - graph(*inputs)).abs().max() < 1e-4
        assert got.std() > 1e-4  # not a constant image: the graph computes
    assert file_sha256(teacher) in (tmp_path / "g_MODEL_CARD.md").read_text()


def test_torchscript_samples_as_the_checkpoint_does(tmp_path):
    teacher = save_teacher("CGAN", tmp_path)
    out = tmp_path / "g.pt"
    assert run_cli(["export", "--ckpt", teacher, "--format", "torchscript", "--out", out], tmp_path) == 0
    model, deployed = load_model(teacher), DeployedGenerator(out)
    assert (deployed.sample(6, seed=2, labels=4) - model.sample(6, seed=2, labels=4)).abs().max() < 1e-5
    assert (deployed.sample(6, seed=2, labels=4) - deployed.sample(6, seed=2, labels=5)).abs().max() > 1e-4
    assert run_cli(["sample", "--ckpt", out, "--num", "4", "--label", "1", "--out", tmp_path / "s.png"], tmp_path) == 0


def test_stylegan2_exports_equal_to_pytorch_or_is_refused_in_one_line(tmp_path, capsys):
    style = save_teacher("StyleGAN2", tmp_path)
    out = tmp_path / "g.pt"
    code = run_cli(["export", "--ckpt", style, "--format", "torchscript", "--out", out], tmp_path)
    err = capsys.readouterr().err.strip().splitlines()
    if code == 2:  # this version's modulated convolution groups by batch: the traced graph fixes the batch size
        assert len(err) == 1 and "does not run at other batch sizes" in err[0]
        assert not out.exists()
    else:
        assert code == 0
        graph = GeneratorGraph(load_model(style))
        z = torch.randn(5, 8)
        assert (DeployedGenerator(out).graph(z) - graph(z)).abs().max() < 1e-4


@pytest.mark.parametrize("args, needle", [
    (["--format", "onnx", "--out", "g.pt"], "writes a .onnx file"),
    (["--format", "tflite", "--out", "g.tflite"], "format"),
])
def test_bad_options_get_one_line(args, needle, tmp_path, capsys):
    teacher = save_teacher("DCGAN", tmp_path)
    assert run_cli(["export", "--ckpt", teacher, *args], tmp_path) == 2
    assert needle in capsys.readouterr().err


def test_sample_refuses_an_onnx_file_in_one_line(tmp_path, capsys):
    (tmp_path / "g.onnx").write_bytes(b"not used")
    assert run_cli(["sample", "--ckpt", tmp_path / "g.onnx", "--out", tmp_path / "s.png"], tmp_path) == 2
    assert "is an ONNX graph: run it with onnxruntime" in capsys.readouterr().err


def test_stylegan2_graph_keeps_the_trained_noise_as_its_fixed_noise_images():
    model = noisy_stylegan2()
    graph = GeneratorGraph(model)
    z = torch.randn(3, 8)
    assert torch.equal(graph(z), graph(z))  # a function of z
    expected = model.to_data_range(model.generate(model.sampling_generator().eval(), z, noise_mode="const"))
    assert (graph(z) - expected).abs().max() < 1e-6  # clipped to [-1, 1] as the model's samples are
    without = model.to_data_range(model.generate(model.sampling_generator().eval(), z, noise_mode="none"))
    assert (graph(z) - without).abs().max() > 1e-3  # the noise strengths were kept, not zeroed


def noisy_stylegan2():
    """The tiny StyleGAN2 teacher with noise strengths of 1 (fresh ones are 0, and would hide a zeroing)."""
    torch.manual_seed(0)
    model = TEACHERS["StyleGAN2"]().eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(1.0)
    return model
