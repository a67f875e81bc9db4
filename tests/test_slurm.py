"""The SLURM templates (experiments/slurm/*.sbatch) on a real one-node SLURM cluster (tests/slurm_cluster.py), with
their CPU settings (``ACCELERATOR=cpu``: DDP over gloo, one process per task):

1. ``sbatch single_node.sbatch`` runs a tiny GAN to completion (state COMPLETED, ``last.ckpt`` and samples written);
2. ``sbatch multi_node.sbatch`` with 2 tasks: Lightning takes world size and ranks from SLURM; USR1 to one of the
   tasks stops both after the same batch, the job requeues itself and resumes; both ranks end with the same weights;
3. the same job as 1 is signalled USR1 (Lightning's requeue signal) at step 40, then requeued by ``scontrol requeue``
   (SIGTERM) at step 90: it saves ``last.ckpt`` each time, comes back under the same job id, resumes, and ends with
   the step count and the weights, bit for bit, of job 1, which ran uninterrupted.

The three jobs are submitted together (the cluster's node offers 4 CPUs, see ``CPUS``); the tests skip where
SLURM's binaries are missing, and fail instead in CI (``LIT_GANS_REQUIRE_SLURM``).
"""

from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess
from typing import Callable, Optional

import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

import slurm_cluster
from lit_gans.callbacks import preemption
from lit_gans.callbacks.preemption import Preemption
from lit_gans.checkpoints import read_checkpoint
from slurm_cluster import SlurmCluster, free_port, start_cluster
from test_preempt import SignalAt
from test_resume import fit

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
TEMPLATES = ROOT / "experiments" / "slurm"
#: CPUs the test node offers: the three jobs at once (they wait on imports and signals more than they compute)
CPUS = 4
TIMEOUT = 400  # seconds for one job on a loaded 2-core machine (a run took 54-106 s at load 20, mostly imports)
STEPS = 2 * 60  # optimizer steps of the tiny run: 2 epochs of 30 batches, a D and a G step each


def usr1(cluster: SlurmCluster, job: "Job", step: int) -> None:
    """USR1 to every task, as ``--signal=SIGUSR1@90`` and SLURM's pre-emption warning send it."""
    cluster.run("scancel", "--signal=USR1", job.id)


def requeue(cluster: SlurmCluster, job: "Job", step: int) -> None:
    """An administrator's requeue (and PreemptMode=REQUEUE's): SLURM sends SIGTERM to every task, then requeues."""
    cluster.run("scontrol", "requeue", job.id)


def usr1_to_rank_1_only(cluster: SlurmCluster, job: "Job", step: int) -> None:
    """USR1 to rank 1 alone, then rank 0 goes on: the ranks must still agree to stop after this batch (as when the
    signal reaches the tasks during different batches)."""
    os.kill(json.loads((job.folder / f"paused_at_{step}_rank1").read_text())["pid"], signal.SIGUSR1)
    (job.folder / f"go_{step}").touch()


