"""A real one-node SLURM cluster on localhost for the tests: munge, ``slurmctld`` and ``slurmd`` from Debian's
``slurm-wlm`` and ``munge`` packages, started as children of the test process with their own key, configuration,
state and ports in one temporary folder, and stopped afterwards with everything they started.

Every process of the cluster (daemons, ``slurmstepd``, the jobs' tasks) inherits ``LIT_GANS_SLURM_CLUSTER=<folder>``,
so :meth:`SlurmCluster.stop` finds what is left by its environment and checks that nothing is.

Where the binaries are missing or the cluster does not start, the tests skip, except when ``LIT_GANS_REQUIRE_SLURM``
(set by ``.ci/run``) or ``CI`` is set: then they fail with the reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional

import pytest

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "srun", "scontrol", "scancel", "squeue", "sinfo")
MARKER = "LIT_GANS_SLURM_CLUSTER"  # in the environment of every process the cluster starts
START_TIMEOUT = 60  # seconds for the node to register as idle


class ClusterError(RuntimeError):
    """The cluster could not start (the message says why)."""


def required() -> bool:
    """Whether a missing or broken SLURM fails the tests instead of skipping them (CI)."""
    return bool(os.environ.get("LIT_GANS_REQUIRE_SLURM") or os.environ.get("CI"))


def unavailable(reason: str) -> None:
    """Skip, or fail where SLURM is required."""
    message = f"SLURM cluster not available: {reason}"
    if required():
        pytest.fail(message + " (LIT_GANS_REQUIRE_SLURM or CI is set, so this is a failure; .ci/run installs "
                              "slurm-wlm and munge)", pytrace=False)
    pytest.skip(message)


def missing_binaries() -> list[str]:
    return [name for name in (*DAEMONS, *CLIENTS, "slurmstepd") if shutil.which(name, path=_search_path()) is None]


def _search_path() -> str:
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def _vanished():
    """Ignores a process that exited while it was being looked at."""
    return contextlib.suppress(ProcessLookupError, FileNotFoundError, PermissionError)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def slurm_conf(folder: Path, node: str, cpus: int) -> str:
    """A minimal configuration: no cgroups (``proctrack/linuxproc``, ``task/none``), no accounting database; finished
    jobs stay visible to ``scontrol`` for an hour (``MinJobAge``); jobs may be requeued (``JobRequeue``)."""
    return f"""\
