"""Token sequences for SeqGAN (Yu et al. 2017, arXiv:1609.05473).

- :class:`OracleDataModule`: the synthetic benchmark. A randomly initialised LSTM (the *oracle*: embedding 32,
  hidden 32, vocabulary 5,000, parameters N(0, 1)) is the true data distribution; 10,000 sequences of length 20 drawn
  from it are the training set. The oracle is rebuilt from ``oracle_seed``, so the same benchmark comes back without
  files, and NLL-oracle of a model's samples can be measured exactly. ``oracle_path`` loads the official code's
  oracle instead (LantaoYu/SeqGAN ``save/target_params_py3.pkl`` saved as an ``.npz`` of its named arrays), the one
  behind the paper's Table 1 and the official log.
- :class:`TextDataModule`: any plain-text file, one sequence per non-empty line, tokenised by characters or by
  whitespace-separated words, cut or padded to ``seq_len``; the vocabulary can be saved to (and reloaded from) a file.

Both report the sample shape ``(seq_len,)`` and the vocabulary size as ``num_classes``: the CLI links ``num_classes``
into the model, so SeqGAN reads its vocabulary size there. Batches are ``(tokens (N, T) int64, zeros (N,))``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import TensorDataset

from lit_gans.data.base import DataError, GANDataModule
from lit_gans.nets.seqgan import LSTMGenerator

PAD, UNK = "<pad>", "<unk>"


def make_oracle(
    vocab_size: int = 5000, seq_len: int = 20, emb_dim: int = 32, hidden_dim: int = 32, seed: int = 0
) -> LSTMGenerator:
    """The paper's oracle: an LSTM with every parameter drawn from N(0, 1) by a generator seeded with ``seed``."""
    oracle = LSTMGenerator(vocab_size, seq_len, emb_dim, hidden_dim, init_std=1.0, generator=torch.Generator().manual_seed(seed))
    return oracle.requires_grad_(False).eval()


#: the arrays of the official oracle (LantaoYu/SeqGAN target_params), by name.
OFFICIAL_ORACLE_KEYS = (
    "g_embeddings", "Wi", "Ui", "bi", "Wf", "Uf", "bf", "Wog", "Uog", "bog", "Wc", "Uc", "bc", "Wo", "bo"
)


