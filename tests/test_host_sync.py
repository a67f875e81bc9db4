"""No host synchronisation in a steady-state training step (``pytest -k sync``).

Every call that makes the CPU wait for the device — ``Tensor.item``, ``tolist``, ``cpu``, ``numpy``, and
``bool``/``int``/``float``/``index`` of a tensor — is counted while each variant trains a few dozen batches on the
CPU, when the call is made by lit_gans code (the frame that calls it is a file of the ``lit_gans`` package) during a
batch whose values are not logged (not the first batch of the fit, not a ``log_every_n_steps`` step): training step
and ``on_train_batch_*`` hooks of the module and of the usual callbacks. Expected: none, except the host reads that
docs/scale.md lists (:data:`DOCUMENTED`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from conftest import quick_trainer

import lit_gans
from lit_gans.callbacks.health import TrainingHealth
from lit_gans.callbacks.preemption import Preemption
from lit_gans.callbacks.samples import SampleGrid
from lit_gans.callbacks.throughput import Throughput
from lit_gans.callbacks.translations import TranslationTriplets
from lit_gans.compress.student import build_student
from lit_gans.data.digits import DigitsDataModule
from lit_gans.data.sequences import OracleDataModule
from lit_gans.data.toy import Toy2DDataModule
from lit_gans.data.unpaired import DigitsStylesDataModule
from lit_gans.models import MODELS
from lit_gans.models import base as base_module
from lit_gans.models.distill import Distillation

PACKAGE = str(Path(lit_gans.__file__).resolve().parent)
SYNCING = ("item", "tolist", "cpu", "numpy", "__bool__", "__int__", "__float__", "__index__")
#: host reads a variant needs, by (file name, function): none so far (docs/scale.md, "Host reads")
DOCUMENTED: set[tuple[str, str]] = set()


def digits(batch_size: int = 4) -> DigitsDataModule:
    return DigitsDataModule(image_size=8, batch_size=batch_size)


TINY = dict(z_dim=4, g_channels=4, d_channels=4)
#: variant -> (model class, keyword arguments, data, batches to train)
VARIANTS = {
    "gan": ("VanillaGAN", dict(z_dim=2, g_hidden=(8,), d_hidden=(8,), ema_decay=0.9),
            lambda: Toy2DDataModule(mixture="ring", num_samples=400, batch_size=8), 60),
    "cgan": ("CGAN", dict(net="dcgan", z_dim=4, base_channels=4), digits, 40),
    "dcgan": ("DCGAN", TINY, digits, 40),
    "wgan_clip": ("WGAN", dict(net="dcgan", n_critic=2, **TINY), digits, 40),
    "wgan_gp": ("WGANGP", dict(net="dcgan", n_critic=2, **TINY), digits, 40),
    "cyclegan": ("CycleGAN", dict(g_channels=4, d_channels=4, n_residual_blocks=1, d_layers=1, pool_size=3),
                 lambda: DigitsStylesDataModule(image_size=8, batch_size=2), 30),
    "stylegan2": ("StyleGAN2", dict(z_dim=8, w_dim=8, mapping_layers=2, channel_base=64, channel_max=8, r1_interval=2,
                                    pl_interval=3, ema_kimg=0.01, augment="color,translation,cutout"), digits, 30),
    # grows 4x4 -> 8x8 during the run (fade-in and stabilisation phases, optimizer resets)
    "progan": ("ProGAN", dict(z_dim=8, channels={4: 8, 8: 8}, fade_kimg=0.04, stable_kimg=0.04), digits, 40),
    # every stage: MLE, D pre-training, adversarial rounds (rollouts, policy gradient), 6 batches an epoch
    "seqgan": ("SeqGAN", dict(emb_dim=8, hidden_dim=8, d_emb_dim=8, d_filter_sizes=(2, 3), d_num_filters=(4, 4),
                              g_pretrain_epochs=2, d_pretrain_steps=1, adversarial_rounds=2, d_steps=1, d_epochs=1,
                              rollout_num=2),
               lambda: OracleDataModule(vocab_size=12, seq_len=6, num_samples=48, num_val_samples=0, batch_size=8), 36),
}


class SyncCounter(L.Callback):
    """Counts the syncing calls of lit_gans code per batch (listed last: its batch hooks enclose the others'), and
    keeps those of the batches that logged nothing."""

    def __init__(self) -> None:
        self.batch_calls: list[str] = []
        self.calls: list[str] = []  # (kind, where) of the quiet batches
        self.quiet_batches = 0
        self.counting = False

    #: the code whose calls count: lit_gans's files
    scope: tuple[str, ...] = (PACKAGE,)

    def note(self, kind: str, frame) -> None:
        if self.counting and frame.f_code.co_filename.startswith(self.scope):
            self.batch_calls.append(f"{kind} in {Path(frame.f_code.co_filename).name}:{frame.f_lineno} "
                                    f"({frame.f_code.co_name})")

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.batch_calls, self.counting = [], True

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.counting = False
        if not pl_module.logged_last_step:  # a steady-state batch: nothing logged, nothing to read
            self.quiet_batches += 1
            self.calls += self.batch_calls


@pytest.fixture
def counter(monkeypatch):
    """A SyncCounter that sees every syncing Tensor method while the test runs."""
    return patched_for(SyncCounter(), monkeypatch)


def patched_for(counter: SyncCounter, monkeypatch) -> SyncCounter:
    for name in SYNCING:
        original = getattr(torch.Tensor, name)

        def patched(self, *args, _original=original, _name=name, **kwargs):
            counter.note(_name, sys._getframe(1))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, patched)
    return counter


def fit_counting(counter: SyncCounter, variant: str, folder: Path, log_every_n_steps: int = 10**6) -> L.LightningModule:
    cls, kwargs, data, batches = VARIANTS[variant]
    torch.manual_seed(0)
    dm = data()
    model = MODELS[cls](data_shape=dm.data_shape, num_classes=dm.num_classes, **kwargs)
    callbacks = [SampleGrid(every_n_steps=10**6), TrainingHealth(every_n_steps=0), Throughput(), Preemption()]
    if variant == "cyclegan":
        callbacks.append(TranslationTriplets(every_n_steps=10**6, num_images=4))
    # SeqGAN ends by itself after its stages (5 epochs of 6 batches); the others after `batches` batches
    length = dict(max_steps=-1, max_epochs=-1) if variant == "seqgan" else dict(max_steps=2 * batches)
    trainer = quick_trainer(callbacks=[*callbacks, counter], log_every_n_steps=log_every_n_steps,
                            default_root_dir=folder, **length)
    trainer.fit(model, dm)
    return model


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_no_host_sync_between_logging_steps(counter, variant, tmp_path):
    fit_counting(counter, variant, tmp_path, log_every_n_steps=10)
    assert counter.quiet_batches >= 15  # most batches are steady-state ones
    undocumented = [c for c in counter.calls if not any(f"{f}:" in c and fn in c for f, fn in DOCUMENTED)]
    assert undocumented == [], f"{variant}: {len(undocumented)} host syncs, e.g. {sorted(set(undocumented))[:5]}"


def test_sync_counter_catches_a_counter_read_back_from_a_buffer(counter, monkeypatch, tmp_path):
    """The counter works: a generator cadence that reads a device buffer back, written as lit_gans code (compiled
    under the file name of lit_gans/models/base.py), is caught on every steady-state batch."""
    source = ("def generator_step_due(self):\n"
              "    return int(self.step_buffer) % self.n_critic == 0\n")
    namespace: dict = {}
    exec(compile(source, base_module.__file__, "exec"), namespace)
    monkeypatch.setattr(base_module.GANModule, "generator_step_due", namespace["generator_step_due"])
    monkeypatch.setattr(base_module.GANModule, "step_buffer", torch.zeros((), dtype=torch.long), raising=False)
    fit_counting(counter, "gan", tmp_path, log_every_n_steps=10)
    assert len(counter.calls) == counter.quiet_batches > 0 and all(c.startswith("__int__ in base.py") for c in counter.calls)


class BatchToBatchCounter(SyncCounter):
    """Counts the syncing calls of lit_gans and of Lightning from one batch's start to the next's: Lightning reads a
    batch's progress-bar values back after the batch's hooks (``_LoggerConnector.on_batch_end``)."""

    scope = (PACKAGE, str(Path(L.__file__).resolve().parent))

    def __init__(self) -> None:
        super().__init__()
        self.quiet = False

    def close(self) -> None:
        if self.counting and self.quiet:
            self.quiet_batches += 1
            self.calls += self.batch_calls

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.close()
        self.batch_calls, self.counting = [], True

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.quiet = not pl_module.logged_last_step

    def on_train_end(self, trainer, pl_module):
        self.close()
        self.counting = False


def fit_distillation(counter: SyncCounter, folder: Path, steps: int = 30) -> Distillation:
    """``lit-gans compress --method distill``'s training of a StyleGAN2 student (noise inputs, DiffAugment in D)."""
    torch.manual_seed(0)
    teacher = MODELS["StyleGAN2"](data_shape=(1, 8, 8), z_dim=8, w_dim=8, mapping_layers=1, channel_base=64,
                                  channel_max=8, augment="color,translation")
    module = Distillation(teacher, build_student(teacher, 0.5), steps=steps, batch_size=4, feature_weight=1.0)
    quick_trainer(max_steps=steps, log_every_n_steps=10, default_root_dir=folder, callbacks=[counter]).fit(module)
    return module


def test_distillation_reads_the_host_only_on_logging_steps(monkeypatch, tmp_path):
    counter = patched_for(BatchToBatchCounter(), monkeypatch)
    fit_distillation(counter, tmp_path)
    assert counter.quiet_batches >= 25  # 30 batches: the first and every 10th log
    assert counter.calls == [], f"{len(counter.calls)} host syncs, e.g. {sorted(set(counter.calls))[:5]}"


def test_batch_to_batch_counter_catches_lightning_reading_values_logged_every_step(monkeypatch, tmp_path):
    """The counter works: distillation values logged to the progress bar on every step, as before 2026-12-02, are
    read back by Lightning after every batch."""
    def log_always(self, batch, batch_idx):
        z, cond = self.draw_inputs(self.hparams.batch_size)
        loss, logs = self.distillation_loss(z, cond)
        self.log_dict({f"distill/{k}": v for k, v in logs.items()}, prog_bar=True, batch_size=z.shape[0])
        self.logged_last_step = False  # counted as a quiet batch whatever it logs
        return loss

    monkeypatch.setattr(Distillation, "training_step", log_always)
    counter = patched_for(BatchToBatchCounter(), monkeypatch)
    fit_distillation(counter, tmp_path, steps=12)
    assert counter.quiet_batches == 12 and any("item in apply_func.py" in c for c in counter.calls), counter.calls[:5]
