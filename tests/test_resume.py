"""Exact resume for every variant: N batches straight == stop after k batches + resume from the checkpoint, bit for bit.

A straight run writes checkpoints in passing (``trainer.save_checkpoint`` at the end of batch k, what ModelCheckpoint
and the pre-emption callback do); a fresh process-like run (new model, other seed) resumes from each and must end with
the same weights, EMA, buffers (schedule positions, counters) and optimizer moments. Stops are placed in the middle of
an epoch and at the end of one.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Callable

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from lit_gans.data.digits import DigitsDataModule
from lit_gans.data.sequences import OracleDataModule
from lit_gans.data.unpaired import DigitsStylesDataModule
from lit_gans.models import MODELS
from lit_gans.checkpoints.format import CHECKPOINT_FORMAT, CheckpointError, check_checkpoint
from lit_gans.checkpoints.resume import ResumableDataLoader, loop_states

# 27 training digits in batches of 8: 3 batches an epoch (drop_last)
digits = lambda size=8: DigitsDataModule(image_size=size, batch_size=8, val_fraction=0.985)  # noqa: E731
adam = lambda lr=1e-3: (lambda p: torch.optim.Adam(p, lr=lr, betas=(0.5, 0.99)))  # noqa: E731
step_lr = lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)  # noqa: E731

#: name -> (model factory, data factory, epochs, trainer extras). Each keeps its variant's state machinery on:
#: EMA, schedulers, n_critic > 1, lazy regularisation + DiffAugment, fade-in, history pools, SeqGAN's stages.
VARIANTS: dict[str, tuple[Callable, Callable, int, dict]] = {
    "VanillaGAN": (lambda: MODELS["VanillaGAN"](data_shape=(1, 8, 8), z_dim=8, g_hidden=(16,), d_hidden=(16,),
                                                d_dropout=0.2, ema_decay=0.9, g_scheduler=step_lr,
                                                d_scheduler=step_lr), digits, 2, {}),
    "CGAN": (lambda: MODELS["CGAN"](data_shape=(1, 8, 8), num_classes=10, z_dim=8, hidden=(16, 16)), digits, 2, {}),
    "DCGAN": (lambda: MODELS["DCGAN"](data_shape=(1, 16, 16), z_dim=8, g_channels=8, d_channels=4, max_channels=8,
                                      ema_decay=0.9), lambda: digits(16), 2, {}),
    "WGAN": (lambda: MODELS["WGAN"](data_shape=(1, 8, 8), net="mlp", z_dim=8, g_hidden=(16,), d_hidden=(16,),
                                    n_critic=2), digits, 2, {}),
    "WGANGP": (lambda: MODELS["WGANGP"](data_shape=(1, 8, 8), net="mlp", z_dim=8, g_hidden=(16,), d_hidden=(16,),
                                        n_critic=2), digits, 2, {}),
    "CycleGAN": (lambda: MODELS["CycleGAN"](data_shape=(1, 16, 16), g_channels=4, d_channels=4, n_residual_blocks=1,
                                            d_layers=1, pool_size=3, n_epochs=1, n_epochs_decay=2),
                 lambda: DigitsStylesDataModule(batch_size=2), 2, {"limit_train_batches": 3}),
    "StyleGAN2": (lambda: MODELS["StyleGAN2"](data_shape=(1, 8, 8), z_dim=16, w_dim=16, mapping_layers=2,
                                              channel_base=128, channel_max=16, r1_interval=2, pl_interval=2,
                                              augment="color,translation,cutout"), digits, 2, {}),
    "ProGAN": (lambda: MODELS["ProGAN"](data_shape=(1, 16, 16), z_dim=8, channels={4: 8, 8: 8, 16: 4},
                                        fade_kimg=0.024, stable_kimg=0.008), lambda: digits(16), 2, {}),
    "SeqGAN": (lambda: MODELS["SeqGAN"](data_shape=(6,), num_classes=12, emb_dim=8, hidden_dim=8, d_emb_dim=8,
                                        d_filter_sizes=(2, 3), d_num_filters=(4, 4), g_pretrain_epochs=1,
                                        d_pretrain_steps=1, d_epochs=1, d_steps=1, adversarial_rounds=2,
                                        rollout_num=2),
               lambda: OracleDataModule(vocab_size=12, seq_len=6, num_samples=24, num_val_samples=0, batch_size=8),
               3, {}),
}
#: command-line arguments of a tiny VanillaGAN run on the digits: 2 epochs of 30 batches
TINY_GAN = ["--model", "VanillaGAN", "--data", "Digits", "--data.init_args.batch_size", "8", "--model.init_args.z_dim",
            "8", "--model.init_args.g_hidden=[16]", "--model.init_args.d_hidden=[16]", "--seed_everything", "0",
            "--trainer.max_epochs", "2", "--trainer.limit_train_batches", "30", "--trainer.limit_val_batches", "0",
            "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
            "--trainer.enable_model_summary", "false", "--samples.every_n_steps", "0"]
# stops: after batch 3, the last of epoch 0, before its epoch-end hooks (schedulers, SeqGAN's stage) ran; after batch 5,
# in the middle of epoch 1 (SeqGAN: D pre-training)
STOPS = (3, 5)


class SaveAfterBatches(Callback):
    """Writes ``ckpts[k]`` at the end of the k-th training batch (counted from 1), as ModelCheckpoint would."""

    def __init__(self, ckpts: dict[int, Path]) -> None:
        self.ckpts, self.batches = ckpts, 0

    def on_train_batch_end(self, trainer, *args) -> None:
        self.batches += 1
        if self.batches in self.ckpts:
            trainer.save_checkpoint(self.ckpts[self.batches])


def fit(name: str, seed: int, ckpt_path=None, callbacks=(), **trainer_args) -> L.LightningModule:
    make_model, make_data, epochs, extra = VARIANTS[name]
    defaults = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    L.seed_everything(seed, verbose=False)
    model = make_model()
    trainer = L.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, num_sanity_val_steps=0, limit_val_batches=0,
                        callbacks=list(callbacks), **(defaults | extra | trainer_args))
    trainer.fit(model, make_data(), ckpt_path=ckpt_path)
    return model


def test_every_variant_is_covered():
    assert set(VARIANTS) == set(MODELS)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_resume_is_bit_identical(name, tmp_path):
    ckpts = {k: tmp_path / f"after{k}.ckpt" for k in STOPS}
    straight_model = fit(name, seed=0, callbacks=[SaveAfterBatches(ckpts)])
    straight, straight_moments = straight_model.state_dict(), optimizer_moments(straight_model)
    assert straight_moments  # every optimizer has stepped and holds its moments
    assert any(k.startswith("generator") or k.startswith("G_") for k in straight)
    for k, path in ckpts.items():
        raw = torch.load(path, weights_only=True)  # a resume never needs to unpickle code
        assert raw["lit_gans_model"] == name and raw["lit_gans_format"] == CHECKPOINT_FORMAT
        assert loop_states(raw)[0]["served"] == k % 3  # batches done in its epoch (0: finished)
        resumed_model = fit(name, seed=123, ckpt_path=path)  # another seed: everything must come from the file
        resumed, resumed_moments = resumed_model.state_dict(), optimizer_moments(resumed_model)
        assert straight.keys() == resumed.keys() and straight_moments.keys() == resumed_moments.keys()
        different = [key for key, t in straight.items() if not torch.equal(t, resumed[key])]
        different += [key for key, t in straight_moments.items() if not torch.equal(t, resumed_moments[key])]
        assert not different, f"{name} resumed after batch {k}: {different[:5]}"


def optimizer_moments(model: L.LightningModule) -> dict[str, torch.Tensor]:
    """The state tensors of every optimizer after a fit (Adam's two moments and step, RMSProp's average), keyed by
    optimizer index, parameter index and name."""
    return {f"opt{i}.param{p}.{name}": torch.as_tensor(value)
            for i, opt in enumerate(model.trainer.optimizers)
            for p, state in opt.state_dict()["state"].items() for name, value in state.items()}


def test_resume_without_the_loader_state_is_not_exact(tmp_path):
    """The check above can fail: the same mid-epoch resume with the loader's position dropped from the checkpoint
    (Lightning's behaviour for a plain DataLoader: the epoch starts over on a new shuffle) ends elsewhere."""
    path = tmp_path / "after2.ckpt"
    straight = fit("DCGAN", seed=0, callbacks=[SaveAfterBatches({2: path})]).state_dict()
    ckpt = torch.load(path, weights_only=True)
    del ckpt["loops"]["fit_loop"]["state_dict"]["combined_loader"]
    torch.save(ckpt, path)
    resumed = fit("DCGAN", seed=123, ckpt_path=path).state_dict()
    assert not all(torch.equal(t, resumed[key]) for key, t in straight.items() if key.startswith("generator."))


def test_resume_unpickles_no_code(tmp_path, monkeypatch):
    """Lightning's resume reads the checkpoint with torch.load's weights_only (torch's default since 2.6), and succeeds."""
    path = tmp_path / "after2.ckpt"
    fit("DCGAN", seed=0, callbacks=[SaveAfterBatches({2: path})])
    calls, load = [], torch.load

    def recording_load(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)
    fit("DCGAN", seed=0, ckpt_path=path)
    assert calls and all(w is not False for w in calls), calls  # None means torch's default: True
    torch.save({"state_dict": {}, "payload": Unsafe()}, tmp_path / "code.ckpt")  # and that default refuses code
    with pytest.raises(pickle.UnpicklingError):
        load(tmp_path / "code.ckpt")


class Unsafe:
    """Stands for any pickled object that would run code when unpickled."""


def test_loader_continues_the_same_shuffle_mid_epoch():
    data = list(range(10))
    torch.manual_seed(0)
    full = [b.tolist() for b in ResumableDataLoader(data, batch_size=3, shuffle=True)]
    torch.manual_seed(0)
    first = ResumableDataLoader(data, batch_size=3, shuffle=True)
    it = iter(first)
    head = [next(it).tolist() for _ in range(2)]
    state = first.state_dict()
    assert state["served"] == 2 and len(first) == 4
    second = ResumableDataLoader(data, batch_size=3, shuffle=True)
    second.load_state_dict(state)
    torch.manual_seed(99)  # the global RNG does not matter for the rest of the epoch
    assert head + [b.tolist() for b in second] == full
    assert len(second) == 4  # the loops count the skipped batches themselves
    # a finished epoch starts a new one: a fresh draw from the global RNG
    done = ResumableDataLoader(data, batch_size=3, shuffle=True)
    done.load_state_dict({"epoch_seed": state["epoch_seed"], "served": 4})
    torch.manual_seed(5)
    a = [b.tolist() for b in done]
    torch.manual_seed(5)
    assert a == [b.tolist() for b in ResumableDataLoader(data, batch_size=3, shuffle=True)]


def test_checkpoint_checks_refuse_another_variant_and_a_newer_format():
    check_checkpoint({"lit_gans_model": "DCGAN", "lit_gans_format": CHECKPOINT_FORMAT}, "DCGAN")
    check_checkpoint({"lit_gans_model": "DCGAN"}, "DCGAN")  # written before formats were numbered
    with pytest.raises(CheckpointError, match="holds a DCGAN model, but this run builds a WGAN"):
        check_checkpoint({"lit_gans_model": "DCGAN"}, "WGAN")
    with pytest.raises(CheckpointError, match=f"format {CHECKPOINT_FORMAT + 1}, newer .* upgrade lit_gans"):
        check_checkpoint({"lit_gans_model": "DCGAN", "lit_gans_format": CHECKPOINT_FORMAT + 1}, "DCGAN")


def test_resuming_with_another_variant_is_refused_before_loading(tmp_path):
    path = tmp_path / "dcgan.ckpt"
    fit("DCGAN", seed=0, callbacks=[SaveAfterBatches({1: path})])
    with pytest.raises(CheckpointError, match="holds a DCGAN model, but this run builds a WGAN"):
        fit("WGAN", seed=0, ckpt_path=path)


def test_resume_continues_the_same_wandb_run(tmp_path, monkeypatch):
    """``fit --ckpt_path`` of a run that logged to W&B logs to the same W&B run (offline here: no account needed)."""
    wandb = pytest.importorskip("wandb")
    from lit_gans.cli import main

    for key, value in {"WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path), "WANDB_SILENT": "true"}.items():
        monkeypatch.setenv(key, value)
    args = ["fit", *TINY_GAN, "--trainer.logger", "WandbLogger", "--trainer.logger.offline", "true",
            "--trainer.logger.save_dir", str(tmp_path), "--trainer.logger.project", "lit_gans_test",
            "--trainer.default_root_dir", str(tmp_path), "--checkpoint.dirpath", str(tmp_path / "ckpt")]
    last = tmp_path / "ckpt" / "last.ckpt"
    main([*args, "--trainer.max_epochs", "1"])
    wandb.finish()
    run_id = torch.load(last, weights_only=True)["wandb_run_id"]
    main([*args, "--ckpt_path", str(last)])
    wandb.finish()
    resumed = torch.load(last, weights_only=True)
    assert resumed["global_step"] == 2 * 60 and resumed["wandb_run_id"] == run_id
    runs = sorted(p.name for p in (tmp_path / "wandb").glob("offline-run-*"))
    # both folders carry the one run id; W&B appends "-1" to the second when both runs started in the same second
    pattern = rf"offline-run-\d{{8}}_\d{{6}}-{run_id}(-\d+)?"
    assert len(runs) == 2 and all(re.fullmatch(pattern, name) for name in runs), (runs, run_id)
