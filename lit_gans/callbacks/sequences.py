"""Metrics of sequence models during training: NLL-oracle on the synthetic benchmark, BLEU on text.

Works with any model whose :meth:`sample` returns (N, T) token ids and whose data is an
:class:`~lit_gans.data.sequences.OracleDataModule` (it has an ``oracle``) or a
:class:`~lit_gans.data.sequences.TextDataModule` (it has a ``vocabulary`` and a held-out ``val_set``).
"""

from __future__ import annotations

from typing import Optional

import lightning as L

from lit_gans.metrics.sequences import corpus_bleu, oracle_nll


class SequenceMetrics(L.Callback):
    """Every ``every_n_epochs`` training epochs (and at the end of each stage of SeqGAN's schedule), draws ``num_samples``
    sequences and logs ``metrics/nll_oracle`` (oracle data) or ``metrics/bleu<n>`` (text data, BLEU-``bleu_n_gram``
    against up to ``num_references`` held-out lines; the paper reports BLEU-2 to BLEU-4 — torchmetrics returns 0 as
    soon as one n-gram order has no match, so 4 reads 0 for early, poor samples). ``history`` keeps ``(epoch, stage, name, value)`` rows for scripts."""

    def __init__(
        self,
        every_n_epochs: int = 5,
        num_samples: int = 10_000,
        num_references: int = 500,
        bleu_n_gram: int = 2,
        seed: Optional[int] = None,
    ) -> None:
        self.every_n_epochs, self.num_samples, self.num_references, self.seed = every_n_epochs, num_samples, num_references, seed
        self.bleu_n_gram = bleu_n_gram
        self.history: list[tuple[int, str, str, float]] = []

    def on_train_start(self, trainer: L.Trainer, pl_module) -> None:
        self.measure(trainer, pl_module)  # the starting point: a random generator, or the resumed one

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module) -> None:
        epoch = trainer.current_epoch + 1
        if (self.every_n_epochs and epoch % self.every_n_epochs == 0) or pl_module.stage_ends_with_this_epoch():
            self.measure(trainer, pl_module)

    def measure(self, trainer: L.Trainer, pl_module) -> dict[str, float]:
        data = trainer.datamodule
        stage = pl_module.stage()[0]
        values = {}
        if getattr(data, "oracle", None) is not None:
            tokens = pl_module.sample(self.num_samples, seed=self.seed)
            values["nll_oracle"] = oracle_nll(data.oracle.to(pl_module.device), tokens)
        elif getattr(data, "vocabulary", None) is not None and data.val_set is not None:
            references = data.decode(data.val_set.tensors[0][: self.num_references])
            candidates = data.decode(pl_module.sample(min(self.num_samples, 100), seed=self.seed).cpu())
            values[f"bleu{self.bleu_n_gram}"] = corpus_bleu(candidates, references, self.bleu_n_gram)
        for name, value in values.items():
            self.history.append((trainer.current_epoch, stage, name, value))
            pl_module.log(f"metrics/{name}", value, batch_size=1)
        return values
