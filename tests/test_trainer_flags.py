"""The Trainer options Lightning users reach for, through ``lit-gans`` on tiny runs of the shipped digits config.

Each option either works (and the test checks what it must do) or stops with one line naming the option and what
to use instead. The training runs go through the real command in subprocesses (several options a run, to keep the
file short); the one-line refusals and the fast dev run of every variant run in this process through the same
``main``. W&B logging itself is covered by tests/test_report.py (a real offline run read back by ``lit-gans report``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from lit_gans.cli import main

REPO = Path(__file__).resolve().parents[1]
DIGITS = str(REPO / "experiments/dcgan/digits.yaml")
TINY = ["--data.image_size", "8", "--model.g_channels", "4", "--model.d_channels", "4", "--model.z_dim", "4",
        "--trainer.enable_model_summary", "false", "--samples.every_n_steps", "0"]


def lit_gans(tmp: Path, *args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    """``lit-gans fit -c digits.yaml <tiny sizes> ARGS`` in ``tmp`` (runs under ``tmp/runs``), as a new process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")]), "WANDB_MODE": "offline",
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "lit_gans.cli", "fit", "-c", DIGITS, *TINY,
           "--trainer.default_root_dir", str(tmp / "runs"), *args]
    out = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Traceback (most recent call last)" not in out.stderr
    assert "Tip:" not in out.stdout + out.stderr  # no third-party advertisement
    return out


def lines(path: Path) -> list[dict]:
    return [json.loads(ln) for ln in path.read_text().splitlines()]


def csv_rows(path: Path) -> list[dict]:
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_fast_dev_run_with_profiler_anomaly_detection_and_determinism(tmp_path):
    out = lit_gans(tmp_path, "--trainer.fast_dev_run", "true", "--trainer.profiler", "simple",
                   "--trainer.detect_anomaly", "true", "--trainer.deterministic", "true", "--trainer.benchmark", "true")
    assert "FIT Profiler Report" in out.stdout + out.stderr
    made = [p.relative_to(tmp_path).as_posix() for p in (tmp_path / "runs").rglob("*")]
    # the config's W&B logger makes no run, no checkpoint is written, nothing is logged; the sample grid is drawn
    assert not [p for p in made if p.endswith(".ckpt") or "wandb" in p or p.endswith(("metrics.csv", ".md"))], made
    assert "runs/samples/last.png" in made


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """8 optimizer steps (4 updates of each player) of 4-batch epochs, accumulating 2 batches an update, logged to
    CSV and TensorBoard, validated every 2 batches on 1 batch (last.ckpt is written at each validation)."""
    tmp = tmp_path_factory.mktemp("flags")
    lit_gans(tmp, "--trainer.logger", "CSVLogger", "--trainer.logger+=TensorBoardLogger",
             "--trainer.max_steps", "8", "--trainer.limit_train_batches", "4", "--trainer.limit_val_batches", "1",
             "--trainer.val_check_interval", "2", "--trainer.num_sanity_val_steps", "1",
             "--trainer.accumulate_grad_batches", "2", "--trainer.gradient_clip_val", "0.5",
             "--trainer.log_every_n_steps", "1", "--trainer.precision", "32-true", "--trainer.enable_progress_bar",
             "false", "--trainer.callbacks+=LearningRateMonitor",
             "--trainer.callbacks+=flag_probes.BatchLog", f"--trainer.callbacks.path={tmp / 'batches.jsonl'}",
             "--checkpoint.dirpath", str(tmp / "ck"))
    return tmp


def test_limits_accumulation_validation_and_loggers(trained):
    batches = lines(trained / "batches.jsonl")
    # limit_train_batches: 4 a epoch; accumulate_grad_batches: an update every 2nd batch
    assert [(b["epoch"], b["batch"]) for b in batches] == [(e, i) for e in range(2) for i in range(4)]
    assert [b["d_steps"] for b in batches] == [0, 1, 1, 2, 2, 3, 3, 4]
    ckpt = torch.load(trained / "ck" / "last.ckpt", weights_only=False)
    assert ckpt["global_step"] == 8 and int(ckpt["state_dict"]["d_steps"]) == int(ckpt["state_dict"]["g_steps"]) == 4
    run = trained / "runs" / "lightning_logs" / "version_0"  # CSVLogger's save_dir: trainer.default_root_dir
    rows = csv_rows(run / "metrics.csv")  # the CSV logger's run folder
    assert sum(1 for r in rows if r.get("val/d_loss")) == 4  # val_check_interval 2: twice in each 4-batch epoch
    # four updates (Lightning repeats the last logged values on the batches between them)
    assert len({r["train/d_loss"] for r in rows if r.get("train/d_loss")}) == 4
    assert any(k.startswith("lr-") for k in rows[0])  # LearningRateMonitor
    assert list((trained / "runs").rglob("events.out.tfevents.*"))  # the list's TensorBoard logger
    assert (run / "config.yaml").is_file() and (run / "samples" / "last.png").is_file()


