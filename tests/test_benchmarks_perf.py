"""Smoke checks of the performance benchmarks: gpu_check.py end to end on the CPU at toy sizes (its GPU numbers come
from a CUDA machine), and its plain StyleGAN2 loop doing real updates."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "experiments" / "benchmarks"


@pytest.fixture
def gpu_check(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import gpu_check

    return gpu_check


def test_gpu_check_runs_on_the_cpu_and_reports_both_loops(tmp_path):
    out = tmp_path / "gpu_check.json"
    cmd = [sys.executable, str(BENCH / "gpu_check.py"), "--device", "cpu", "--threads", "1", "--image-size", "8",
           "--batch-size", "4", "--steps", "2", "--warmup", "1", "--sync-steps", "1",
           "--dcgan-config", "experiments/dcgan/digits.yaml", "--stylegan2-config", "experiments/stylegan2/digits.yaml",
           "--out", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(out.read_text())
    assert sorted(report["models"]) == ["dcgan", "stylegan2"] and report["device"] == "cpu"
    for r in report["models"].values():
        assert abs(r["plain_images_per_s"] * r["plain_seconds"] - 2 * 4) < 1e-6
        assert abs(r["lit_gans_images_per_s"] * r["lit_gans_seconds"] - 2 * 4) < 1e-6
        assert abs(r["ratio"] - r["lit_gans_seconds"] / r["plain_seconds"]) < 1e-9
        assert r["plain_syncs_per_step"] is None and r["lit_gans_syncs_per_step"] is None  # counted on CUDA only
    assert "--stylegan2-config experiments/stylegan2/digits.yaml" in report["command"]


def test_plain_stylegan2_loop_updates_both_players(gpu_check):
    model = gpu_check.model_from_config("experiments/stylegan2/digits.yaml", (1, 8, 8))
    before = copy.deepcopy(model)
    batches = gpu_check.make_batches(2, (1, 8, 8), 4, torch.device("cpu"))
    gpu_check.plain_stylegan2(model, batches)
    for net in ("generator", "discriminator"):
        moved = [(a - b).abs().max() for a, b in zip(getattr(model, net).parameters(), getattr(before, net).parameters())]
        assert max(moved) > 1e-6


def test_plain_stylegan2_loop_refuses_what_it_does_not_do(gpu_check):
    model = gpu_check.model_from_config("experiments/stylegan2/digits.yaml", (1, 8, 8))
    model.hparams.pl_weight = 2.0
    with pytest.raises(ValueError, match="no path length regularisation"):
        gpu_check.plain_stylegan2(model, gpu_check.make_batches(1, (1, 8, 8), 4, torch.device("cpu")))


def test_overhead_reports_the_fixed_cost_and_the_trainers_floor(tmp_path, monkeypatch):
    """overhead.py at toy sizes: the keys the README quotes, and its bare LightningModule trains like the plain loop."""
    monkeypatch.syspath_prepend(str(BENCH))
    import overhead

    out = tmp_path / "overhead.json"
    monkeypatch.setattr(sys, "argv", ["overhead.py", "--steps", "1", "--repeats", "1", "--image-size", "8",
                                      "--batch-size", "4", "--tiny-steps", "4", "--threads", "1", "--out", str(out)])
    overhead.main()
    report = json.loads(out.read_text())
    assert len(report["tiny_cpu_seconds"]["floor"]) == 1 and report["tiny_steps"] == 4
    floor = (report["tiny_cpu_seconds"]["floor"][0] - report["tiny_cpu_seconds"]["plain"][0]) * 1000 / 4
    assert abs(report["lightning_floor_ms_per_step"] - floor) < 1e-9
    torch.manual_seed(0)
    model = overhead.DCGAN(data_shape=(1, 8, 8), z_dim=4, g_channels=4, d_channels=4)
    bare = overhead.PlainInLightning(copy.deepcopy(model), 4)
    before = [p.clone() for p in bare.parameters()]
    overhead.lightning_run(bare, overhead.make_batches(2, 8, 4))
    assert all(not torch.equal(a, b) for a, b in zip(before, bare.parameters()) if a.dim() > 1)  # both players moved
