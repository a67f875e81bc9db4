"""``lit-gans report`` on run folders made by tiny real fits (CSV, TensorBoard, W&B offline), and the W&B logger the
configs use: offline with no credentials, never prompting, the run described by variant, dataset and config."""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

import lightning as L
import pytest
from lightning.pytorch.loggers import CSVLogger
from PIL import Image

from lit_gans import loggers
from lit_gans.callbacks.throughput import Throughput
from lit_gans.cli import main
from lit_gans.commands import report
from lit_gans.errors import UserError
from lit_gans.data.digits import DigitsDataModule
from lit_gans.models.dcgan import DCGAN
from lit_gans.commands.runlogs import read_run, wandb_records

REPO = Path(__file__).resolve().parents[1]
BATCHES, BATCH = 6, 8


def tiny_fit(root: Path, logger_cls, seed: int) -> Path:
    """A 6-batch DCGAN fit logging every batch; returns the logger's run folder."""
    L.seed_everything(seed)
    model = DCGAN(data_shape=(1, 8, 8), z_dim=4, g_channels=4, d_channels=4)
    logger = logger_cls(root)
    trainer = L.Trainer(max_steps=2 * BATCHES, accelerator="cpu", logger=logger, log_every_n_steps=1,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[Throughput()])
    trainer.fit(model, DigitsDataModule(image_size=8, batch_size=BATCH))
    return Path(logger.log_dir)


@pytest.fixture(scope="module")
def csv_runs(tmp_path_factory):
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    root = tmp_path_factory.mktemp("csv")
    return [tiny_fit(root, CSVLogger, seed) for seed in (0, 1)]


def csv_column(run: Path, name: str) -> list[tuple[int, float]]:
    with open(run / "metrics.csv", newline="") as f:
        return [(int(r["step"]), float(r[name])) for r in csv.DictReader(f) if r[name]]


