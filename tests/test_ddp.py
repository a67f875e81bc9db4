"""Distributed data parallel on 2 CPU processes (gloo): every variant, synchronised batch norm, a 2-node launch
simulated on localhost, and torchrun.

Each launch starts fresh Python processes (importing Lightning costs seconds each on a small machine), so the file
makes three, started together: one process group that fits every variant (tests/ddp_worker.py), one 2-node CLI
launch, one torchrun CLI launch. A launch that hangs is killed after ``TIMEOUT`` seconds and fails its tests.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from lit_gans.checkpoints import read_checkpoint
from lit_gans.distributed import AllReduceBatchNorm, BatchNormSync
from lit_gans.models import MODELS

TESTS = Path(__file__).parent
ROOT = TESTS.parent
TIMEOUT = 400  # seconds for one launch, imports included, on a loaded 2-core machine
#: running averages that each process keeps for itself, as the official StyleGAN2 code does; rank 0's are saved
PER_PROCESS = ("w_avg", "pl_mean")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Launch:
    """Processes started together (the ranks of one process group) and awaited together."""

    def __init__(self, commands: list[list[str]], envs: list[dict[str, str]], cwd: Path) -> None:
        base = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)]), "OMP_NUM_THREADS": "1",
                "MASTER_ADDR": "127.0.0.1", "PYTHONWARNINGS": "ignore"}
        self.commands, self.cwd = commands, cwd
        self.logs = [cwd / f"process{i}.log" for i in range(len(commands))]  # files: a full pipe would block
        self.procs = [subprocess.Popen(cmd, env={**base, **env}, cwd=cwd, stdout=log.open("w"),
                                       stderr=subprocess.STDOUT) for cmd, env, log in zip(commands, envs, self.logs)]

    def wait(self) -> list[str]:
        """The processes' outputs once all exited with status 0; kills them all if one hangs."""
        try:
            for p in self.procs:
                p.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            for p in self.procs:
                p.kill()
            pytest.fail(f"a DDP launch did not finish in {TIMEOUT} s (a hang): {self.commands[0]}")
        outputs = [log.read_text() for log in self.logs]
        for p, out in zip(self.procs, outputs):
            assert p.returncode == 0, out[-3000:]
        return outputs


@pytest.fixture(scope="module")
def launches(tmp_path_factory) -> dict[str, Launch]:
    """The file's three launches, started at once so that their start-up (imports) and teardown overlap."""
    worker = tmp_path_factory.mktemp("ddp")
    cmd = [sys.executable, str(TESTS / "ddp_worker.py"), str(worker)]
    port = str(free_port())
    started = {"variants": Launch([cmd, cmd], [{"LOCAL_RANK": str(r), "MASTER_PORT": port} for r in (0, 1)], worker)}
    nodes = tmp_path_factory.mktemp("two_nodes")
    cmd = [sys.executable, *cli_fit(nodes, ["--trainer.num_nodes", "2", "--trainer.devices", "1"])]
    port = str(free_port())
    started["two_nodes"] = Launch([cmd, cmd], [{"NODE_RANK": str(r), "MASTER_PORT": port} for r in (0, 1)], nodes)
    torchrun = tmp_path_factory.mktemp("torchrun")
    run = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port())]
    started["torchrun"] = Launch([run + cli_fit(torchrun, ["--trainer.devices", "2"])], [{}], torchrun)
    yield started
    for launch in started.values():  # a test that failed early leaves its processes running
        for p in launch.procs:
            if p.poll() is None:
                p.kill()


# --- every variant in one process group ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ranks(launches) -> list[dict]:
    launches["variants"].wait()
    return [torch.load(launches["variants"].cwd / f"rank{r}.pt", weights_only=False) for r in (0, 1)]


@pytest.mark.parametrize("name", list(MODELS))
def test_ddp_trains_every_variant(ranks, name):
    r0, r1 = ranks[0][name], ranks[1][name]
    assert r0["ok"] and r1["ok"], r0.get("error") or r1.get("error")
    # both processes trained: the same step counts, at least one update of each player
    assert (r0["d_steps"], r0["g_steps"]) == (r1["d_steps"], r1["g_steps"])
    assert r0["d_steps"] >= 2 and r0["g_steps"] >= 1
    assert len(r0["moved"]) > 0
    # on different real batches and with different noise ...
    assert abs(r0["first_batch"] - r1["first_batch"]) > 1e-3
    assert not torch.equal(r0["rng_draw"], r1["rng_draw"])
    # ... into the same weights (EMA and buffers included): the gradients were averaged across processes
    differing = [k for k in r0["state"] if not torch.equal(r0["state"][k], r1["state"][k])]
    assert [k for k in differing if not k.endswith(PER_PROCESS)] == []
    # rank 0 alone writes the sample grids (rank 1's folder stays empty)
    assert "samples/last.png" in r0["written"] or "samples/last.txt" in r0["written"]
    assert r1["written"] == []


