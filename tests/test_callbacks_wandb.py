"""W&B offline: the evaluation metrics and the sample grids land in the offline run's files, with no account."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import lightning as L
import pytest
import torch

from lit_gans.callbacks.evaluation import Evaluation
from lit_gans.callbacks.samples import SampleGrid
from lit_gans.data.digits import DigitsDataModule
from metric_fixtures import digits_classifier_file
from lit_gans.models.gan import VanillaGAN
from lit_gans.commands.runlogs import wandb_history


def test_wandb_offline_run_holds_metrics_and_sample_images(tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb")
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
    wandb.teardown()  # W&B writes from a separate process: after teardown it has written everything and exited
    runs = list(run_dir.parent.glob("offline-run-*"))
    assert runs == [run_dir]  # one run, no duplicate
    run_file = next(run_dir.glob("run-*.wandb"))
    rows = wandb_history(run_file)
    fids = [row["eval/fid"] for row in rows if "eval/fid" in row]
    assert len(fids) == 1, f"{run_file.stat().st_size} bytes, history keys {[sorted(r) for r in rows]}"
    assert abs(fids[0] - fid) < 1e-6
    grids = [row for row in rows if row.get("samples/_type") == "images/separated"]
    assert len(grids) == 1
    image = runs[0] / "files" / grids[0]["samples/filenames"][0]
    assert image.is_file() and image.stat().st_size > 100
