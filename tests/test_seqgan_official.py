"""SeqGAN against the official code (LantaoYu/SeqGAN): its oracle number for number, its discriminator's output layer
and penalty, its rollout policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lit_gans.data.base import DataError
from lit_gans.data.sequences import OracleDataModule, load_official_oracle
from lit_gans.metrics.sequences import oracle_nll
from lit_gans.nets.seqgan import LSTMGenerator

OFFICIAL = Path(__file__).resolve().parents[1] / "experiments/seqgan/official"
ORACLE, GOLDEN = OFFICIAL / "target_params.npz", OFFICIAL / "oracle_nll_golden.npz"


@pytest.mark.parametrize("tokens", ["oracle_samples", "uniform_tokens"])
def test_official_oracle_reproduces_the_golden_nll(tokens):
    """The per-token NLL of the golden sequences under the loaded oracle equals the float64 value of the official
    equations; the oracle's own samples are far likelier (about 5.8 nats) than uniform tokens (about 11.4)."""
    golden = np.load(GOLDEN)
    data = OracleDataModule(oracle_path=str(ORACLE))
    nll = oracle_nll(data.oracle.double(), torch.from_numpy(golden[tokens]))
    assert abs(nll - float(golden[f"{tokens}_nll"])) < 1e-4


def test_official_oracle_in_float32_as_trained_stays_within_1e4():
    golden = np.load(GOLDEN)
    oracle = load_official_oracle(ORACLE)
    for tokens in ("oracle_samples", "uniform_tokens"):
        nll = oracle_nll(oracle, torch.from_numpy(golden[tokens]))
        assert abs(nll - float(golden[f"{tokens}_nll"])) < 1e-4


def test_official_gate_order_matters():
    """The test above can fail: stacking the official gates in the order they are written (i, f, og, c) instead of
    nn.LSTM's (i, f, c, og) moves the NLL of the oracle's own samples by far more than the tolerance."""
    golden = np.load(GOLDEN)
    params = dict(np.load(ORACLE))
    params["Wc"], params["Wog"] = params["Wog"], params["Wc"]
    params["Uc"], params["Uog"] = params["Uog"], params["Uc"]
    params["bc"], params["bog"] = params["bog"], params["bc"]
    wrong = LSTMGenerator.from_official(params, seq_len=20).double()
    nll = oracle_nll(wrong, torch.from_numpy(golden["oracle_samples"]))
    assert abs(nll - float(golden["oracle_samples_nll"])) > 0.1


def test_official_oracle_sets_the_data_sizes_and_rejects_bad_files(tmp_path):
    data = OracleDataModule(oracle_path=str(ORACLE), num_samples=5, num_val_samples=0, seed=0)
    assert (data.num_classes, data.data_shape) == (5000, (20,))
    data.setup()
    assert data.train_set.tensors[0].shape == (5, 20)
    with pytest.raises(DataError, match="does not exist"):
        OracleDataModule(oracle_path=str(tmp_path / "missing.npz"))
    with pytest.raises(DataError, match="vocab_size, emb_dim, hidden_dim"):
        OracleDataModule(oracle_path=str(ORACLE), vocab_size=100)
    partial = tmp_path / "partial.npz"
    np.savez(partial, **{k: v for k, v in np.load(ORACLE).items() if k != "Wo"})
    with pytest.raises(DataError, match="lacks the official arrays Wo"):
        OracleDataModule(oracle_path=str(partial))
    (tmp_path / "text.npz").write_text("not an archive")
    with pytest.raises(DataError, match="not an .npz"):
        OracleDataModule(oracle_path=str(tmp_path / "text.npz"))
