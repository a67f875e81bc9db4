"""The evaluation callback: metrics during fit equal torchmetrics on the same samples, the real-feature cache, and the
same FID with one process and with two (DDP over gloo on the CPU)."""

from __future__ import annotations

import functools
from pathlib import Path
import logging
import warnings

import lightning as L
import pytest
import torch
from lightning.pytorch.strategies import DDPStrategy
from torchmetrics.image import FrechetInceptionDistance

from lit_gans.callbacks.evaluation import Evaluation
from lit_gans.callbacks.samples import SampleGrid
from lit_gans.data.digits import DigitsDataModule
from lit_gans.metrics.classifier import ClassifierFeatures
from metric_fixtures import digits_classifier_file
from lit_gans.models.gan import VanillaGAN


@pytest.fixture(autouse=True)
def _quiet():
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _model(lr: float = 2e-4) -> VanillaGAN:
    torch.manual_seed(0)
    if lr:
        opt = functools.partial(torch.optim.Adam, lr=lr, betas=(0.5, 0.999))
    else:  # weights that never move: every run scores the same generator
        opt = functools.partial(torch.optim.SGD, lr=0.0)
    return VanillaGAN(data_shape=(1, 8, 8), z_dim=8, g_hidden=(32,), d_hidden=(32,), g_optimizer=opt, d_optimizer=opt)


def _trainer(max_steps: int, callbacks, **kwargs) -> L.Trainer:
    return L.Trainer(
        max_steps=max_steps, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=callbacks, **kwargs,
    )


def _direct_fid(model, real: torch.Tensor, cb: Evaluation) -> float:
    """torchmetrics alone, on the callback's samples: chunk i drawn with seed cb.seed + i."""
    fid = FrechetInceptionDistance(feature=ClassifierFeatures.load(cb.backbone_name))
    fid.update(real, real=True)
    for i in range(cb.num_chunks):
        n = min(cb.batch_size, cb.num_samples - i * cb.batch_size)
        fid.update(model.sample(n, seed=cb.seed + i), real=False)
    return float(fid.compute())


def test_evaluation_during_fit_matches_torchmetrics_and_caches_real_features(tmp_path):
    clf = digits_classifier_file()
    cb = Evaluation(every_n_steps=5, every_n_epochs=0, num_samples=150, batch_size=64, backbone=clf,
                    cache_dir=str(tmp_path))
    model, data = _model(), DigitsDataModule(image_size=8, batch_size=32)
    trainer = _trainer(20, [cb])  # 10 generator steps: evaluations at 5 and 10, none repeated at the end
    trainer.fit(model, datamodule=data)
    assert [step for step, _ in cb.history] == [5, 10]
    last = cb.history[-1][1]
    assert set(last) >= {"fid", "kid", "kid_std", "is", "is_std", "precision", "recall", "density", "coverage"}
    assert abs(float(trainer.callback_metrics["eval/fid"]) - last["fid"]) < 1e-6
    real = torch.cat([x for x, _ in torch.utils.data.DataLoader(data.val_set, batch_size=500)])
    assert abs(_direct_fid(model, real, cb) - last["fid"]) < 1e-4 * max(1.0, last["fid"])
    # training moved the generator: the two evaluations differ
    assert abs(cb.history[0][1]["fid"] - last["fid"]) > 1e-3
    cached = list((tmp_path / "real_features").glob("*.pt"))
    assert len(cached) == 1
    # a fresh callback reads the cache (same key); another dataset split gets its own entry
    again = Evaluation(num_samples=64, backbone=clf, cache_dir=str(tmp_path), metrics=["fid"])
    _trainer(2, [again], limit_val_batches=0).fit(_model(), datamodule=DigitsDataModule(image_size=8))
    assert len(list((tmp_path / "real_features").glob("*.pt"))) == 1
    other = Evaluation(num_samples=64, backbone=clf, cache_dir=str(tmp_path), metrics=["fid"])
    _trainer(2, [other]).fit(_model(), datamodule=DigitsDataModule(image_size=8, seed=1))
    assert len(list((tmp_path / "real_features").glob("*.pt"))) == 2


def test_evaluation_rejects_bad_settings():
    with pytest.raises(ValueError, match="num_samples must be >= 2"):
        Evaluation(num_samples=1)
    with pytest.raises(ValueError, match="unknown metrics"):
        Evaluation(metrics=["fid", "lpips"])