STOPS = {40: usr1, 90: requeue}  # job 3: after step 40 (epoch 0) and after step 90 (epoch 1)
DDP_STEPS, DDP_STOPS = 40, {20: usr1_to_rank_1_only}  # job 2: 20 batches, interrupted after the 10th
TINY = """\
seed_everything: 0
trainer:
  logger: false
  max_epochs: 2
  limit_train_batches: 30
  limit_val_batches: 0
  enable_progress_bar: false
  enable_model_summary: false
model:
  class_path: lit_gans.models.VanillaGAN
  init_args: {z_dim: 8, g_hidden: [16], d_hidden: [16]}
data:
  class_path: lit_gans.data.DigitsDataModule
  init_args: {batch_size: 8}
samples:
  every_n_steps: 20
  num_samples: 16
"""
#: the templates' GPU settings replaced by one CPU per task
CPU = ["--gres=none", "--cpus-per-task=1", "--ntasks-per-node=1", "--time=15"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    started = start_cluster(tmp_path_factory.mktemp("slurm"), cpus=CPUS)
    yield started
    left = started.stop()
    assert left == [], f"processes of the SLURM cluster still ran after it stopped (now killed): {left}"


def submit(cluster: SlurmCluster, folder: Path, template: str, *options: str, fit: tuple[str, ...] = ()) -> str:
    """``sbatch <options> experiments/slurm/<template> <fit>`` with the tiny config, run folder ``folder/run``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny.yaml").write_text(TINY)
    return cluster.sbatch(*CPU, *options, f"--output={folder}/slurm-%j.out", str(TEMPLATES / template), *fit,
                          cwd=folder, CONFIG=str(folder / "tiny.yaml"), RUN_DIR=str(folder / "run"),
                          ACCELERATOR="cpu", PRECISION="32-true", OMP_NUM_THREADS="1",
                          PYTHONPATH=f"{ROOT}:{TESTS}", PYTHONWARNINGS="ignore",
                          # Lightning's default, 15000 + the job id's last 4 digits, is taken when two clusters (or
                          # jobs 1000 apart) share a machine
                          MASTER_PORT=str(free_port()))


@dataclass
class Job:
    id: str
    folder: Path
    interrupted: Optional[Future] = None  # the thread that signals and requeues the job (see ``interrupt``)


@pytest.fixture(scope="module")
def jobs(cluster, tmp_path_factory) -> dict[str, Job]:
    """The three jobs, submitted together; the two that are interrupted are each driven by a thread."""
    straight, preempted, ddp = (tmp_path_factory.mktemp(name) for name in ("straight", "preempted", "ddp"))
    pause = ("--trainer.callbacks+=slurm_job.PauseAt", f"--trainer.callbacks.folder={preempted}",
             f"--trainer.callbacks.steps={list(STOPS)}")
    ranks = ("--trainer.callbacks+=slurm_job.SlurmRanks", f"--trainer.callbacks.folder={ddp}",
             "--trainer.callbacks+=ddp_worker.RankWeights", f"--trainer.callbacks.folder={ddp}",
             "--trainer.callbacks+=slurm_job.PauseAt", f"--trainer.callbacks.folder={ddp}",
             f"--trainer.callbacks.steps={list(DDP_STOPS)}", "--trainer.max_epochs", "1",
             "--trainer.limit_train_batches", str(DDP_STEPS // 2))
    two_tasks = ("--nodes=1", "--ntasks-per-node=2")
    submitted = {"straight": Job(submit(cluster, straight, "single_node.sbatch"), straight),
                 "preempted": Job(submit(cluster, preempted, "single_node.sbatch", fit=pause), preempted),
                 "ddp": Job(submit(cluster, ddp, "multi_node.sbatch", *two_tasks, fit=ranks), ddp)}
    pool = ThreadPoolExecutor(max_workers=2)
    for name, stops in (("preempted", STOPS), ("ddp", DDP_STOPS)):
        submitted[name].interrupted = pool.submit(interrupt, cluster, submitted[name], stops)
    yield submitted
    cluster.run("scancel", *(job.id for job in submitted.values()), check=False)  # ends a thread still waiting
    pool.shutdown()


def interrupt(cluster: SlurmCluster, job: Job, stops: dict[int, Callable]) -> None:
    """Each time the job pauses after a step of ``stops`` (tests/slurm_job.PauseAt, every rank), interrupts it as
    that step says, then lets the requeued job start."""
    ranks = int(cluster.job(job.id)["NumTasks"])
    for restarts, (step, interruption) in enumerate(stops.items(), start=1):
        for rank in range(ranks):
            wait_for_file(cluster, job.folder / f"paused_at_{step}_rank{rank}", job.id, job.folder)
        interruption(cluster, job, step)
        release(cluster, job.id, restarts)


def job_log(folder: Path, job_id: str) -> str:
    path = folder / f"slurm-{job_id}.out"
    return path.read_text(errors="replace") if path.exists() else ""


def finished(cluster: SlurmCluster, job_id: str, folder: Path) -> dict[str, str]:
    job = cluster.wait(job_id, timeout=TIMEOUT)
    assert job["JobState"] == "COMPLETED", (job, job_log(folder, job_id)[-3000:])
    return job


def wait_for_file(cluster: SlurmCluster, path: Path, job_id: str, folder: Path) -> None:
    deadline = time.time() + TIMEOUT
    while not path.exists():
        state = cluster.job(job_id)["JobState"]
        assert state in ("PENDING", "RUNNING", "REQUEUED", "COMPLETING"), (state, job_log(folder, job_id)[-3000:])
        assert time.time() < deadline, f"{path.name} not written in {TIMEOUT} s: {job_log(folder, job_id)[-3000:]}"
        time.sleep(0.2)


def release(cluster: SlurmCluster, job_id: str, restarts: int) -> None:
    """Lets the requeued job start now: slurmctld makes a requeued job wait 120 s (its EligibleTime) first."""
    deadline = time.time() + TIMEOUT
    while (job := cluster.job(job_id))["JobState"] != "PENDING" or job["Restarts"] != str(restarts):
        assert time.time() < deadline, f"job {job_id} not requeued: {job['JobState']}"
        time.sleep(0.2)
    # slurmd revoked the killed run's credential; a new one issued within the same second counts as revoked too
    # ("Killing non-startable batch job: Job credential revoked", seen once in ~5 runs), so start it a little later
    time.sleep(2.0)
    cluster.run("scontrol", "update", f"JobId={job_id}", "StartTime=now")


def test_slurm_single_node_job_completes(cluster, jobs):
    job = finished(cluster, jobs["straight"].id, jobs["straight"].folder)
    assert job["Restarts"] == "0" and job["ExitCode"] == "0:0"
    run = jobs["straight"].folder / "run"
    ckpt = read_checkpoint(run / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] == STEPS
    assert {"step_0000040.png", "last.png"} <= {p.name for p in (run / "samples").iterdir()}


def test_slurm_preempted_job_is_requeued_and_resumes_exactly(cluster, jobs):
    job_id, folder = jobs["preempted"].id, jobs["preempted"].folder
    jobs["preempted"].interrupted.result()  # scancel USR1 after step 40, scontrol requeue after step 90
    job = finished(cluster, job_id, folder)
    assert job["Restarts"] == "2"
    paused = [json.loads((folder / f"paused_at_{step}_rank0").read_text()) for step in STOPS]
    assert [p["restarts"] for p in paused] == ["0", "1"]  # SLURM_RESTART_COUNT of the runs that were interrupted

    log = job_log(folder, job_id)  # --open-mode=append: the three runs in one file
    first, second = STOPS
    assert log.count("stopped by a signal") == 2, log[-3000:]
    assert f"stopped by a signal at step {first};" in log and f"stopped by a signal at step {second};" in log
    assert log.count(f"requeued SLURM job {job_id}") == 1  # by the job itself after USR1; SLURM did it after SIGTERM
    assert log.count("Restoring states from the checkpoint path") == 2, log[-3000:]
    run = folder / "run"
    assert list(run.glob("hpc_ckpt_*")) == []  # Lightning's own requeue handler did not run
    assert sorted(p.name for p in (run / "checkpoints").glob("last*")) == ["last.ckpt"]

    finished(cluster, jobs["straight"].id, jobs["straight"].folder)
    expected = read_checkpoint(jobs["straight"].folder / "run" / "checkpoints" / "last.ckpt")
    resumed = read_checkpoint(run / "checkpoints" / "last.ckpt")
    assert resumed["global_step"] == expected["global_step"] == STEPS
    assert resumed["state_dict"].keys() == expected["state_dict"].keys()
    assert [k for k, v in expected["state_dict"].items() if not torch.equal(v, resumed["state_dict"][k])] == []


def test_slurm_two_tasks_train_ddp_with_ranks_from_slurm_and_stop_together(cluster, jobs):
    job_id, folder = jobs["ddp"].id, jobs["ddp"].folder
    jobs["ddp"].interrupted.result()  # USR1 to rank 1 after step 20
    job = finished(cluster, job_id, folder)
    assert job["NumTasks"] == "2" and job["Restarts"] == "1"
    log = job_log(folder, job_id)
    (stop,) = DDP_STOPS
    assert f"stopped by a signal at step {stop};" in log and log.count(f"requeued SLURM job {job_id}") == 1
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in log and list((folder / "run").glob("hpc_ckpt_*")) == []
    ranks = [json.loads((folder / f"rank{r}.json").read_text()) for r in (0, 1)]  # written by the resumed run
    for r, rank in enumerate(ranks):
        assert rank["environment"] == "SLURMEnvironment" and rank["world_size"] == 2
        assert rank["global_rank"] == int(rank["SLURM_PROCID"]) == r == rank["local_rank"] == int(rank["SLURM_LOCALID"])
        assert rank["SLURM_JOB_ID"] == job_id and rank["node_rank"] == 0 and rank["SLURM_RESTART_COUNT"] == "1"
    w0, w1 = (torch.load(folder / f"weights_rank{r}.pt", weights_only=True) for r in (0, 1))
    assert w0["world_size"] == w1["world_size"] == 2 and w0["g_steps"] == w1["g_steps"] == DDP_STEPS // 2
    assert [k for k in w0["state"] if not torch.equal(w0["state"][k], w1["state"][k])] == []
    ckpt = read_checkpoint(folder / "run" / "checkpoints" / "last.ckpt")  # rank 0's, equal to both
    assert all(torch.equal(ckpt["state_dict"][k], w0["state"][k]) for k in w0["state"])


# --- the callback's SLURM path in this process, without a cluster -----------------------------------------------------
def test_slurm_requeue_signal_without_a_cluster_stops_after_the_batch_saves_and_requeues(tmp_path, monkeypatch):
    """SLURM's variables make Lightning pick its SLURMEnvironment (auto-requeue); ``scontrol`` is recorded, not run."""
    slurm = {"SLURM_NTASKS": "1", "SLURM_JOB_NAME": "lit-gans", "SLURM_JOB_ID": "4242", "SLURM_PROCID": "0",
             "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_NODELIST": "localhost"}
    for name, value in slurm.items():
        monkeypatch.setenv(name, value)
    calls = []
    monkeypatch.setattr(preemption.subprocess, "run", lambda cmd, **kw: calls.append(cmd) or CompletedProcess(cmd, 0))
    straight = fit("VanillaGAN", seed=0).state_dict()  # 2 epochs of 3 batches
    callback = Preemption()
    with pytest.raises(SystemExit) as stop:  # before the Preemption callback: it agrees to stop after this batch
        fit("VanillaGAN", seed=0, callbacks=[SignalAt(2, signal.SIGUSR1), callback,
                                             ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)],
            enable_checkpointing=True, default_root_dir=tmp_path)
    assert stop.value.code in (None, 0) and callback.slurm_requeue and callback.requeue
    assert calls == [["scontrol", "requeue", "4242"]]
    assert torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)["global_step"] == 2 * 2  # after batch 2
    assert sorted(p.name for p in tmp_path.rglob("*.ckpt")) == ["last.ckpt"]  # no hpc_ckpt_1.ckpt of Lightning's
    resumed = fit("VanillaGAN", seed=7, ckpt_path=tmp_path / "ckpt" / "last.ckpt").state_dict()
    assert [k for k, v in straight.items() if not torch.equal(v, resumed[k])] == []