def table_row(text: str, section: str, metric: str) -> list[str]:
    body = text.split(section, 1)[1]
    line = next(ln for ln in body.splitlines() if ln.startswith(f"| {metric} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_report_of_two_csv_runs(csv_runs, tmp_path, capsys):
    out = tmp_path / "cmp" / "report.md"
    report.main([str(r) for r in csv_runs] + ["--out", str(out)])
    text = out.read_text()
    assert text.strip() in capsys.readouterr().out
    for i, run in enumerate(csv_runs, 1):
        d_loss = csv_column(run, "train/d_loss")
        _, final, best, at = table_row(text, f"## {i}. `{run}`", "train/d_loss")
        best_step, best_value = min(d_loss, key=lambda p: p[1])
        assert abs(float(final) - d_loss[-1][1]) < 1e-3 * abs(d_loss[-1][1])
        assert abs(float(best) - best_value) < 1e-3 * abs(best_value) and int(at) == best_step
        assert table_row(text, f"## {i}. `{run}`", "train/d_real")[2:] == ["—", "—"]  # no direction, no best
        # summary: every image of the 6 batches counted; images/s = images / elapsed of the same logging step
        row = next(ln for ln in text.splitlines() if ln.startswith(f"| {i} | `{run}`"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        elapsed = csv_column(run, "time/elapsed_s")[-1][1]
        assert cells[2] == "csv" and int(cells[4]) == BATCHES - 1 and float(cells[6]) == BATCHES * BATCH
        assert abs(float(cells[5]) - elapsed) < 1e-3 * elapsed
        assert abs(float(cells[7]) - BATCHES * BATCH / elapsed) < 1e-3 * BATCHES * BATCH / elapsed
    plots = sorted((tmp_path / "cmp" / "report_plots").glob("*.png"))
    assert [p.name for p in plots] == ["train_d_fake.png", "train_d_grad_norm.png", "train_d_loss.png",
                                       "train_d_real.png", "train_g_grad_norm.png", "train_g_loss.png",
                                       "train_g_steps.png"]
    assert "![train/d_loss](report_plots/train_d_loss.png)" in text
    with Image.open(plots[2]) as img:
        assert img.size == (600, 350)


def test_report_best_rule():
    assert [report.direction(m) for m in ("train/Dmain/d_loss", "eval/kid", "metrics/nll_oracle", "eval/recall",
                                          "eval/precision", "metrics/bleu2", "eval/is_std", "health/diversity")] == \
        ["min", "min", "min", "max", "max", "max", None, None]
    points = [(0, 3.0), (2, 1.0), (4, float("nan")), (6, 1.0)]
    assert report.best(points, "eval/fid") == (2, 1.0) and report.best(points, "eval/is") == (0, 3.0)


def test_report_one_line_errors(csv_runs, tmp_path, capsys):
    cases = [([str(tmp_path / "missing")], "is not a folder"),
             ([str(tmp_path)], "has no run logs"),
             ([str(csv_runs[0].parent)], "holds 2 csv runs")]
    for argv, needle in cases:
        with pytest.raises(SystemExit) as e:
            main(["report", *argv, "--out", str(tmp_path / "r.md")])
        err = capsys.readouterr().err.strip()
        assert e.value.code == 2 and needle in err and len(err.splitlines()) == 1


def test_report_reads_tensorboard_runs(tmp_path):
    pytest.importorskip("tensorboard")
    from lightning.pytorch.loggers import TensorBoardLogger

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    run = read_run(tiny_fit(tmp_path, TensorBoardLogger, 0))
    assert run.source == "tensorboard" and len(run.scalars["train/d_loss"]) == BATCHES
    assert run.scalars["time/images"][-1] == (BATCHES - 1, float(BATCHES * BATCH))
    assert run.config["z_dim"] == 4 and run.config["data_shape"] == [1, 8, 8]


# --- the W&B logger of the configs ------------------------------------------------------------------------------------
def no_credentials(monkeypatch, home: Path) -> None:
    for var in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_IDENTITY_TOKEN_FILE", "WANDB_BASE_URL", "NETRC"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(home))  # no ~/.netrc
    monkeypatch.setenv("WANDB_DIR", str(home))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(home / ".config"))


def test_offline_reason(monkeypatch, tmp_path):
    no_credentials(monkeypatch, tmp_path)
    monkeypatch.setattr(loggers, "reachable", lambda *a: pytest.fail("no network without credentials"))
    assert "no W&B credentials for api.wandb.ai" in loggers.offline_reason()
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert loggers.offline_reason() is None  # the user's choice; wandb reads it
    monkeypatch.delenv("WANDB_MODE")
    (tmp_path / ".netrc").write_text("machine api.wandb.ai\n  login user\n  password 0123456789abcdef\n")
    monkeypatch.setattr(loggers, "reachable", lambda host, port, timeout: False)
    assert loggers.offline_reason() == "api.wandb.ai cannot be reached"
    monkeypatch.setattr(loggers, "reachable", lambda host, port, timeout: host == "api.wandb.ai")
    assert loggers.offline_reason() is None
    assert loggers.WandbLogger(offline=None)._offline is False and loggers.WandbLogger(offline=True)._offline


def test_shipped_config_logs_to_wandb_offline_and_report_reads_it(tmp_path, monkeypatch, capsys):
    wandb = pytest.importorskip("wandb")
    no_credentials(monkeypatch, tmp_path)
    args = ["fit", "-c", str(REPO / "experiments/dcgan/digits.yaml"), "--trainer.max_steps", "4",
            "--trainer.log_every_n_steps", "1", "--trainer.default_root_dir", str(tmp_path / "runs"),
            "--trainer.enable_progress_bar", "false", "--data.image_size", "8", "--model.g_channels", "4",
            "--model.d_channels", "4", "--model.z_dim", "4", "--samples.every_n_steps", "0"]
    try:
        main(args)
    finally:
        wandb.finish()
        wandb.teardown()  # the writer process has written everything and exited
    run_dir = tmp_path / "runs" / "lightning_logs" / "version_0"
    assert (run_dir / "checkpoints" / "last.ckpt").is_file() and (run_dir / "samples" / "last.png").is_file()
    offline = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(offline) == 1  # one run, offline
    wandb_file = next(offline[0].glob("run-*.wandb"))
    record = next(r.run for r in wandb_records(wandb_file) if r.WhichOneof("record_type") == "run")
    assert record.run_group == "DCGAN" and list(record.tags) == ["DCGAN", "Digits"]
    # the report reads the metrics.csv kept beside the W&B run: the stable form
    run = read_run(run_dir)
    assert run.source == "csv" and run.config["model"]["class_path"] == "lit_gans.models.DCGAN"
    assert run.config["data"]["init_args"]["image_size"] == 8 and run.config["z_dim"] == 4
    assert [s for s, _ in run.scalars["train/d_loss"]] == [0, 1] and run.scalars["time/images"][-1][1] == 128.0
    capsys.readouterr()
    report.main([str(run_dir), "--no-plots", "--out", str(tmp_path / "r.md")])
    assert re.search(r"\| 1 \| `.*version_0` \| csv \|  \| 1 \| [0-9.]+ \| 128 \|", capsys.readouterr().out)
    # a run written before (W&B alone) is read from the .wandb file, with wandb's version: the same numbers
    (run_dir / "metrics.csv").unlink()
    old = read_run(run_dir)
    assert old.source == "wandb" and old.tags == ["DCGAN", "Digits"] and old.config["z_dim"] == 4
    for name in ("train/d_loss", "train/g_loss", "time/images"):
        assert [s for s, _ in old.scalars[name]] == [s for s, _ in run.scalars[name]]
        assert max(abs(a - b) for (_, a), (_, b) in zip(old.scalars[name], run.scalars[name])) < 1e-5
    wandb_file.write_bytes(wandb_file.read_bytes()[:7] + b"\x00\x00\x00\x00\x05\x00\x01garbage" + b"\x00" * 64)
    with pytest.raises(SystemExit):
        main(["report", str(run_dir), "--no-plots", "--out", str(tmp_path / "r2.md")])
    assert f"cannot be read with wandb {wandb.__version__}" in capsys.readouterr().err