def load_official_oracle(path: str | Path, seq_len: int = 20) -> LSTMGenerator:
    """The official SeqGAN oracle from an ``.npz`` of its named arrays (see :meth:`LSTMGenerator.from_official`)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"oracle file {path} does not exist: give an .npz of the official target_params arrays")
    try:
        with np.load(path) as arrays:
            params = {name: arrays[name] for name in arrays.files}
    except (ValueError, OSError) as err:
        raise DataError(f"oracle file {path} is not an .npz archive ({err})") from None
    missing = [name for name in OFFICIAL_ORACLE_KEYS if name not in params]
    if missing:
        raise DataError(f"oracle file {path} lacks the official arrays {', '.join(missing)}")
    try:
        oracle = LSTMGenerator.from_official(params, seq_len)
    except RuntimeError as err:  # load_state_dict: arrays whose shapes do not fit together
        reason = str(err).splitlines()[-1].strip()
        raise DataError(f"oracle file {path} has arrays of inconsistent shapes: {reason}") from None
    return oracle.requires_grad_(False).eval()


class OracleDataModule(GANDataModule):
    """Sequences sampled from an LSTM oracle (the synthetic experiment of SeqGAN): a seeded random one, or the official.

    Args:
        vocab_size, seq_len, emb_dim, hidden_dim: size of the oracle (paper: 5,000, 20, 32, 32). With ``oracle_path``
            the file sets vocab_size, emb_dim and hidden_dim, and values given here must agree with it.
        num_samples: training sequences drawn from the oracle (paper: 10,000).
        num_val_samples: held-out sequences (for a validation loss; not used by the paper).
        oracle_seed: seed of the oracle's parameters; the same seed gives the same oracle.
        oracle_path: ``.npz`` of the official oracle's arrays (``g_embeddings``, ``Wi`` ... ``bo``); ``None`` (the
            default) builds the seeded random oracle.
        seed: seed of the draw of the training sequences.
    """

    def __init__(
        self,
        vocab_size: int = 5000,
        seq_len: int = 20,
        emb_dim: int = 32,
        hidden_dim: int = 32,
        num_samples: int = 10_000,
        num_val_samples: int = 1000,
        oracle_seed: int = 0,
        oracle_path: Optional[str] = None,
        seed: int = 0,
        batch_size: int = 64,
        num_workers: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        if vocab_size < 2 or seq_len < 1 or num_samples < 1:
            raise DataError(f"need vocab_size >= 2, seq_len >= 1, num_samples >= 1; got {vocab_size}, {seq_len}, {num_samples}")
        self.num_samples, self.num_val_samples, self.seed = num_samples, num_val_samples, seed
        if oracle_path is None:
            self.oracle = make_oracle(vocab_size, seq_len, emb_dim, hidden_dim, oracle_seed)
            return
        self.oracle = load_official_oracle(oracle_path, seq_len)
        found = (self.oracle.vocab_size, self.oracle.embedding.embedding_dim, self.oracle.lstm.hidden_size)
        if found != (vocab_size, emb_dim, hidden_dim):
            raise DataError(f"oracle file {oracle_path} has vocab_size, emb_dim, hidden_dim = {found}, but the data "
                            f"asks for {(vocab_size, emb_dim, hidden_dim)}: drop those settings or make them agree")

    @property
    def data_shape(self) -> tuple[int]:
        return (self.oracle.seq_len,)

    @property
    def num_classes(self) -> int:
        """The vocabulary size (sequence models read it from here)."""
        return self.oracle.vocab_size

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        rng = torch.Generator().manual_seed(self.seed)
        train = self.oracle.sample(self.num_samples, generator=rng)
        self.train_set = TensorDataset(train, torch.zeros(len(train), dtype=torch.long))
        if self.num_val_samples:
            val = self.oracle.sample(self.num_val_samples, generator=rng)
            self.val_set = TensorDataset(val, torch.zeros(len(val), dtype=torch.long))


class Vocabulary:
    """Token <-> id mapping: id 0 is padding, id 1 stands for tokens not in the vocabulary, then by frequency."""

    def __init__(self, tokens: list[str], separator: str) -> None:
        if tokens[:2] != [PAD, UNK]:
            raise DataError(f"a vocabulary starts with {PAD!r} and {UNK!r}")
        self.tokens, self.separator = tokens, separator
        self.ids = {t: i for i, t in enumerate(tokens)}

    @classmethod
    def build(cls, lines: list[list[str]], separator: str) -> "Vocabulary":
        counts = Counter(t for line in lines for t in line)
        return cls([PAD, UNK] + sorted(counts, key=lambda t: (-counts[t], t)), separator)

    def encode(self, tokens: list[str], seq_len: int) -> list[int]:
        ids = [self.ids.get(t, 1) for t in tokens[:seq_len]]
        return ids + [0] * (seq_len - len(ids))

    def decode(self, ids: list[int]) -> str:
        return self.separator.join(self.tokens[i] for i in ids if i != 0)

    def save(self, path: Path) -> None:
        # one token a line; a newline token is written escaped so the file stays one token per line
        path.write_text("\n".join(t.replace("\\", "\\\\").replace("\n", "\\n") for t in self.tokens) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path, separator: str) -> "Vocabulary":
        lines = path.read_text(encoding="utf-8").split("\n")[:-1]
        return cls([_unescape(t) for t in lines], separator)


def _unescape(token: str) -> str:
    return token.replace("\\n", "\n").replace("\\\\", "\\") if "\\" in token else token


def tokenize(line: str, level: str) -> list[str]:
    return list(line) if level == "char" else line.split()


class TextDataModule(GANDataModule):
    """Lines of a plain-text file as fixed-length token sequences.

    Args:
        path: the text file (UTF-8); each non-empty line is one sequence.
        level: ``char`` (each character a token, joined back without separator) or ``word`` (whitespace-separated
            words, joined back with one space).
        seq_len: tokens per sequence; longer lines are cut, shorter ones padded with ``<pad>`` (id 0).
        vocab_path: if the file exists, the vocabulary is read from it (same ids across runs); otherwise it is built
            from the text and written there. ``None`` builds it without saving.
        val_fraction: share of the lines held out (seeded) as BLEU references.
        seed: seed of the split.
    """

    def __init__(
        self,
        path: str,
        level: Literal["char", "word"] = "word",
        seq_len: int = 20,
        vocab_path: Optional[str] = None,
        val_fraction: float = 0.1,
        seed: int = 0,
        batch_size: int = 64,
        num_workers: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        if level not in ("char", "word"):
            raise DataError(f"level must be 'char' or 'word', got {level!r}")
        if not 0.0 <= val_fraction < 1.0:
            raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}")
        self.level, self.seq_len, self.val_fraction, self.seed = level, seq_len, val_fraction, seed
        # The file is read now, not in setup(): the vocabulary size must be known when the CLI builds the model.
        self.lines = [tokenize(line, level) for line in _read_lines(Path(path))]
        separator = "" if level == "char" else " "
        vocab_file = Path(vocab_path) if vocab_path else None
        if vocab_file is not None and vocab_file.is_file():
            self.vocabulary = Vocabulary.load(vocab_file, separator)
        else:
            self.vocabulary = Vocabulary.build(self.lines, separator)
            if vocab_file is not None:
                vocab_file.parent.mkdir(parents=True, exist_ok=True)
                self.vocabulary.save(vocab_file)

    @property
    def data_shape(self) -> tuple[int]:
        return (self.seq_len,)

    @property
    def num_classes(self) -> int:
        """The vocabulary size (sequence models read it from here)."""
        return len(self.vocabulary.tokens)

    def encode(self, text: str) -> Tensor:
        """One line of text -> (T,) token ids."""
        return torch.tensor(self.vocabulary.encode(tokenize(text, self.level), self.seq_len))

    def decode(self, tokens: Tensor) -> list[str]:
        """(N, T) token ids -> N strings (padding dropped)."""
        return [self.vocabulary.decode(row) for row in tokens.tolist()]

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        x = torch.tensor([self.vocabulary.encode(line, self.seq_len) for line in self.lines])  # (N, T)
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(self.seed))
        n_val = int(round(self.val_fraction * len(x)))
        val, train = x[perm[:n_val]], x[perm[n_val:]]
        if len(train) == 0:
            raise DataError(f"no training lines are left after holding out val_fraction={self.val_fraction}")
        self.train_set = TensorDataset(train, torch.zeros(len(train), dtype=torch.long))
        self.val_set = TensorDataset(val, torch.zeros(len(val), dtype=torch.long)) if n_val else None


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(f"text file {path} does not exist: give the path of a UTF-8 text file, one sequence a line")
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines:
        raise DataError(f"text file {path} has no non-empty line: SeqGAN needs at least one line of text")
    return lines
