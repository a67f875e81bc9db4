"""SeqGAN's networks (Yu et al. 2017, arXiv:1609.05473, appendix): an LSTM policy over tokens and a CNN classifier.

- :class:`LSTMGenerator`: embedding -> one LSTM layer -> softmax over the vocabulary; the first input is a fixed
  start token. The same architecture, with N(0, 1) parameters, is the oracle of the synthetic experiment.
- :class:`CNNDiscriminator`: the text CNN of Kim 2014 / Zhang & LeCun 2015 as the paper's appendix sets it: token
  embeddings, one convolution per window size with its own number of filters, ReLU, max-over-time pooling, one
  highway layer (Srivastava et al. 2015), dropout, and the official code's two-logit output, returned as the logit of
  P(real).
"""

from __future__ import annotations

import math
from typing import Literal, Mapping, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_gans.nets.shapes import check_shape

#: the paper's discriminator for the synthetic data (appendix, Table 5): window sizes and their filter numbers.
PAPER_FILTER_SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
PAPER_NUM_FILTERS = (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)


class LSTMGenerator(nn.Module):
    """An autoregressive LSTM over ``vocab_size`` tokens producing sequences of length ``seq_len``.

    Args:
        vocab_size: number of tokens V.
        seq_len: sequence length T.
        emb_dim, hidden_dim: token embedding and LSTM state sizes (32 and 32 in the paper).
        start_token: token id fed as the input of step 1 (0, as in the official code).
        init_std: every parameter is drawn from N(0, init_std^2) (0.1 for the generator as in the official code,
            1.0 for the oracle as in the paper); the LSTM's second bias is zeroed so each gate has one N(0, s^2) bias.
        generator: optional ``torch.Generator`` for the initialisation (the oracle is rebuilt from its seed).

    >>> g = LSTMGenerator(vocab_size=10, seq_len=5, emb_dim=4, hidden_dim=4)
    >>> g.sample(3, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([3, 5])
    """

    def __init__(
        self,
        vocab_size: int,
        seq_len: int,
        emb_dim: int = 32,
        hidden_dim: int = 32,
        start_token: int = 0,
        init_std: float = 0.1,
        generator: Optional[torch.Generator] = None,
    ) -> None:
        super().__init__()
        if not 0 <= start_token < vocab_size:
            raise ValueError(f"start_token must be a token id in [0, {vocab_size}), got {start_token}")
        self.vocab_size, self.seq_len, self.start_token = vocab_size, seq_len, start_token
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.lstm = nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.head = nn.Linear(hidden_dim, vocab_size)
        with torch.no_grad():
            for p in self.parameters():
                nn.init.normal_(p, 0.0, init_std, generator=generator)
            self.lstm.bias_hh_l0.zero_()

    @classmethod
    def from_official(cls, params: Mapping[str, Tensor], seq_len: int, start_token: int = 0) -> "LSTMGenerator":
        """The LSTM of the official SeqGAN code (LantaoYu/SeqGAN ``generator.py`` / ``target_lstm.py``) from its named
        arrays: ``g_embeddings`` (V, E); per gate ``W*`` (E, H), ``U*`` (H, H), ``b*`` (H,) for the input ``i``, forget
        ``f``, output ``og`` and cell candidate ``c`` gates; ``Wo`` (H, V), ``bo`` (V,).

        The official step works on row vectors, ``i = sigmoid(x Wi + h Ui + bi)``, ..., ``logits = h Wo + bo``;
        ``nn.LSTM`` computes ``W_ih x + b_ih + W_hh h + b_hh`` on column vectors with its gates stacked in the order
        i, f, g (the cell candidate), o. So each official matrix enters transposed, the gates are stacked i, f, c, og,
        the official bias goes to ``b_ih`` and ``b_hh`` is zero. Start token, zero initial state: as in the official
        code.
        """
        params = {name: torch.as_tensor(value, dtype=torch.float32) for name, value in params.items()}
        vocab_size, emb_dim = params["g_embeddings"].shape
        hidden_dim = params["Ui"].shape[0]
        net = cls(vocab_size, seq_len, emb_dim, hidden_dim, start_token)
        gates = ("i", "f", "c", "og")  # nn.LSTM's order: input, forget, cell candidate (g), output
        state = {
            "embedding.weight": params["g_embeddings"],
            "lstm.weight_ih_l0": torch.cat([params[f"W{g}"].T for g in gates]),  # (4H, E)
            "lstm.weight_hh_l0": torch.cat([params[f"U{g}"].T for g in gates]),  # (4H, H)
            "lstm.bias_ih_l0": torch.cat([params[f"b{g}"] for g in gates]),  # (4H,)
            "lstm.bias_hh_l0": torch.zeros(4 * hidden_dim),
            "head.weight": params["Wo"].T,  # (V, H)
            "head.bias": params["bo"],
        }
        net.load_state_dict(state)  # strict: a missing or misshaped array raises
        return net

    def _start(self, n: int) -> Tensor:
        return torch.full((n, 1), self.start_token, dtype=torch.long, device=self.head.weight.device)

    def forward(self, tokens: Tensor) -> Tensor:
        """Teacher-forced logits of every next token: (N, T) ids -> (N, T, V); step t sees the start token and y_<t."""
        check_shape(tokens, ("N", "T"), "the generator's tokens")
        inputs = torch.cat([self._start(len(tokens)), tokens[:, :-1]], dim=1)  # (N, T)
        hidden, _ = self.lstm(self.embedding(inputs))  # (N, T, H)
        return self.head(hidden)

    def log_prob(self, tokens: Tensor) -> Tensor:
        """log G(y_t | y_<t) of each token of (N, T) sequences, shape (N, T)."""
        log_p = F.log_softmax(self(tokens), dim=-1)  # (N, T, V)
        return log_p.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)

    @torch.no_grad()
    def sample(self, n: int, prefix: Optional[Tensor] = None, generator: Optional[torch.Generator] = None) -> Tensor:
        """``n`` sequences (N, T) of token ids; with ``prefix`` (N, t), its t tokens are kept and the rest is drawn
        (a Monte Carlo rollout of the paper's Eq. 4)."""
        prefix = prefix if prefix is not None else self._start(n)[:, :0]
        if len(prefix) != n or prefix.shape[1] > self.seq_len:
            raise ValueError(f"prefix must be (n={n}, t <= {self.seq_len}), got {tuple(prefix.shape)}")
        hidden, state = self.lstm(self.embedding(torch.cat([self._start(n), prefix], dim=1)))
        tokens = [prefix]
        for t in range(prefix.shape[1], self.seq_len):
            cdf = F.softmax(self.head(hidden[:, -1]), dim=-1).cumsum(dim=-1)  # (N, V)
            u = torch.rand(n, 1, generator=generator, device=cdf.device)
            # inverse-CDF draw, P(y_t = v) = softmax_v (an order of magnitude faster than torch.multinomial on CPU)
            y_t = torch.searchsorted(cdf, u).clamp_(max=self.vocab_size - 1)  # (N, 1)
            tokens.append(y_t)
            if t + 1 < self.seq_len:
                hidden, state = self.lstm(self.embedding(y_t), state)
        return torch.cat(tokens, dim=1)


