"""Sample-quality metrics during training, with the scoring work shared by every process.

Every ``every_n_steps`` generator updates and/or every ``every_n_epochs`` epochs (and at the end of training),
:class:`Evaluation`:

1. draws ``num_samples`` samples through ``pl_module.sample`` in chunks of ``batch_size``; chunk i uses the seed
   ``seed + i`` and is drawn by process ``i mod world_size``, so each process draws its share with its own seeds,
   and the union of the samples is the same whatever the number of processes;
2. runs the backbone on its share and updates the metrics (:class:`~lit_gans.metrics.scores.FeatureScores`);
3. computes on every process (torchmetrics gathers the states there: a compute on one process only would hang);
4. logs ``eval/<metric>`` to every logger and to ``trainer.callback_metrics`` (so ``ModelCheckpoint`` can monitor
   ``eval/fid``).

The real data's backbone outputs are computed once per dataset and backbone and cached on disk under a key made of
the SHA-1 of the real images and of the backbone's weights, so a changed dataset or backbone is never served stale
statistics. Each process feeds every ``world_size``-th real sample to the metrics, so the gathered real set is the
whole set exactly once; on a cache miss each process also runs the backbone on its share only, and the shares are
gathered for the cache (the backbone's cost of the real set is split like that of the samples).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Optional, Sequence

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from lit_gans.loggers import logging_step
from lit_gans.metrics.classifier import load_backbone
from lit_gans.metrics.features import tensor_bytes
from lit_gans.metrics.scores import METRICS, FeatureScores

#: environment variable for the real-feature cache folder (default ``~/.cache/lit_gans/real_features``).
CACHE_ENV = "LIT_GANS_CACHE"


class Evaluation(L.Callback):
    """FID, KID, IS and precision/recall of the generator against the data module's real images.

    Args:
        every_n_steps: evaluate every this many generator updates (0: never by steps).
        every_n_epochs: evaluate at the end of every this many epochs (0: never by epochs).
        num_samples: generated samples per evaluation, shared across processes.
        batch_size: samples drawn and scored at a time.
        backbone: ``inception``, or the path of a ``lit-gans train-classifier`` checkpoint (digits).
        inception_weights: local Inception weights (default ``$LIT_GANS_INCEPTION_WEIGHTS``, else downloaded).
        metrics: any of ``fid``, ``kid``, ``is``, ``pr``.
        real_split: ``val`` or ``train``: the data module's dataset the samples are compared with.
        num_real: use at most this many real images (default: all of the split).
        cache_dir: folder of the cached real features (default ``$LIT_GANS_CACHE`` or ``~/.cache/lit_gans``).
        seed: base seed of the generated chunks and of the metrics' random subsets.
        at_train_end: also evaluate when training ends (unless the last evaluation was at that very step).
    """

    def __init__(
        self,
        every_n_steps: int = 0,
        every_n_epochs: int = 1,
        num_samples: int = 2048,
        batch_size: int = 256,
        backbone: str = "inception",
        inception_weights: Optional[str] = None,
        metrics: Sequence[str] = METRICS,
        real_split: str = "val",
        num_real: Optional[int] = None,
        cache_dir: Optional[str] = None,
        seed: int = 0,
        at_train_end: bool = True,
    ) -> None:
        if num_samples < 2 or batch_size < 1:
            raise ValueError(f"num_samples must be >= 2 and batch_size >= 1, got {num_samples} and {batch_size}")
        if real_split not in ("val", "train"):
            raise ValueError(f"real_split must be 'val' or 'train', got {real_split!r}")
        unknown = sorted(set(metrics) - set(METRICS))
        if unknown:
            raise ValueError(f"unknown metrics {unknown}: choose among {list(METRICS)}")
        self.every_n_steps, self.every_n_epochs, self.at_train_end = every_n_steps, every_n_epochs, at_train_end
        self.num_samples, self.batch_size, self.seed = num_samples, batch_size, seed
        self.backbone_name, self.inception_weights, self.metrics = backbone, inception_weights, tuple(metrics)
        self.real_split, self.num_real = real_split, num_real
        cache_root = cache_dir or os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "lit_gans"
        self.cache_dir = Path(cache_root) / "real_features"
        self.scores: Optional[FeatureScores] = None
        self.history: list[tuple[int, dict[str, float]]] = []  # (generator steps, metrics) of every evaluation
        self._last_step: Optional[int] = None

    # --- when ---------------------------------------------------------------------------------------------------
    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        g_steps = int(pl_module.g_steps)
        if self.every_n_steps and g_steps % self.every_n_steps == 0 and g_steps != self._last_step:
            self.evaluate(trainer, pl_module)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module) -> None:
        if self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            if int(pl_module.g_steps) != self._last_step:
                self.evaluate(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module) -> None:
        if self.at_train_end and int(pl_module.g_steps) != self._last_step:
            self.evaluate(trainer, pl_module)

    # --- what -----------------------------------------------------------------------------------------------------
    def evaluate(self, trainer: L.Trainer, pl_module) -> dict[str, float]:
        """One evaluation; every process must call it (the metrics are gathered across processes)."""
        start = time.perf_counter()
        self._last_step = int(pl_module.g_steps)
        rank, world = trainer.global_rank, trainer.world_size
        if self.num_chunks < world:  # a process with no samples has no metric state to gather
            raise ValueError(
                f"Evaluation: num_samples={self.num_samples} in chunks of batch_size={self.batch_size} gives "
                f"{self.num_chunks} chunks for {world} processes; lower batch_size or raise num_samples"
            )
        scores = self._setup_scores(trainer, pl_module)
        for i in range(rank, self.num_chunks, world):  # this process's share of the chunks
            n = min(self.batch_size, self.num_samples - i * self.batch_size)
            scores.update(pl_module.sample(n, seed=self.seed + i), real=False)
        results = scores.compute(seed=self.seed)
        scores.reset_fake()
        results["seconds"] = time.perf_counter() - start
        log_metrics(trainer, {f"eval/{k}": v for k, v in results.items()})
        self.history.append((self._last_step, results))
        return results

    @property
    def num_chunks(self) -> int:
        return -(-self.num_samples // self.batch_size)

    # --- the metrics and the real data's features -------------------------------------------------------------
    def _setup_scores(self, trainer: L.Trainer, pl_module) -> FeatureScores:
        if self.scores is None:
            backbone = load_backbone(self.backbone_name, self.inception_weights)
            scores = FeatureScores(backbone, self.metrics, kid_subset_size=min(1000, self.num_samples))
            self.scores = scores.to(pl_module.device)
            features, logits = self.real_features(trainer, pl_module)
            rank, world = trainer.global_rank, trainer.world_size
            self.scores.update_features(features[rank::world], logits[rank::world], real=True)
        return self.scores

    def real_features(self, trainer: L.Trainer, pl_module) -> tuple[Tensor, Tensor]:
        """Backbone features (R, d) and logits (R, K) of the real images, from the disk cache when it has them."""
        images = self._real_images(trainer)
        key = hashlib.sha1(str(tuple(images.shape)).encode() + tensor_bytes(images)).hexdigest()[:16]
        path = self.cache_dir / f"{key}-{self.scores.backbone.fingerprint()[:16]}.pt"
        if path.is_file():
            cached = torch.load(path, map_location="cpu", weights_only=True)
            return cached["features"], cached["logits"]
        features, logits = self._shared_real_features(trainer, pl_module, images)
        if trainer.local_rank == 0:  # one writer per machine; the rename makes a half-written file impossible
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            torch.save({"features": features, "logits": logits}, tmp)
            os.replace(tmp, path)
        return features, logits

    def _shared_real_features(self, trainer: L.Trainer, pl_module, images: Tensor) -> tuple[Tensor, Tensor]:
        """Every process runs the backbone on its share (``images[rank::world]``) only; the shares are gathered so
        that each process holds the whole set (in the images' order) for the cache."""
        rank, world = trainer.global_rank, trainer.world_size
        if len(images) < world:
            raise ValueError(f"Evaluation: {len(images)} real images for {world} processes; use more real images")
        outputs = [self.scores.features(x.to(pl_module.device)) for x in images[rank::world].split(self.batch_size)]
        mine = [torch.cat(t) for t in zip(*outputs)]  # features (r, d), logits (r, K)
        if world == 1:
            return mine[0].cpu(), mine[1].cpu()
        most = -(-len(images) // world)  # shares differ by one at most: pad to the largest to gather
        whole = []
        for t in mine:
            gathered = trainer.strategy.all_gather(torch.nn.functional.pad(t, (0, 0, 0, most - len(t))))  # (world, most, -)
            out = t.new_empty(len(images), t.shape[1])
            for r in range(world):
                out[r::world] = gathered[r, : len(out[r::world])]
            whole.append(out.cpu())
        return whole[0], whole[1]

    def _real_images(self, trainer: L.Trainer) -> Tensor:
        dm = trainer.datamodule
        dataset: Optional[Dataset] = None
        if dm is not None:
            dataset = getattr(dm, f"{self.real_split}_set", None)
            if dataset is None and self.real_split == "val":
                dataset = getattr(dm, "train_set", None)
        if dataset is None:
            raise ValueError(
                f"Evaluation needs a data module with a `{self.real_split}_set` of real images: pass datamodule= to fit"
            )
        batches, total = [], 0
        for batch in DataLoader(dataset, batch_size=self.batch_size, shuffle=False):
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            batches.append(x)
            total += len(x)
            if self.num_real is not None and total >= self.num_real:
                break
        images = torch.cat(batches)[: self.num_real]
        if images.dim() != 4:
            raise ValueError(f"Evaluation scores images (N, C, H, W); the data gives shape {tuple(images.shape)}")
        return images


def log_metrics(trainer: L.Trainer, metrics: dict[str, float]) -> None:
    """Writes a callback's numbers to every logger (at the trainer's step) and to ``trainer.callback_metrics``.

    Straight to the loggers rather than ``pl_module.log``: that one writes step values only every
    ``log_every_n_steps`` steps, and would drop an evaluation made in between. The step is the one the training
    losses are logged at (:func:`lit_gans.loggers.logging_step`), so both share one x axis.
    """
    trainer.callback_metrics.update({k: torch.tensor(v) for k, v in metrics.items()})
    for logger in trainer.loggers:  # Lightning's loggers write from global rank 0 only
        logger.log_metrics(metrics, step=logging_step(trainer))