def test_resume_from_last_in_double_precision(trained):
    (trained / "batches.jsonl").unlink()
    lit_gans(trained, "--trainer.logger", "false", "--ckpt_path", "last", "--checkpoint.dirpath", str(trained / "ck"),
             "--trainer.max_steps", "12", "--trainer.limit_train_batches", "4", "--trainer.limit_val_batches", "0",
             "--trainer.accumulate_grad_batches", "2", "--trainer.precision", "64-true",
             "--trainer.enable_progress_bar", "false",
             "--trainer.callbacks+=flag_probes.BatchLog", f"--trainer.callbacks.path={trained / 'batches.jsonl'}")
    batches = lines(trained / "batches.jsonl")
    # continues from the 4 updates of last.ckpt (the checkpoint of a validation inside an epoch: Lightning finishes
    # that epoch first) to 6
    assert batches[0]["epoch"] >= 1 and 4 <= batches[0]["d_steps"] <= 5 and batches[-1]["d_steps"] == 6
    ckpt = torch.load(trained / "ck" / "last.ckpt", weights_only=False)
    assert ckpt["global_step"] == 12 and ckpt["state_dict"]["generator.net.0.weight"].dtype == torch.float64


def test_overfit_batches_early_stopping_and_best_checkpoint_on_fid(tmp_path):
    from metric_fixtures import digits_classifier_file

    clf = digits_classifier_file(epochs=1)
    lit_gans(tmp_path, "--trainer.logger", "false", "--trainer.max_epochs", "4", "--trainer.overfit_batches", "2",
             "--trainer.check_val_every_n_epoch", "2", "--trainer.profiler", "advanced",
             "--trainer.precision", "bf16-mixed", "--trainer.enable_progress_bar", "false",
             "--trainer.callbacks+=lit_gans.callbacks.evaluation.Evaluation", "--trainer.callbacks.every_n_epochs=1",
             "--trainer.callbacks.every_n_steps=0", "--trainer.callbacks.num_samples=128",
             f"--trainer.callbacks.backbone={clf}", "--trainer.callbacks.metrics=[fid]",
             f"--trainer.callbacks.cache_dir={tmp_path / 'cache'}",
             "--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.monitor=eval/fid",
             "--trainer.callbacks.patience=100",
             "--trainer.callbacks+=flag_probes.BatchLog", f"--trainer.callbacks.path={tmp_path / 'batches.jsonl'}",
             "--trainer.callbacks+=flag_probes.EpochLog", f"--trainer.callbacks.path={tmp_path / 'epochs.jsonl'}",
             "--checkpoint.monitor", "eval/fid", "--checkpoint.save_top_k", "1",
             "--checkpoint.dirpath", str(tmp_path / "ck"))
    batches = lines(tmp_path / "batches.jsonl")
    assert [(b["epoch"], b["batch"]) for b in batches] == [(e, i) for e in range(4) for i in range(2)]
    first = {b["batch"]: b["fingerprint"] for b in batches if b["epoch"] == 0}
    assert first[0] != first[1] and all(b["fingerprint"] == first[b["batch"]] for b in batches)  # the same 2 batches
    epochs = lines(tmp_path / "epochs.jsonl")
    assert [e["validated"] for e in epochs if "validated" in e] == [1, 3]  # check_val_every_n_epoch 2
    fids = [e["fid"] for e in epochs if "epoch_end" in e]
    assert len(fids) == 4 and all(f is not None and f > 0 for f in fids)
    ckpt = torch.load(tmp_path / "ck" / "last.ckpt", weights_only=False)
    states = {k.split("{")[0]: v for k, v in ckpt["callbacks"].items()}
    assert min(abs(float(states["EarlyStopping"]["best_score"]) - f) for f in fids) < 1e-4
    best = states["ModelCheckpoint"]
    assert min(abs(float(best["best_model_score"]) - f) for f in fids) < 1e-4 and Path(best["best_model_path"]).is_file()


def test_max_time_without_logger_or_checkpoints(tmp_path):
    lit_gans(tmp_path, "--trainer.logger", "false", "--trainer.enable_checkpointing", "false",
             "--trainer.max_time", "00:00:00:04", "--trainer.max_epochs", "1000", "--trainer.limit_val_batches", "0",
             "--trainer.callbacks+=flag_probes.BatchLog", f"--trainer.callbacks.path={tmp_path / 'batches.jsonl'}")
    batches = lines(tmp_path / "batches.jsonl")
    assert 0 < len(batches) and batches[-1]["epoch"] < 999  # stopped by the clock
    assert not list(tmp_path.rglob("*.ckpt"))


# --- in this process: options that stop with one line, --print_config, and every variant's fast dev run -----------
def run_main(args: list[str], tmp_path: Path, capsys) -> tuple[int, list[str], str]:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        main(args)
        code = 0
    except SystemExit as e:
        code = e.code
    finally:
        os.chdir(cwd)
    captured = capsys.readouterr()
    return code, captured.err.strip().splitlines(), captured.out