class Highway(nn.Module):
    """One highway layer: tau = sigmoid(W_T x + b_T), y = tau * relu(W_H x + b_H) + (1 - tau) * x."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.transform, self.gate = nn.Linear(dim, dim), nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        tau = torch.sigmoid(self.gate(x))
        return tau * F.relu(self.transform(x)) + (1.0 - tau) * x


class CNNDiscriminator(nn.Module):
    """Classifies (N, T) token sequences as real or generated; returns the logit of P(real), shape (N,).

    Args:
        vocab_size: number of tokens V.
        seq_len: sequence length T; every window size must be at most T.
        emb_dim: token embedding size (64 in the official code).
        filter_sizes, num_filters: one convolution per window size with that many filters (the paper's appendix).
        dropout: drop probability before the output layer (the paper keeps 0.75, i.e. drops 0.25).
        output_layer: ``official`` (default): the official code's two-logit layer (scores s_0, s_1, P(real) =
            softmax(s)_1 = sigmoid(s_1 - s_0); weights truncated N(0, 0.1^2), biases 0.1) and its Glorot-uniform
            highway layer; ``one_logit``: one logit with PyTorch's default initialisation of it and of the highway
            layer (lit_gans before 2026-12; kept so that results recorded with it reproduce).
    """

    def __init__(
        self,
        vocab_size: int,
        seq_len: int,
        emb_dim: int = 64,
        filter_sizes: Sequence[int] = PAPER_FILTER_SIZES,
        num_filters: Sequence[int] = PAPER_NUM_FILTERS,
        dropout: float = 0.25,
        output_layer: Literal["official", "one_logit"] = "official",
    ) -> None:
        super().__init__()
        if len(filter_sizes) != len(num_filters) or not filter_sizes:
            raise ValueError(f"give one filter number per window size: {list(filter_sizes)} vs {list(num_filters)}")
        if max(filter_sizes) > seq_len:
            raise ValueError(f"window sizes must be <= seq_len={seq_len}, got {max(filter_sizes)}; drop the larger ones")
        if output_layer not in ("official", "one_logit"):
            raise ValueError(f"output_layer must be 'official' or 'one_logit', got {output_layer!r}")
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.convs = nn.ModuleList(nn.Conv1d(emb_dim, f, k) for k, f in zip(filter_sizes, num_filters))
        features = sum(num_filters)
        self.highway = Highway(features)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(features, 2 if output_layer == "official" else 1)
        # official initialisation: embeddings U(-1, 1), convolutions N(0, 0.1^2) with bias 0.1
        nn.init.uniform_(self.embedding.weight, -1.0, 1.0)
        for conv in self.convs:
            nn.init.trunc_normal_(conv.weight, std=0.1, a=-0.2, b=0.2)
            nn.init.constant_(conv.bias, 0.1)
        if output_layer == "official":
            # the highway layer's variables have TensorFlow's default, Glorot uniform: U(+-sqrt(3 / F)) for its square
            # matrices and for its biases alike (TF counts a vector's fan-in and fan-out both as its length)
            bound = math.sqrt(3.0 / features)
            for p in self.highway.parameters():
                nn.init.uniform_(p, -bound, bound)
            nn.init.trunc_normal_(self.out.weight, std=0.1, a=-0.2, b=0.2)
            nn.init.constant_(self.out.bias, 0.1)

    def forward(self, tokens: Tensor) -> Tensor:
        check_shape(tokens, ("N", "T"), "the discriminator's tokens")
        x = self.embedding(tokens).transpose(1, 2)  # (N, E, T)
        pooled = [F.relu(conv(x)).amax(dim=2) for conv in self.convs]  # each (N, F_k): max over time
        h = self.highway(torch.cat(pooled, dim=1))  # (N, sum F_k)
        scores = self.out(self.dropout(h))  # (N, 2): s_0 generated, s_1 real; or (N, 1)
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores.squeeze(1)