ClusterName=litgans
SlurmctldHost={node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={folder}/munge/munge.socket
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=1
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
JobRequeue=1
MinJobAge=3600
KillWait=30
InactiveLimit=0
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


class SlurmCluster:
    """One node named after this host, one partition (``debug``), this machine's cores or ``cpus``."""

    def __init__(self, folder: Path, cpus: Optional[int] = None) -> None:
        self.folder = folder
        self.conf = folder / "slurm.conf"
        self.node = socket.gethostname().split(".")[0]
        self.cpus = cpus or len(os.sched_getaffinity(0))  # more than the machine has: SLURM trusts the config
        self.daemons: dict[str, subprocess.Popen] = {}

    def env(self, **extra: str) -> dict[str, str]:
        """The environment for SLURM's commands and the jobs they submit (sbatch passes it on to the job)."""
        return {**os.environ, "PATH": _search_path(), "SLURM_CONF": str(self.conf), MARKER: str(self.folder), **extra}

    # --- start and stop -----------------------------------------------------------------------------------------------
    def start(self) -> None:
        munge = self.folder / "munge"
        for sub in (munge, self.folder / "state", self.folder / "spool"):
            sub.mkdir(parents=True, exist_ok=True)
        munge.chmod(0o700)
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))  # the cluster's own key: it never meets the host's munge
        key.chmod(0o400)
        self.conf.write_text(slurm_conf(self.folder, self.node, self.cpus))
        self._spawn("munged", ["munged", "--foreground", "--force", f"--socket={munge}/munge.socket",
                               f"--key-file={key}", f"--log-file={munge}/munged.log",
                               f"--pid-file={munge}/munged.pid", f"--seed-file={munge}/munged.seed"])
        self._wait_for(lambda: (munge / "munge.socket").exists(), "munged did not create its socket",
                       munge / "munged.log")
        self._spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", str(self.conf)])
        self._spawn("slurmd", ["slurmd", "-D", "-N", self.node, "-f", str(self.conf)])
        self._wait_for(lambda: self.node_state() == "idle", f"node {self.node} did not become idle",
                       self.folder / "slurmd.log")

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (self.folder / f"{name}.out").open("w")
        self.daemons[name] = subprocess.Popen(command, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                              start_new_session=True)

    def _wait_for(self, condition, what: str, log: Path) -> None:
        deadline = time.time() + START_TIMEOUT
        while not condition():
            dead = [name for name, p in self.daemons.items() if p.poll() is not None]
            if dead or time.time() > deadline:
                reason = f"{dead[0]} exited with status {self.daemons[dead[0]].returncode}" if dead else what
                raise ClusterError(f"{reason}; {self.log_tail(dead[0] if dead else None, log)}")
            time.sleep(0.2)

    def log_tail(self, daemon: Optional[str], log: Path, lines: int = 15) -> str:
        """The last lines of a daemon's output and of a log file, for the message of a failed start."""
        files = [p for p in (self.folder / f"{daemon}.out", log) if p.exists()]
        tail = "\n".join(line for p in files for line in p.read_text(errors="replace").splitlines()[-lines:])
        return f"the logs end with:\n{tail}" if tail.strip() else f"no log in {self.folder}"

    def stop(self) -> list[str]:
        """Cancels every job, stops the daemons, kills what they left, and returns what was left (for the test to
        assert that nothing was)."""
        if "slurmctld" in self.daemons and self.daemons["slurmctld"].poll() is None:
            subprocess.run(["scancel", "--full", *self.job_ids()], env=self.env(), capture_output=True, timeout=30)
            deadline = time.time() + 40
            while self._left_over(exclude_daemons=True) and time.time() < deadline:
                time.sleep(0.2)
        for name in reversed(DAEMONS):
            proc = self.daemons.get(name)
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        left = self._left_over(exclude_daemons=False)
        for pid, _ in left:
            with _vanished():
                os.kill(pid, signal.SIGKILL)
        return [f"{pid} {command}" for pid, command in left]

    def _left_over(self, exclude_daemons: bool) -> list[tuple[int, str]]:
        """Live processes that carry this cluster's marker in their environment (slurmstepd, job tasks, ...); with
        ``exclude_daemons``, without the daemons and their own children (slurmctld's slurmscriptd)."""
        daemons = {p.pid for p in self.daemons.values()} if exclude_daemons else set()
        needle = f"{MARKER}={self.folder}".encode() + b"\0"
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            with _vanished():
                environ = (entry / "environ").read_bytes() + b"\0"
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()  # state, parent, ...
                if needle in environ and stat[0] != "Z" and not {int(entry.name), int(stat[1])} & daemons:
                    found.append((int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
        return found

    # --- commands ----------------------------------------------------------------------------------------------------
    def run(self, *command: str, check: bool = True, **extra_env: str) -> str:
        done = subprocess.run(command, env=self.env(**extra_env), capture_output=True, text=True, timeout=60)
        if check and done.returncode != 0:
            raise ClusterError(f"{' '.join(command)} exited with {done.returncode}: {done.stderr.strip()}")
        return done.stdout

    def node_state(self) -> str:
        return self.run("sinfo", "-h", "-N", "-o", "%T", check=False).strip()

    def job_ids(self) -> list[str]:
        return self.run("squeue", "-h", "-o", "%i", check=False).split()

    def sbatch(self, *args: str, cwd: Path, **extra_env: str) -> str:
        """Submits a batch job and returns its id."""
        done = subprocess.run(["sbatch", "--parsable", *args], env=self.env(**extra_env), cwd=cwd,
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise ClusterError(f"sbatch {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout.strip().split(";")[0]

    def job(self, job_id: str) -> dict[str, str]:
        """``scontrol show job`` as a dictionary (JobState, Restarts, ExitCode, ...)."""
        fields = {}
        for item in self.run("scontrol", "-o", "show", "job", job_id).split():
            key, _, value = item.partition("=")
            fields[key] = value
        return fields

    def wait(self, job_id: str, states: tuple[str, ...] = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT",
                                                              "NODE_FAIL", "OUT_OF_MEMORY"),
             timeout: float = 300) -> dict[str, str]:
        """Polls the job until its state is one of ``states``; returns its fields."""
        deadline = time.time() + timeout
        while True:
            job = self.job(job_id)
            if job["JobState"] in states:
                return job
            if time.time() > deadline:
                raise TimeoutError(f"job {job_id} still {job['JobState']} after {timeout} s")
            time.sleep(0.5)


def start_cluster(folder: Path, cpus: Optional[int] = None) -> SlurmCluster:
    """Starts a cluster in ``folder``; skips or fails (see :func:`required`) when it cannot."""
    missing = missing_binaries()
    if missing:
        unavailable(f"{', '.join(missing)} not found (apt-get install slurm-wlm munge)")
    if os.geteuid() != 0:
        unavailable("the daemons run as root here (SlurmUser=root), and this process is not root")
    cluster = SlurmCluster(folder, cpus)
    try:
        cluster.start()
    except (ClusterError, OSError, subprocess.SubprocessError) as error:
        cluster.stop()
        unavailable(f"it did not start: {error}")
    return cluster