def test_same_fid_with_one_and_two_processes(tmp_path):
    """The union of the generated samples does not depend on the number of processes, nor does the gathered real
    set: FID agrees to 1e-4. The learning rate is 0 so that both runs score the same generator. The 2-process run
    goes first: its processes compute the real features in shares (179 images: unequal shares) and gather them into
    the cache, which must hold the backbone's outputs of the real images in order."""
    clf = digits_classifier_file()
    results = {}
    for devices in (2, 1):
        cb = Evaluation(every_n_epochs=0, num_samples=200, batch_size=32, backbone=clf, cache_dir=str(tmp_path),
                        metrics=["fid", "pr"], num_real=179)
        # plain DDP: GANModule.setup turns on the unused-parameter search its two players need
        strategy = DDPStrategy(start_method="fork") if devices == 2 else "auto"
        grids = [SampleGrid(every_n_steps=0, num_samples=4)] if devices == 2 else []  # rank 0 writes, all ranks take part
        trainer = _trainer(2, [cb, *grids], devices=devices, strategy=strategy, default_root_dir=tmp_path / str(devices))
        trainer.fit(_model(lr=0.0), datamodule=DigitsDataModule(image_size=8, batch_size=32))
        results[devices] = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("eval/")}
    assert sorted(p.name for p in (tmp_path / "2" / "samples").glob("*.png")) == [
        "interpolation_last.png", "interpolation_step_0000001.png", "last.png", "step_0000001.png"]
    (cache,) = (tmp_path / "real_features").glob("*.pt")  # written by the 2-process run, read by the other
    data = DigitsDataModule(image_size=8)
    data.setup()
    features, logits = ClassifierFeatures.load(clf).features_and_logits(data.val_set.tensors[0][:179])
    cached = torch.load(cache, weights_only=True)
    assert (cached["features"] - features).abs().max() < 1e-5 and (cached["logits"] - logits).abs().max() < 1e-5
    assert results[1]["eval/fid"] > 0.1
    assert abs(results[1]["eval/fid"] - results[2]["eval/fid"]) < 1e-4
    # precision/recall gather all features: identical sets give identical values
    assert abs(results[1]["eval/precision"] - results[2]["eval/precision"]) < 1e-6


def test_evaluation_config_builds(tmp_path, monkeypatch):
    from pathlib import Path

    from lit_gans.callbacks.health import TrainingHealth
    from lit_gans.cli import GANCLI
    from lit_gans.data import GANDataModule
    from lit_gans.models import GANModule

    monkeypatch.setenv("WANDB_MODE", "offline")
    config = Path(__file__).resolve().parents[1] / "experiments" / "dcgan" / "digits_eval.yaml"
    cli = GANCLI(GANModule, GANDataModule, subclass_mode_model=True, subclass_mode_data=True, run=False,
                 args=["-c", str(config), f"--trainer.default_root_dir={tmp_path}"], auto_configure_optimizers=False)
    kinds = {type(cb) for cb in cli.trainer.callbacks}
    assert {Evaluation, TrainingHealth} <= kinds
    assert type(cli.trainer.logger).__name__ == "WandbLogger"


def test_too_few_chunks_for_the_processes_is_a_clear_error():
    from types import SimpleNamespace

    cb = Evaluation(num_samples=100, batch_size=64, backbone=digits_classifier_file())  # 2 chunks
    trainer = SimpleNamespace(global_rank=0, world_size=4)
    with pytest.raises(ValueError, match="gives 2 chunks for 4 processes"):
        cb.evaluate(trainer, SimpleNamespace(g_steps=torch.tensor(0)))


def test_evaluation_and_losses_share_one_step_axis(tmp_path):
    """Evaluations are logged at the step the losses are: the batches done, not the optimizer steps (two a batch)."""
    import csv

    from lightning.pytorch.loggers import CSVLogger

    cb = Evaluation(every_n_steps=5, every_n_epochs=0, num_samples=64, batch_size=64, backbone=digits_classifier_file(),
                    cache_dir=str(tmp_path), metrics=["fid"], at_train_end=False)
    logger = CSVLogger(tmp_path / "logs")
    trainer = L.Trainer(max_steps=20, accelerator="cpu", logger=logger, log_every_n_steps=1, limit_val_batches=0,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, callbacks=[cb])
    trainer.fit(_model(), datamodule=DigitsDataModule(image_size=8, batch_size=32))
    with open(Path(logger.log_dir) / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    eval_steps = [int(r["step"]) for r in rows if r.get("eval/fid")]
    loss_steps = [int(r["step"]) for r in rows if r.get("train/g_loss")]
    assert trainer.global_step == 20 and len(loss_steps) == 10  # 10 batches, 2 optimizer steps each
    # the evaluations after generator updates 5 and 10 sit at the steps of batches 5 and 10, as the losses do
    assert eval_steps == [loss_steps[4], loss_steps[9]], (eval_steps, loss_steps)
    assert max(eval_steps) < trainer.global_step
