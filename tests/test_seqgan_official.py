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
from lit_gans.models.seqgan import SeqGAN
from lit_gans.nets.seqgan import CNNDiscriminator, LSTMGenerator

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
    misshaped = tmp_path / "misshaped.npz"
    np.savez(misshaped, **(dict(np.load(ORACLE)) | {"Wo": np.zeros((32, 10), dtype=np.float32)}))
    with pytest.raises(DataError, match="inconsistent shapes"):
        OracleDataModule(oracle_path=str(misshaped))
    (tmp_path / "text.npz").write_text("not an archive")
    with pytest.raises(DataError, match="not an .npz"):
        OracleDataModule(oracle_path=str(tmp_path / "text.npz"))


# --- the paper's rollout policy, the official discriminator --------------------------------------------------------
TINY = dict(data_shape=(6,), num_classes=12, d_emb_dim=8, d_filter_sizes=(2, 3), d_num_filters=(5, 7))


def test_official_rollout_policy_is_the_current_generator_unless_a_delay_is_asked_for():
    model = SeqGAN(**TINY)
    assert model.rollout is None and model.rollout_policy is model.generator
    assert not any(key.startswith("rollout.") for key in model.state_dict())
    model.update_rollout()  # nothing to update
    delayed = SeqGAN(**TINY, rollout_update_rate=0.8)
    assert delayed.rollout_policy is delayed.rollout and delayed.rollout is not delayed.generator


def test_official_discriminator_has_two_logits_initialised_as_the_official_one():
    torch.manual_seed(0)
    d = CNNDiscriminator(vocab_size=50, seq_len=20, emb_dim=8, filter_sizes=(1, 2), num_filters=(300, 300))
    assert d.out.weight.shape == (2, 600)
    assert torch.equal(d.out.bias, torch.full((2,), 0.1))
    w = d.out.weight
    # TF's truncated_normal(stddev=0.1) cuts at 2 sigma; the std of what is left is 0.0880
    assert w.abs().max() <= 0.2 and abs(w.std().item() - 0.0880) < 0.005
    bound = (3.0 / 600) ** 0.5  # Glorot uniform of a square 600 x 600 matrix, and of its bias vector
    for p in d.highway.parameters():
        assert p.abs().max() <= bound and abs(p.abs().max().item() - bound) < 0.01 * bound
    d.eval()
    tokens = torch.randint(50, (4, 20))
    x = d.embedding(tokens).transpose(1, 2)
    h = d.highway(torch.cat([torch.relu(c(x)).amax(dim=2) for c in d.convs], dim=1))
    p_real = torch.softmax(d.out(h), dim=1)[:, 1]  # the official reward: softmax(scores)[:, 1]
    assert torch.allclose(torch.sigmoid(d(tokens)), p_real, atol=1e-6)
    old = CNNDiscriminator(vocab_size=50, seq_len=20, emb_dim=8, filter_sizes=(1, 2), num_filters=(3, 3),
                           output_layer="one_logit")
    assert old.out.weight.shape == (1, 6) and old(tokens).shape == (4,)


def test_official_l2_on_two_logits_equals_half_the_weight_on_one_logit():
    """The comment of SeqGAN.discriminator_loss, in numbers: a two-logit layer with w_1 = -w_0 = d / 2 and the
    one-logit layer with weight d give the same logits; the official penalty 0.2 then equals 0.1 on one logit."""
    torch.manual_seed(1)
    two = SeqGAN(**TINY, d_l2_reg=0.2).eval()
    one = {reg: SeqGAN(**TINY, d_l2_reg=reg, d_output_layer="one_logit").eval() for reg in (0.1, 0.2)}
    with torch.no_grad():
        two.discriminator.out.weight[1] = -two.discriminator.out.weight[0]  # u = w_1 + w_0 = 0
        two.discriminator.out.bias[1] = -two.discriminator.out.bias[0]
        for model in one.values():
            state = {k: v for k, v in two.discriminator.state_dict().items() if not k.startswith("out.")}
            model.discriminator.load_state_dict(state, strict=False)
            model.discriminator.out.weight[0] = two.discriminator.out.weight[1] - two.discriminator.out.weight[0]
            model.discriminator.out.bias[0] = two.discriminator.out.bias[1] - two.discriminator.out.bias[0]
    real, fake = torch.randint(12, (8, 6)), torch.randint(12, (8, 6))
    assert torch.allclose(two.discriminator(real), one[0.1].discriminator(real), atol=1e-6)
    official = two.discriminator_loss((real, fake))[0].item()
    assert abs(official - one[0.1].discriminator_loss((real, fake))[0].item()) < 1e-5
    assert one[0.2].discriminator_loss((real, fake))[0].item() - official > 1e-3  # the old setting: stronger


def test_official_config_builds_the_paper_protocol_on_the_official_oracle(monkeypatch):
    from lit_gans.cli import GANCLI
    from lit_gans.data import GANDataModule
    from lit_gans.models import GANModule

    monkeypatch.chdir(OFFICIAL.parents[2])
    cli = GANCLI(GANModule, GANDataModule, subclass_mode_model=True, subclass_mode_data=True, run=False,
                 auto_configure_optimizers=False, args=["-c", "experiments/seqgan/oracle_official.yaml"])
    model, data = cli.model, cli.datamodule
    assert isinstance(model, SeqGAN) and model.rollout is None and model.discriminator.out.weight.shape[0] == 2
    assert torch.equal(data.oracle.head.bias, torch.from_numpy(np.load(ORACLE)["bo"]))
    h = model.hparams
    stages = (h.g_pretrain_epochs, h.d_pretrain_steps, h.adversarial_rounds, h.d_steps, h.d_epochs)
    assert stages == (120, 50, 200, 5, 3)
