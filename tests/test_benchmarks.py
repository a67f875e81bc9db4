"""Smoke runs of the long benchmark scripts at toy sizes: they must run end to end and write what their docs say.

The scripts' numbers come from long runs (README); these checks only catch a script that breaks before it writes
anything (as a learning-curve change once did, 25 minutes into a run).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "experiments" / "benchmarks"


def _run(script: str, *args: str, cwd: Path = ROOT, timeout: int = 300) -> None:
    """Runs a benchmark script as a user would, on this checkout's lit_gans, W&B offline; fails with its stderr."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), WANDB_MODE="offline")
    out = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True,
                         timeout=timeout, cwd=cwd, env=env)
    assert out.returncode == 0, f"{script} failed:\n{out.stderr[-3000:]}"


def test_stylegan2_digits_scores_learning_curves_and_overfitting(tmp_path):
    out = tmp_path / "sg2.json"
    _run("stylegan2_digits.py", "--budget", "3", "--score-at", "1.5", "--n-fake", "64",
         "--runs", "fid_stylegan2", "fid_10pct_plain", "--out", str(out))
    report = json.loads(out.read_text())
    assert report["command"].endswith("--n-fake 64 --score-at 1.5 --runs fid_stylegan2 fid_10pct_plain")
    for key in ("fid_stylegan2", "fid_10pct_plain"):
        curve = report["runs"][key]["curve"]
        assert len(curve) == 2 and 1.5 <= curve[0]["cpu_s"] < curve[1]["cpu_s"]
        assert abs(curve[1]["fid"] - report[key]) < 1e-9 and report[key] > 0
        assert -1.0 <= curve[1]["r_t"] <= 1.0
        # the same samples before the clip to [-1, 1]: a linear toRGB overshoots, the clip changes some pixels
        assert curve[1]["fid_unclipped"] > 0 and 0 < curve[1]["unclipped_share"] < 1
    # D's held-out check exists only where images were held out (the 10% run holds out the other 90%)
    assert "d_held_out" in report["runs"]["fid_10pct_plain"]["curve"][0]
    assert "d_held_out" not in report["runs"]["fid_stylegan2"]["curve"][0]


def test_seqgan_oracle_stage_means_follow_the_curves(tmp_path):
    config = yaml.safe_load((ROOT / "experiments/seqgan/oracle_cpu.yaml").read_text())
    config["model"]["init_args"].update(g_pretrain_epochs=2, d_pretrain_steps=1, adversarial_rounds=2, rollout_num=2)
    config["data"]["init_args"].update(num_samples=256)
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "seqgan.json"
    _run("seqgan_oracle.py", "--config", str(tmp_path / "tiny.yaml"), "--seeds", "0", "1", "--num-eval", "64",
         "--mle-extra", "2", "--every", "1", "--out", str(out))
    report = json.loads(out.read_text())
    stage = report["stage_mean"]
    for seed, seqgan, mle in zip((0, 1), stage["per_seed"]["seqgan"], stage["per_seed"]["mle_continued"]):
        adversarial = [v for _, name, v in report["curves"][f"seqgan seed {seed}"] if name == "adversarial"]
        extra = [v for epoch, _, v in report["curves"][f"mle_continued seed {seed}"] if epoch >= 2]
        assert len(adversarial) == len(extra) == 2  # the same number of measurements on both sides
        assert abs(seqgan - sum(adversarial) / 2) < 1e-9 and abs(mle - sum(extra) / 2) < 1e-9
    assert abs(stage["gain"] - (stage["nll_mle_continued"] - stage["nll_seqgan"])) < 1e-9
    # the end-of-stage keys the issue names, and the last adversarial measurement is the SeqGAN one
    assert abs(report["per_seed"]["seqgan"][0] - report["curves"]["seqgan seed 0"][-1][2]) < 1e-9
    assert "--every 1 --config" in report["command"]