FIT_DIGITS = ["fit", "-c", DIGITS, *TINY, "--trainer.default_root_dir", "runs"]


def test_print_config(tmp_path, capsys):
    code, _, out = run_main([*FIT_DIGITS, "--trainer.accumulate_grad_batches", "2", "--print_config"], tmp_path, capsys)
    config = yaml.safe_load(out)
    assert code == 0 and config["trainer"]["accumulate_grad_batches"] == 2
    assert config["model"]["init_args"]["z_dim"] == 4 and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("args,needle", [
    (["--trainer.logger", "lightning.pytorch.loggers.CSVLogger"],
     "trainer.logger\": lightning.pytorch.loggers.CSVLogger needs save_dir"),
    (["--trainer.gradient_clip_val", "1", "--trainer.gradient_clip_algorithm", "value"],
     "trainer.gradient_clip_algorithm=value is not supported"),
    (["--ckpt_path", "last"], "--ckpt_path last: no last.ckpt under runs"),
    (["-c", str(REPO / "experiments/cyclegan/digits.yaml"), "--trainer.accumulate_grad_batches", "2",
      "--trainer.fast_dev_run", "true"], "CycleGAN cannot accumulate gradients"),
])
def test_options_that_cannot_work_say_so_in_one_line(tmp_path, capsys, args, needle):
    code, err, _ = run_main([*FIT_DIGITS, *args], tmp_path, capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("lit-gans: error:") and needle in err[0], err


@pytest.mark.parametrize("option,package", [("--trainer.logger=MLFlowLogger", "mlflow"),
                                            ("--trainer.callbacks+=RichProgressBar", "rich")])
def test_optional_packages_work_or_are_named(tmp_path, capsys, option, package):
    code, err, _ = run_main([*FIT_DIGITS, option, "--trainer.fast_dev_run", "true"], tmp_path, capsys)
    errors = [line for line in err if "lit-gans:" in line]  # (Lightning's log lines may share stderr)
    try:
        __import__(package)
    except ImportError:
        assert code == 2 and len(errors) == 1 and f"needs the {package} package" in errors[0], err
        assert f"pip install {package}" in errors[0]
    else:
        assert code == 0 and not errors, err


def test_gradient_clip_val_becomes_clip_grad_norm():
    import lightning as L

    from lit_gans.callbacks.performance import ClipGradNorm
    from lit_gans.lightning_cli import manual_optimization_flags
    from lit_gans.models import VanillaGAN

    trainer, model = L.Trainer(gradient_clip_val=0.25, accumulate_grad_batches=3, logger=False), VanillaGAN()
    manual_optimization_flags(trainer, model)
    clips = [c for c in trainer.callbacks if isinstance(c, ClipGradNorm)]
    assert len(clips) == 1 and clips[0].max_norm == 0.25 and trainer.gradient_clip_val is None
    assert model.accumulate_grad_batches == 3 and trainer.accumulate_grad_batches == 1


#: one embedded-data config of each variant (no download, no feature network)
VARIANT_CONFIGS = ["gan/ring.yaml", "cgan/digits.yaml", "dcgan/digits.yaml", "wgan/digits.yaml",
                   "wgan_gp/digits.yaml", "cyclegan/digits.yaml", "stylegan2/digits.yaml", "progan/digits.yaml",
                   "seqgan/oracle_cpu.yaml"]


@pytest.mark.parametrize("config", VARIANT_CONFIGS)
def test_fast_dev_run_of_every_variant(config, tmp_path, capsys):
    """Two batches joined into one update (accumulation; CycleGAN refuses it, see above), no checkpoint, no W&B run."""
    accumulate = [] if config.startswith("cyclegan") else ["--trainer.accumulate_grad_batches", "2"]
    args = ["fit", "-c", str(REPO / "experiments" / config), "--trainer.fast_dev_run", "2", *accumulate,
            "--trainer.default_root_dir", "runs", "--trainer.enable_progress_bar", "false",
            "--trainer.enable_model_summary", "false", "--samples.every_n_steps", "1"]
    code, err, _ = run_main(args, tmp_path, capsys)
    assert code == 0, err
    assert not list(tmp_path.rglob("*.ckpt")) and not list(tmp_path.rglob("wandb"))
    assert list((tmp_path / "runs" / "samples").glob("last.*"))  # samples drawn after the update


def test_help_answers_without_torch(capsys):
    """``lit-gans --help`` and ``lit-gans sample --help`` import neither torch nor Lightning (start-up time:
    experiments/benchmarks/startup.py); ``lit-gans`` alone says what to choose, in one line."""
    code = ("import sys\nfrom lit_gans.cli import main\nfor argv in (['--help'], ['sample', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print(sorted(m for m in ('torch', 'lightning') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0 and out.stdout.strip().endswith("[]"), out.stderr
    assert "fit, validate, test, predict" in out.stdout and "lit-gans sample --ckpt CKPT" in out.stdout
    with pytest.raises(SystemExit) as e:
        main([])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and "choose a subcommand: fit, validate" in err[0]
