"""W&B offline: the evaluation metrics and the sample grids land in the offline run's files, with no account."""

from __future__ import annotations

import functools
import json
import logging
import struct
import time
from pathlib import Path

import lightning as L
import pytest
import torch

from lit_gans.callbacks.evaluation import Evaluation
from lit_gans.callbacks.samples import SampleGrid
from lit_gans.data.digits import DigitsDataModule
from lit_gans.metrics.testing import digits_classifier_file
from lit_gans.models.gan import VanillaGAN


def wandb_history(run_file: Path) -> list[dict]:
    """The history rows of an offline ``run-*.wandb`` file: LevelDB-log records (7-byte file header, 32 KiB blocks,
    records of crc32, length, type) holding W&B's protobuf ``Record`` messages."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, pos, chunk, rows, block = run_file.read_bytes(), 7, b"", [], 32768
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST: a whole record
            record = pb.Record.FromString(chunk)
            chunk = b""
            if record.WhichOneof("record_type") == "history":
                rows.append({i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item})
    return rows


def test_wandb_offline_run_holds_metrics_and_sample_images(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    from lightning.pytorch.loggers import WandbLogger

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    torch.manual_seed(0)
    opt = functools.partial(torch.optim.Adam, lr=2e-4, betas=(0.5, 0.999))
    model = VanillaGAN(data_shape=(1, 8, 8), z_dim=8, g_hidden=(32,), d_hidden=(32,), g_optimizer=opt, d_optimizer=opt)
    logger = WandbLogger(project="lit_gans_test", save_dir=str(tmp_path), offline=True, tags=["VanillaGAN", "digits"])
    evaluation = Evaluation(every_n_epochs=0, num_samples=64, backbone=digits_classifier_file(), metrics=["fid"],
                            cache_dir=str(tmp_path / "cache"))
    trainer = L.Trainer(max_steps=4, accelerator="cpu", logger=logger, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                        callbacks=[evaluation, SampleGrid(every_n_steps=0, num_samples=16)], default_root_dir=tmp_path)
    trainer.fit(model, datamodule=DigitsDataModule(image_size=8, batch_size=32))
    fid = evaluation.history[-1][1]["fid"]
    run_dir = Path(logger.experiment.dir).parent  # .../wandb/offline-run-<time>-<id>
    logger.experiment.finish()
    runs = list(run_dir.parent.glob("offline-run-*"))
    assert runs == [run_dir]  # one run, no duplicate
    run_file = next(run_dir.glob("run-*.wandb"))
    for _ in range(20):  # W&B's writer is a separate process: under load its last records can trail finish()
        rows = wandb_history(run_file)
        if any("samples/_type" in row for row in rows):
            break
        time.sleep(0.5)
    fids = [row["eval/fid"] for row in rows if "eval/fid" in row]
    assert len(fids) == 1, f"{run_file.stat().st_size} bytes, history keys {[sorted(r) for r in rows]}"
    assert abs(fids[0] - fid) < 1e-6
    grids = [row for row in rows if row.get("samples/_type") == "images/separated"]
    assert len(grids) == 1
    image = runs[0] / "files" / grids[0]["samples/filenames"][0]
    assert image.is_file() and image.stat().st_size > 100