# --- where SLURM is missing or broken: a skip here, a failure that says why in CI -------------------------------------
@pytest.mark.parametrize("ci", [True, False], ids=["ci", "elsewhere"])
def test_slurm_missing_binaries_fail_in_ci_and_skip_elsewhere(tmp_path, monkeypatch, ci):
    monkeypatch.setattr(slurm_cluster.shutil, "which", lambda name, path=None: None if name == "slurmd" else name)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("LIT_GANS_REQUIRE_SLURM", "1") if ci else monkeypatch.delenv("LIT_GANS_REQUIRE_SLURM", False)
    with pytest.raises(pytest.fail.Exception if ci else pytest.skip.Exception, match="slurmd not found"):
        start_cluster(tmp_path)


def test_slurm_cluster_that_does_not_start_fails_in_ci_with_the_reason(tmp_path, monkeypatch):
    if slurm_cluster.missing_binaries():
        slurm_cluster.unavailable(f"{slurm_cluster.missing_binaries()} not found")
    monkeypatch.setenv("LIT_GANS_REQUIRE_SLURM", "1")
    monkeypatch.setattr(slurm_cluster, "slurm_conf", lambda *args: "NoSuchParameter=1\n")
    with pytest.raises(pytest.fail.Exception, match="slurmctld exited with status") as failure:
        start_cluster(tmp_path)
    assert "NoSuchParameter" in str(failure.value)  # the daemon's own words
    assert SlurmCluster(tmp_path)._left_over(exclude_daemons=False) == []  # munged was stopped
