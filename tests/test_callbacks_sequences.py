"""SequenceMetrics (lit_gans.callbacks.sequences): the values it logs, recomputed independently, and when it measures."""

from __future__ import annotations

import lightning as L
import torch

from lit_gans.callbacks.sequences import SequenceMetrics
from lit_gans.data.sequences import OracleDataModule, TextDataModule
from lit_gans.metrics.sequences import corpus_bleu, oracle_nll
from lit_gans.models.seqgan import SeqGAN

TINY = dict(emb_dim=8, hidden_dim=8, d_emb_dim=8, d_filter_sizes=(2, 3), d_num_filters=(4, 4))


def fit(model, data, callback) -> L.Trainer:
    trainer = L.Trainer(max_epochs=-1, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[callback])
    trainer.fit(model, data)
    return trainer


def test_nll_oracle_is_measured_at_the_start_and_at_each_stage_end_under_the_oracle():
    data = OracleDataModule(vocab_size=16, seq_len=6, num_samples=256, num_val_samples=0, batch_size=64)
    L.seed_everything(0, verbose=False)
    # epochs 0-1 MLE, 2-3 D pre-training: stage ends after epochs 1 and 3
    model = SeqGAN(data_shape=data.data_shape, num_classes=data.num_classes, **TINY, g_pretrain_epochs=2,
                   d_pretrain_steps=2, d_epochs=1, adversarial_rounds=0)
    metrics = SequenceMetrics(every_n_epochs=0, num_samples=300, seed=3)
    fit(model, data, metrics)
    assert [(epoch, stage, name) for epoch, stage, name, _ in metrics.history] == [
        (0, "mle", "nll_oracle"), (1, "mle", "nll_oracle"), (3, "d_pretrain", "nll_oracle")]
    values = [v for *_, v in metrics.history]
    # the last value, recomputed: the oracle's per-token NLL of the generator's seeded samples (D pre-training left G
    # as it was), not the generator's own NLL of them
    expected = oracle_nll(data.oracle, model.sample(300, seed=3))
    assert abs(values[-1] - expected) < 1e-6, (values, expected)
    own = -model.generator.log_prob(model.sample(300, seed=3)).mean().item()
    assert abs(values[-1] - own) > 0.1
    # MLE lowers it (measured 4.90 -> 4.69), D pre-training leaves it
    assert values[0] > values[1] + 0.1 and abs(values[1] - values[2]) < 1e-6, values


def test_bleu_of_samples_against_held_out_lines(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("\n".join(["the cat sat", "a dog ran", "the dog sat", "a cat ran"] * 20))
    data = TextDataModule(str(text), level="word", seq_len=4, batch_size=16, val_fraction=0.25)
    L.seed_everything(0, verbose=False)
    model = SeqGAN(data_shape=data.data_shape, num_classes=data.num_classes, **TINY, g_pretrain_epochs=3,
                   d_pretrain_steps=0, adversarial_rounds=0)
    metrics = SequenceMetrics(every_n_epochs=1, num_samples=50, num_references=10, bleu_n_gram=2, seed=5)
    fit(model, data, metrics)
    assert [(e, n) for e, _, n, _ in metrics.history] == [(0, "bleu2"), (0, "bleu2"), (1, "bleu2"), (2, "bleu2")]
    references = data.decode(data.val_set.tensors[0][:10])
    expected = corpus_bleu(data.decode(model.sample(50, seed=5)), references, 2)
    assert abs(metrics.history[-1][3] - expected) < 1e-6
    assert 0.0 < metrics.history[-1][3] < 1.0
