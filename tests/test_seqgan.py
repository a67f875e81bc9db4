"""SeqGAN: oracle data, rewards, policy gradient, rollout update, text tokeniser, MLE learning, stage resume, configs."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import lightning as L
import pytest
import torch

from lit_gans.errors import UserError
from lit_gans.data.base import DataError
from lit_gans.data.sequences import OracleDataModule, TextDataModule, make_oracle
from lit_gans.metrics.sequences import corpus_bleu, oracle_nll
from lit_gans.losses import policy_gradient_loss
from lit_gans.models.seqgan import SeqGAN, rollout_rewards
from lit_gans.nets.seqgan import PAPER_FILTER_SIZES, PAPER_NUM_FILTERS, CNNDiscriminator, LSTMGenerator

ROOT = Path(__file__).resolve().parents[1]


TINY_D = {"d_filter_sizes": (2, 3), "d_num_filters": (8, 8), "d_emb_dim": 8}


def tiny_model(data: OracleDataModule, **schedule) -> SeqGAN:
    return SeqGAN(data_shape=data.data_shape, num_classes=data.num_classes, **TINY_D, **schedule)


def fit(model: SeqGAN, data, ckpt_path: str | None = None, **trainer_args) -> L.Trainer:
    defaults = dict(max_epochs=-1, accelerator="cpu", logger=False, enable_checkpointing=False,
                    enable_progress_bar=False, enable_model_summary=False)
    trainer = L.Trainer(**(defaults | trainer_args))
    trainer.fit(model, data, ckpt_path=ckpt_path)
    return trainer


# --- the oracle -----------------------------------------------------------------------------------------------------
def test_oracle_is_reproducible_from_its_seed():
    a, b, c = make_oracle(40, 6, seed=3), make_oracle(40, 6, seed=3), make_oracle(40, 6, seed=4)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert not torch.equal(a.head.weight, c.head.weight)
    # parameters N(0, 1): the empirical std of the 40 x 32 output matrix is close to 1
    assert abs(a.head.weight.std().item() - 1.0) < 0.1
    d1, d2 = OracleDataModule(vocab_size=40, seq_len=6, num_samples=50, oracle_seed=3), OracleDataModule(
        vocab_size=40, seq_len=6, num_samples=50, oracle_seed=3
    )
    d1.setup(), d2.setup()
    assert torch.equal(d1.train_set.tensors[0], d2.train_set.tensors[0])
    assert d1.data_shape == (6,) and d1.num_classes == 40 and d1.train_set.tensors[0].dtype == torch.long


def test_nll_oracle_of_the_oracles_own_samples_is_below_uniform_tokens():
    oracle = make_oracle(100, 10, seed=0)
    rng = torch.Generator().manual_seed(0)
    own = oracle_nll(oracle, oracle.sample(1000, generator=rng))
    uniform = oracle_nll(oracle, torch.randint(100, (1000, 10), generator=rng))
    # N(0, 1) parameters make a peaked oracle: its own samples are far likelier than uniform tokens (log 100 = 4.6)
    assert own < uniform - 2.0, (own, uniform)
    assert 0.0 < own < math.log(100)


# --- rewards and the policy gradient ---------------------------------------------------------------------------------
def test_rollout_rewards_shape_prefixes_and_final_step_equal_d_output():
    torch.manual_seed(0)
    g = LSTMGenerator(vocab_size=12, seq_len=5, emb_dim=4, hidden_dim=4)
    d = CNNDiscriminator(12, 5, emb_dim=4, filter_sizes=(2, 3), num_filters=(3, 3)).eval()
    tokens = g.sample(4)
    seen = []

    def p_real(x):
        seen.append(x)
        return torch.sigmoid(d(x))

    q = rollout_rewards(g, p_real, tokens, rollout_num=3)
    assert q.shape == (4, 5)
    assert torch.allclose(q[:, -1], torch.sigmoid(d(tokens)), atol=1e-6)  # t = T: D of the finished sequence
    for t, completions in enumerate(seen[:-1], start=1):  # t < T: 3 rollouts per sequence, each keeps the prefix
        assert completions.shape == (12, 5)
        assert torch.equal(completions[:, :t], tokens[:, :t].repeat(3, 1))
    assert ((q > 0) & (q < 1)).all()


def test_rollout_rewards_average_the_rollouts():
    # a reward that counts token 1 in the sequence: for a prefix, Q is the rollouts' mean of that count
    g = LSTMGenerator(vocab_size=2, seq_len=3, emb_dim=2, hidden_dim=2, init_std=0.0)  # uniform policy over {0, 1}
    tokens = torch.tensor([[1, 1, 1]])
    q = rollout_rewards(g, lambda x: (x == 1).float().mean(1), tokens, rollout_num=4000,
                        generator=torch.Generator().manual_seed(0))
    expected = torch.tensor([[(1 + 2 * 0.5) / 3, (2 + 0.5) / 3, 1.0]])
    assert torch.allclose(q, expected, atol=0.02), q


def test_policy_gradient_loss_on_a_hand_example():
    log_probs = torch.log(torch.tensor([[0.5, 0.25], [1.0, 0.5]]))
    rewards = torch.tensor([[1.0, 2.0], [0.0, 3.0]])
    # -(1/N) sum_n sum_t Q log p = -((log .5 + 2 log .25) + (0 + 3 log .5)) / 2
    expected = -((math.log(0.5) + 2 * math.log(0.25)) + 3 * math.log(0.5)) / 2
    assert abs(policy_gradient_loss(log_probs, rewards).item() - expected) < 1e-6
    assert policy_gradient_loss(log_probs, rewards).item() > 0  # log p < 0, Q > 0: minimising raises log p


def test_one_policy_gradient_step_raises_the_probability_of_a_rewarded_sequence():
    torch.manual_seed(0)
    g = LSTMGenerator(vocab_size=6, seq_len=4, emb_dim=4, hidden_dim=8)
    rewarded, other = torch.tensor([[1, 2, 3, 4]]), torch.tensor([[5, 5, 5, 5]])
    before = g.log_prob(rewarded).sum().item(), g.log_prob(other).sum().item()
    opt = torch.optim.SGD(g.parameters(), lr=0.5)
    loss = policy_gradient_loss(g.log_prob(torch.cat([rewarded, other])), torch.tensor([[1.0] * 4, [0.0] * 4]))
    loss.backward()
    opt.step()
    after = g.log_prob(rewarded).sum().item(), g.log_prob(other).sum().item()
    assert after[0] > before[0] + 0.1, (before, after)
    assert after[1] < before[1], (before, after)  # probability mass moved away from the unrewarded sequence


def test_rollout_network_follows_the_generator_with_a_delay():
    model = SeqGAN(data_shape=(5,), num_classes=9, **TINY_D, rollout_update_rate=0.8)
    with torch.no_grad():
        for p in model.rollout.parameters():
            p.fill_(1.0)
        for p in model.generator.parameters():
            p.fill_(6.0)
    model.update_rollout()  # beta <- 0.8 beta + 0.2 theta = 0.8 + 1.2
    for p in model.rollout.parameters():
        assert torch.allclose(p, torch.full_like(p, 2.0))
    model.update_rollout()  # 0.8 * 2 + 1.2
    assert abs(model.rollout.head.bias[0].item() - 2.8) < 1e-6
    assert not any(p.requires_grad for p in model.rollout.parameters())


def test_discriminator_is_the_papers_cnn_and_rejects_long_windows():
    d = CNNDiscriminator(50, 20)
    assert sum(c.out_channels for c in d.convs) == sum(PAPER_NUM_FILTERS) == 1720
    assert [c.kernel_size[0] for c in d.convs] == list(PAPER_FILTER_SIZES)
    assert d.dropout.p == 0.25 and d(torch.zeros(3, 20, dtype=torch.long)).shape == (3,)
    with pytest.raises(ValueError, match="window sizes must be <= seq_len"):
        CNNDiscriminator(50, 10)


# --- text ----------------------------------------------------------------------------------------------------------
def test_text_tokeniser_round_trip_and_saved_vocabulary(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat\n\nthe dog ate\nä 字 back\\slash\n", encoding="utf-8")
    for level, seq_len in (("word", 8), ("char", 30)):
        vocab = tmp_path / f"vocab_{level}.txt"
        data = TextDataModule(str(text), level=level, seq_len=seq_len, vocab_path=str(vocab), val_fraction=0.0)
        for line in ("the cat sat on the mat", "the dog ate", "ä 字 back\\slash"):
            ids = data.encode(line)
            assert ids.shape == (seq_len,) and data.decode(ids[None]) == [line]
        again = TextDataModule(str(text), level=level, seq_len=seq_len, vocab_path=str(vocab))  # reads the saved file
        assert again.vocabulary.tokens == data.vocabulary.tokens and data.num_classes == len(data.vocabulary.tokens)
    data.setup()
    assert data.train_set.tensors[0].shape == (3, 30)  # 3 non-empty lines, padded to seq_len
    assert data.vocabulary.tokens[:2] == ["<pad>", "<unk>"] and data.vocabulary.tokens[2] == " "  # most frequent


def test_text_data_gives_clear_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        TextDataModule(str(tmp_path / "missing.txt"))
    (tmp_path / "empty.txt").write_text("\n  \n")
    with pytest.raises(DataError, match="no non-empty line"):
        TextDataModule(str(tmp_path / "empty.txt"))


def test_bleu_is_one_for_a_copy_and_lower_for_noise():
    refs = ["the cat sat on the mat", "a dog ate the bone"]
    assert abs(corpus_bleu(["the cat sat on the mat"], refs) - 1.0) < 1e-6
    partial = corpus_bleu(["the cat ate the bone today"], refs, n_gram=2)
    assert 0.3 < partial < 0.9, partial  # 4/6 bigrams and all but one unigram match
    assert corpus_bleu(["bone mat dog on"], refs, n_gram=2) == 0.0  # no bigram in common


# --- training ------------------------------------------------------------------------------------------------------
def test_mle_pretraining_lowers_nll_oracle():
    data = OracleDataModule(vocab_size=30, seq_len=8, num_samples=640, num_val_samples=0, oracle_seed=0)
    L.seed_everything(0, verbose=False)
    model = tiny_model(data, g_pretrain_epochs=6, d_pretrain_steps=0, adversarial_rounds=0)
    data.setup()
    before = oracle_nll(data.oracle, model.sample(1000, seed=1))
    fit(model, data)
    after = oracle_nll(data.oracle, model.sample(1000, seed=1))
    data_nll = oracle_nll(data.oracle, data.train_set.tensors[0])
    assert model.stage() == ("done", 0) and int(model.g_steps) == 6 * 10
    # starts near a random generator, ends most of the way to the data's own NLL
    assert after < before - 1.0, (before, after, data_nll)
    assert after > data_nll - 0.3, (before, after, data_nll)


class SnapshotAtAdversarialStart(L.Callback):
    """Copies G and D as the adversarial stage starts: the pre-trained players."""

    g = d = None

    def on_train_epoch_start(self, trainer, model) -> None:
        if self.d is None and model.stage() == ("adversarial", 0):
            self.g, self.d = copy.deepcopy(model.generator), copy.deepcopy(model.discriminator).eval()


def test_adversarial_stage_raises_the_reward_of_a_discriminator_that_separates_real_from_generated():
    """Algorithm 1 end to end at toy size: the pre-trained D tells real from generated sequences, and the adversarial
    stage moves G towards sequences that this D finds real. Measured: D's P(real) 0.708 on real data against 0.316 on
    the pre-trained G's samples; after 8 rounds of 4 policy-gradient steps G's samples score 0.457 (0.279 with the
    reward's sign flipped). The rollout and D options are passed explicitly, not taken from the defaults."""
    data = OracleDataModule(vocab_size=20, seq_len=6, num_samples=512, num_val_samples=0, batch_size=64, oracle_seed=0)
    L.seed_everything(0, verbose=False)
    model = SeqGAN(data_shape=data.data_shape, num_classes=data.num_classes, emb_dim=16, hidden_dim=16, d_emb_dim=16,
                   d_filter_sizes=(2, 3), d_num_filters=(16, 16), d_dropout=0.25, d_l2_reg=0.2,
                   g_pretrain_epochs=2, d_pretrain_steps=5, d_epochs=1, adversarial_rounds=8, g_steps=4, d_steps=1,
                   rollout_num=4, rollout_update_rate=0.8, g_grad_clip=5.0,
                   g_optimizer=lambda p: torch.optim.Adam(p, lr=1e-2),
                   d_optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    snapshot = SnapshotAtAdversarialStart()
    fit(model, data, callbacks=[snapshot])
    assert model.stage() == ("done", 0) and int(model.g_steps) == 2 * 8 + 8 * 4
    data.setup()
    real = data.train_set.tensors[0]
    with torch.no_grad():
        p_real = lambda d, x: torch.sigmoid(d(x)).mean().item()  # noqa: E731
        before = snapshot.g.sample(2000, generator=torch.Generator().manual_seed(1))
        after = model.generator.sample(2000, generator=torch.Generator().manual_seed(1))
        d_real, d_before, d_after = (p_real(snapshot.d, x) for x in (real, before, after))
        final_d_real, final_d_after = p_real(model.discriminator.eval(), real), p_real(model.discriminator, after)
    print(f"pre-trained D: real {d_real:.3f}, G before {d_before:.3f}, after {d_after:.3f}; "
          f"final D: real {final_d_real:.3f}, G {final_d_after:.3f}")
    assert d_real > d_before + 0.2, (d_real, d_before)  # D pre-training separates real from generated
    assert d_after > d_before + 0.07, (d_before, d_after)  # the policy gradient climbs D's reward
    assert final_d_real > final_d_after + 0.2, (final_d_real, final_d_after)  # D keeps separating during the stage


def test_training_resumes_in_the_same_stage(tmp_path):
    data = OracleDataModule(vocab_size=20, seq_len=6, num_samples=128, num_val_samples=0, batch_size=64)
    schedule = dict(g_pretrain_epochs=2, d_pretrain_steps=1, d_epochs=1, d_steps=1, adversarial_rounds=2, rollout_num=2)
    L.seed_everything(0, verbose=False)
    model = tiny_model(data, **schedule)
    trainer = fit(model, data, max_epochs=3)  # 2 MLE epochs, then the 1 D pre-training epoch
    assert model.stage() == ("adversarial", 0) and (int(model.g_steps), int(model.d_steps)) == (4, 2)
    ckpt = tmp_path / "mid.ckpt"
    trainer.save_checkpoint(ckpt)

    from lit_gans.checkpoints import load_model

    restored = load_model(ckpt)
    assert restored.stage() == ("adversarial", 0) and int(restored.schedule_epoch) == 3
    resumed = tiny_model(data, **schedule)
    fit(resumed, data, ckpt_path=str(ckpt))
    # no MLE step was repeated: 4 MLE + 2 policy-gradient steps; 2 + 2 x 2 D steps
    assert resumed.stage() == ("done", 0) and (int(resumed.g_steps), int(resumed.d_steps)) == (6, 6)

    # lit-gans sample on the checkpoint: decoded sequences (token ids for the oracle), .txt and .pt
    from lit_gans.commands.sample import main as sample_main

    sample_main(["--ckpt", str(ckpt), "--num", "7", "--out", str(tmp_path / "s.txt")])
    lines = (tmp_path / "s.txt").read_text().splitlines()
    assert len(lines) == 7 and all(len(line.split()) == 6 for line in lines)
    sample_main(["--ckpt", str(ckpt), "--num", "3", "--out", str(tmp_path / "s.pt")])
    tokens = torch.load(tmp_path / "s.pt")
    assert tokens.dtype == torch.long and tokens.shape == (3, 6)
    with pytest.raises(UserError, match="token sequences"):
        sample_main(["--ckpt", str(ckpt), "--num", "3", "--out", str(tmp_path / "s.png")])


def test_sample_is_long_tokens_and_repeatable_by_seed():
    model = SeqGAN(data_shape=(7,), num_classes=11, **TINY_D)
    a, b = model.sample(5, seed=3), model.sample(5, seed=3)
    assert a.dtype == torch.long and a.shape == (5, 7) and torch.equal(a, b)
    assert int(a.min()) >= 0 and int(a.max()) < 11
    with pytest.raises(TypeError):
        model.sample(2, labels=1)
    with pytest.raises(ValueError, match="sequence data"):
        SeqGAN(data_shape=(1, 8, 8), num_classes=10)


def test_text_run_keeps_the_vocabulary_for_decoding(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("\n".join(["ab ba", "abba", "baab a"] * 20))
    data = TextDataModule(str(text), level="char", seq_len=6, batch_size=16)
    model = SeqGAN(data_shape=data.data_shape, num_classes=data.num_classes, **TINY_D, g_pretrain_epochs=1,
                   d_pretrain_steps=0, adversarial_rounds=0)
    fit(model, data)
    assert model.hparams.vocabulary == data.vocabulary.tokens and model.hparams.separator == ""
    ids = torch.tensor([[2, 3, 4, 0, 0, 0], [4, 3, 2, 1, 0, 0]])
    assert model.decode(ids) == data.decode(ids) and len(model.decode(model.sample(5, seed=0))) == 5


@pytest.mark.parametrize("name", ["oracle", "oracle_cpu", "oracle_cpu_2k", "text"])
def test_configs_build(name, monkeypatch):
    from lit_gans.cli import GANCLI
    from lit_gans.data import GANDataModule
    from lit_gans.models import GANModule

    monkeypatch.chdir(ROOT)
    cli = GANCLI(GANModule, GANDataModule, subclass_mode_model=True, subclass_mode_data=True, run=False,
                 auto_configure_optimizers=False, args=["-c", f"experiments/seqgan/{name}.yaml"])
    assert isinstance(cli.model, SeqGAN)
    assert cli.model.hparams.num_classes == cli.datamodule.num_classes
    assert cli.model.hparams.data_shape == cli.datamodule.data_shape


def test_policy_gradient_optimizer_is_its_own_or_the_mle_one():
    """``pg_optimizer`` sets the policy-gradient steps' optimizer alone; without it both G optimizers are alike."""
    data = OracleDataModule(vocab_size=12, seq_len=6, num_samples=64, batch_size=16)
    data.setup()
    mle = lambda p: torch.optim.Adam(p, lr=0.01)  # noqa: E731
    own = tiny_model(data, g_optimizer=mle, pg_optimizer=lambda p: torch.optim.SGD(p, lr=0.003))
    g_mle, g_pg, _ = own.configure_optimizers()
    assert isinstance(g_pg, torch.optim.SGD) and abs(g_pg.param_groups[0]["lr"] - 0.003) < 1e-12
    assert isinstance(g_mle, torch.optim.Adam) and abs(g_mle.param_groups[0]["lr"] - 0.01) < 1e-12
    assert g_pg is not g_mle and not g_pg.state  # a fresh optimizer over the same parameters
    assert [id(p) for p in g_pg.param_groups[0]["params"]] == [id(p) for p in own.generator.parameters()]
    g_mle, g_pg, _ = tiny_model(data, g_optimizer=mle).configure_optimizers()
    assert type(g_pg) is type(g_mle) is torch.optim.Adam and g_pg is not g_mle
    assert abs(g_pg.param_groups[0]["lr"] - 0.01) < 1e-12
