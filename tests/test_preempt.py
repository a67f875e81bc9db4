"""Pre-emption: SIGTERM / SIGUSR1 save last.ckpt and exit 0; the same command continues; checkpoints are atomic."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

import lit_gans.checkpoints.atomic as checkpoint_io
from lit_gans.callbacks.preemption import Preemption
from lit_gans.checkpoints.atomic import AtomicCheckpointIO
from lit_gans.cli import main
from test_resume import TINY_GAN, fit

ROOT = Path(__file__).resolve().parents[1]



def preemptible_command(root: Path) -> list[str]:
    """The one command a job script runs, first launch and relaunch alike."""
    return ["fit", *TINY_GAN, "--trainer.default_root_dir", str(root), "--checkpoint.dirpath", str(root / "ckpt"),
            "--checkpoint.every_n_train_steps", "10", "--ckpt_path", "last"]


def launch(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "lit_gans.cli", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_preempt_sigterm_mid_epoch_then_the_same_command_finishes_the_run(tmp_path):
    last = tmp_path / "ckpt" / "last.ckpt"
    run = launch(preemptible_command(tmp_path))
    deadline = time.time() + 120
    while not last.exists() and run.poll() is None and time.time() < deadline:  # written at step 10 (batch 5)
        time.sleep(0.02)
    run.send_signal(signal.SIGTERM)
    out, _ = run.communicate(timeout=120)
    assert run.returncode == 0, out[-2000:]
    assert "stopped by a signal" in out, out[-2000:]
    stopped = torch.load(last, weights_only=True)
    assert 10 <= stopped["global_step"] < 2 * 60, stopped["global_step"]  # 2 optimizer steps a batch, 60 batches
    assert stopped["global_step"] % (2 * 30) != 0  # in the middle of an epoch

    main(preemptible_command(tmp_path))  # the relaunch (in this process: a second Lightning import costs 10-30 s)
    resumed = torch.load(last, weights_only=True)
    assert resumed["global_step"] == 2 * 60

    # the same training without the interruption, in this process (one thread, like the subprocesses)
    main(["fit", *TINY_GAN, "--trainer.default_root_dir", str(tmp_path / "straight"),
          "--checkpoint.dirpath", str(tmp_path / "straight")])
    straight = torch.load(tmp_path / "straight" / "last.ckpt", weights_only=True)
    assert straight["global_step"] == resumed["global_step"]
    for key, tensor in straight["state_dict"].items():
        assert torch.equal(tensor, resumed["state_dict"][key]), key


class SignalAt(Callback):
    """Sends ``signum`` to this process at the end of training batch ``batch`` (counted from 1)."""

    def __init__(self, batch: int, signum: int) -> None:
        self.batch, self.signum, self.seen = batch, signum, 0

    def on_train_batch_end(self, *args) -> None:
        self.seen += 1
        if self.seen == self.batch:
            os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize("batch", [2, 3], ids=["mid_epoch", "last_batch_of_epoch"])
def test_preempt_sigusr1_saves_last_ckpt_and_resumes_exactly(tmp_path, batch):
    straight = fit("VanillaGAN", seed=0).state_dict()  # 2 epochs of 3 batches, EMA and LR schedulers
    preemption = Preemption()
    with pytest.raises(SystemExit) as stop:  # Lightning's SIGTERMException: exit status 0
        fit("VanillaGAN", seed=0, callbacks=[preemption, ModelCheckpoint(dirpath=tmp_path, save_last=True),
                                             SignalAt(batch, signal.SIGUSR1)], enable_checkpointing=True)
    assert stop.value.code in (None, 0)
    assert preemption.saved_path == str(tmp_path / "last.ckpt")
    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["epoch"] == (1 if batch == 3 else 0)
    resumed = fit("VanillaGAN", seed=7, ckpt_path=tmp_path / "last.ckpt").state_dict()
    assert [k for k, v in straight.items() if not torch.equal(v, resumed[k])] == []


def test_preempt_crash_while_writing_keeps_the_old_last_ckpt(tmp_path, monkeypatch):
    io, path = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"step": torch.tensor(1)}, path)
    renamed = []

    def killed_before_the_rename(src, dst):  # the process dies after writing the new bytes, before swapping them in
        renamed.append(Path(src))
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint_io.os, "replace", killed_before_the_rename)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": torch.tensor(2)}, path)
    assert renamed[0].parent == path.parent  # the temporary file is beside the target: same filesystem, atomic rename
    monkeypatch.undo()

    def torn_write(obj, f):  # the process dies half-way through writing
        f.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint_io.torch, "save", torn_write)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": torch.tensor(3)}, path)
    monkeypatch.undo()
    assert int(torch.load(path, weights_only=True)["step"]) == 1  # still the old, complete checkpoint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]  # no temporary file left behind
    io.save_checkpoint({"step": torch.tensor(4)}, path)
    assert int(torch.load(path, weights_only=True)["step"]) == 4