def test_ddp_synchronises_batch_norm_by_default(ranks):
    for name in ("DCGAN", "CGAN", "WGAN"):
        r0, r1 = ranks[0][name], ranks[1][name]
        assert r0["ok"] and r0["bn_layers"] and set(r0["bn_layers"]) == {"BatchNorm2d"}  # reverted after fit
        stats = [k for k in r0["state"] if k.endswith(("running_mean", "running_var"))]
        assert stats and all(torch.equal(r0["state"][k], r1["state"][k]) for k in stats)
    # the control: per-process statistics (sync_batchnorm = False) differ between the ranks, the weights do not
    r0, r1 = ranks[0]["DCGAN-nosync"], ranks[1]["DCGAN-nosync"]
    differing = [k for k in r0["state"] if not torch.equal(r0["state"][k], r1["state"][k])]
    assert differing and all(k.endswith(("running_mean", "running_var")) for k in differing)


def test_ddp_all_reduce_batch_norm_matches_batch_norm_of_the_global_batch(monkeypatch):
    """The CPU layer normalises each process's half with the statistics of both halves (simulated world of 2)."""
    torch.manual_seed(0)
    x0, x1 = torch.randn(4, 3, 5, 5) * 2 + 1, torch.randn(6, 3, 5, 5)
    reference = nn.BatchNorm2d(3)
    expected = reference(torch.cat([x0, x1]))[:4]
    layer = BatchNormSync("cpu").apply(nn.Sequential(nn.BatchNorm2d(3)))[0]
    assert isinstance(layer, AllReduceBatchNorm)

    def stats_of(x: torch.Tensor) -> torch.Tensor:
        dims = [0, 2, 3]
        return torch.cat([x.sum(dims), x.square().sum(dims), torch.tensor([x.numel() / x.shape[1]])])

    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda *a: 2)
    monkeypatch.setattr("lit_gans.distributed.dist_nn.all_reduce", lambda t: t + stats_of(x1))
    out = layer(x0)
    assert (out - expected).abs().max() < 1e-4
    assert (layer.running_mean - reference.running_mean).abs().max() < 1e-5
    assert (layer.running_var - reference.running_var).abs().max() < 1e-4
    reverted = BatchNormSync("cpu").revert(nn.Sequential(layer))[0]
    assert type(reverted) is nn.BatchNorm2d and reverted.running_mean is layer.running_mean


# --- launches through the CLI --------------------------------------------------------------------------------------
def cli_fit(folder: Path, extra: list[str]) -> list[str]:
    """``lit_gans.cli fit`` of a tiny DCGAN for 3 batches, each rank saving its final weights to ``folder``."""
    return ["-m", "lit_gans.cli", "fit", "--model", "DCGAN", "--data", "Digits", "--data.image_size", "8",
            "--data.batch_size", "8", "--model.z_dim", "4", "--model.g_channels", "4", "--model.d_channels", "4",
            "--seed_everything", "0", "--trainer.max_steps", "6", "--trainer.accelerator", "cpu",
            "--trainer.strategy", "ddp", "--trainer.default_root_dir", str(folder / "run"),
            "--trainer.limit_val_batches", "0", "--trainer.num_sanity_val_steps", "0", "--trainer.logger", "false",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
            "--samples.every_n_steps", "0",
            "--trainer.callbacks+=ddp_worker.RankWeights", f"--trainer.callbacks.folder={folder}", *extra]


def assert_same_final_weights(folder: Path) -> None:
    w0, w1 = (torch.load(folder / f"weights_rank{r}.pt", weights_only=True) for r in (0, 1))
    assert w0["world_size"] == w1["world_size"] == 2 and w0["g_steps"] == w1["g_steps"] == 3
    assert all(torch.equal(w0["state"][k], w1["state"][k]) for k in w0["state"])
    ckpt = read_checkpoint(next((folder / "run").rglob("last.ckpt")))  # written by rank 0
    assert all(torch.equal(ckpt["state_dict"][k], w0["state"][k]) for k in w0["state"])


def test_ddp_two_nodes_simulated_on_localhost(launches):
    """2 "nodes" of 1 process each: NODE_RANK 0 and 1, as a cluster scheduler would start them."""
    outputs = launches["two_nodes"].wait()
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in "".join(outputs)
    assert_same_final_weights(launches["two_nodes"].cwd)


def test_ddp_torchrun_launch(launches):
    """``torchrun --nproc_per_node 2 -m lit_gans.cli fit ...``: Lightning reads torchrun's environment."""
    launches["torchrun"].wait()
    assert_same_final_weights(launches["torchrun"].cwd)
