"""One process of the DDP test of every variant (tests/test_ddp.py starts two with LOCAL_RANK 0 and 1).

Fits each tiny variant for a few batches with ``Trainer(accelerator="cpu", devices=2, strategy="ddp")`` in one process
group, and saves per variant its final state dict (weights, EMA, buffers), its step counters and the files its
sample grid wrote, to ``<out>/rank<r>.pt``; the test compares the two ranks.

Usage: ``LOCAL_RANK=r MASTER_ADDR=127.0.0.1 MASTER_PORT=p python tests/ddp_worker.py OUT [VARIANT ...]``
"""

from __future__ import annotations

import os
import sys
import time
import traceback
import warnings
from datetime import timedelta
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.strategies import DDPStrategy

from lit_gans.callbacks.samples import SampleGrid
from lit_gans.data.digits import DigitsDataModule
from lit_gans.data.sequences import OracleDataModule
from lit_gans.data.toy import Toy2DDataModule
from lit_gans.data.unpaired import DigitsStylesDataModule
from lit_gans.models import MODELS


def digits(batch_size: int = 8) -> DigitsDataModule:
    return DigitsDataModule(image_size=8, batch_size=batch_size)


TINY_IMAGES = dict(z_dim=4, g_channels=4, d_channels=4)
#: name -> (model class name, model keyword arguments, data module factory, Trainer keyword arguments)
CASES = {
    "VanillaGAN": ("VanillaGAN", dict(z_dim=4, g_hidden=(8,), d_hidden=(8,), ema_decay=0.9),
                   lambda: Toy2DDataModule(mixture="ring", num_samples=64, batch_size=8), {}),
    "CGAN": ("CGAN", dict(net="dcgan", z_dim=4, base_channels=4), digits, {}),
    "DCGAN": ("DCGAN", TINY_IMAGES, digits, {}),
    "WGAN": ("WGAN", dict(net="dcgan", n_critic=2, **TINY_IMAGES), digits, {}),
    "WGANGP": ("WGANGP", dict(net="dcgan", n_critic=2, **TINY_IMAGES), digits, {}),
    "CycleGAN": ("CycleGAN", dict(g_channels=4, d_channels=4, n_residual_blocks=1, d_layers=1, pool_size=2),
                 lambda: DigitsStylesDataModule(image_size=8, batch_size=2), {}),
    "ProGAN": ("ProGAN", dict(z_dim=8, channels={4: 8, 8: 8}, fade_kimg=0.004, stable_kimg=0.004), digits, {}),
    "StyleGAN2": ("StyleGAN2", dict(z_dim=8, w_dim=8, mapping_layers=2, channel_base=64, channel_max=8,
                                    r1_interval=2, pl_interval=3), lambda: digits(4), {}),
    # one epoch per stage: MLE, D pre-training, one adversarial round (rollouts and policy gradient)
    "SeqGAN": ("SeqGAN", dict(emb_dim=8, hidden_dim=8, d_emb_dim=8, d_filter_sizes=(2, 3), d_num_filters=(4, 4),
                              g_pretrain_epochs=1, d_pretrain_steps=1, adversarial_rounds=1, d_steps=1, d_epochs=1,
                              rollout_num=2),
               lambda: OracleDataModule(vocab_size=12, seq_len=6, num_samples=32, num_val_samples=0, batch_size=8),
               dict(max_epochs=-1, limit_train_batches=1)),
    # control: per-process batch norm statistics (the test checks that they then differ)
    "DCGAN-nosync": ("DCGAN", TINY_IMAGES, digits, {}),
}


class Recorder(L.Callback):
    """What makes equal weights across ranks meaningful: each rank's first real batch and a draw of its RNG."""

    def on_train_start(self, trainer, pl_module) -> None:
        self.rng_draw = torch.randn(4)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if not hasattr(self, "first_batch"):
            self.first_batch = (batch[0] if isinstance(batch, (tuple, list)) else batch).float().sum().item()


class RankWeights(L.Callback):
    """Saves every rank's final state dict to ``<folder>/weights_rank<r>.pt`` (checkpoints are rank 0's only); used
    by the CLI launches of tests/test_ddp.py as ``--trainer.callbacks+=ddp_worker.RankWeights``."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def on_train_end(self, trainer, pl_module) -> None:
        Path(self.folder).mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu() for k, v in pl_module.state_dict().items()}
        torch.save({"state": state, "g_steps": int(pl_module.g_steps), "world_size": trainer.world_size},
                   Path(self.folder) / f"weights_rank{trainer.global_rank}.pt")


def fit(name: str, out: Path, rank: int) -> dict:
    cls_name, kwargs, make_data, trainer_kwargs = CASES[name]
    data = make_data()
    model = MODELS[cls_name](data_shape=data.data_shape, num_classes=data.num_classes, **kwargs)
    if name.endswith("-nosync"):
        model.sync_batchnorm = False
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    recorder = Recorder()
    run_dir = out / name / f"rank{rank}"  # one folder per rank: the test checks that only rank 0 writes
    trainer = L.Trainer(
        accelerator="cpu", devices=2, strategy=DDPStrategy(timeout=timedelta(seconds=60)),
        **{"max_epochs": 1, "limit_train_batches": 3, **trainer_kwargs},
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, limit_val_batches=0, default_root_dir=str(run_dir),
        callbacks=[SampleGrid(every_n_steps=1, num_samples=4), recorder],
    )
    trainer.fit(model, datamodule=data)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    written = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file())
    moved = [k for k, v in initial.items() if v.is_floating_point() and not torch.equal(v, state[k])]
    return {"ok": True, "state": state, "moved": moved, "rng_draw": recorder.rng_draw,
            "first_batch": recorder.first_batch, "d_steps": int(model.d_steps), "g_steps": int(model.g_steps),
            "bn_layers": [type(m).__name__ for m in model.modules() if "BatchNorm" in type(m).__name__],
            "written": written}


def main(out: str, names: list[str]) -> None:
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    L.seed_everything(0, verbose=False)  # the same seed everywhere, as a seeded run has
    rank, out_dir, results = int(os.environ["LOCAL_RANK"]), Path(out), {}
    for name in names or list(CASES):
        try:
            t0 = time.perf_counter()
            results[name] = fit(name, out_dir, rank)
            results[name]["seconds"] = time.perf_counter() - t0
        except Exception:  # recorded for the test; the other rank then fails or times out in its next collective
            results[name] = {"ok": False, "error": traceback.format_exc()}
        torch.save(results, out_dir / f"rank{rank}.pt")
    os._exit(0)  # skips the slow process-group teardown at exit (about 10 s on a loaded 2-core machine)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
