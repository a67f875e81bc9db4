"""Metrics of generated token sequences, as in SeqGAN (Yu et al. 2017, arXiv:1609.05473).

- NLL-oracle (section "Synthetic Data Experiments", Eq. 10): -E_{Y ~ G} [ (1/T) sum_t log G_oracle(y_t | Y_1:t-1) ],
  the per-token negative log-likelihood of generated sequences under the oracle that made the training data. Lower
  is better; it measures quality (how likely the oracle finds the samples), not diversity.
- BLEU of generated text with the held-out text as references (the paper's real-world experiments), through
  torchmetrics.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn


@torch.no_grad()
def oracle_nll(oracle: nn.Module, tokens: Tensor, batch_size: int = 1000) -> float:
    """Mean per-token NLL of (N, T) sequences under ``oracle`` (an :class:`~lit_gans.nets.seqgan.LSTMGenerator`).

    >>> from lit_gans.nets.seqgan import LSTMGenerator
    >>> uniform = LSTMGenerator(vocab_size=8, seq_len=4, init_std=0.0)  # all logits 0: p = 1/8 everywhere
    >>> round(oracle_nll(uniform, torch.zeros(3, 4, dtype=torch.long)), 4)  # log 8
    2.0794
    """
    tokens = tokens.to(next(oracle.parameters()).device)
    total = sum(-oracle.log_prob(chunk).sum().item() for chunk in tokens.split(batch_size))
    return total / tokens.numel()


def corpus_bleu(candidates: Sequence[str], references: Sequence[str], n_gram: int = 4) -> float:
    """Corpus BLEU-``n_gram`` of the candidates, each against all references (whitespace tokens), smoothed.

    torchmetrics returns 0 when any n-gram order up to ``n_gram`` has no match at all, smoothing or not.
    """
    from torchmetrics.text import BLEUScore

    if not candidates or not references:
        raise ValueError("BLEU needs at least one candidate and one reference sentence")
    refs = list(references)
    return float(BLEUScore(n_gram=n_gram, smooth=True)(list(candidates), [refs] * len(candidates)))
