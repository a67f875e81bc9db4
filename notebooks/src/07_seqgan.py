# %% [markdown]
# # 07 · SeqGAN: adversarial training of a sequence generator
#
# Tokens are discrete, so a discriminator's gradient cannot flow back into the generator. SeqGAN (Yu, Zhang, Wang &
# Yu 2017, arXiv:1609.05473) treats the generator as a policy that picks one token at a time and trains it with
# policy gradient (REINFORCE): the reward of a finished sequence is the discriminator's probability that it is
# real, and a partial sequence is scored by completing it many times with the generator (Monte Carlo rollouts; the
# runs here use a delayed copy of it, lit_gans' former default, with which the numbers in docs/notebooks.md were
# measured). Training runs in stages (Algorithm 1): maximum-likelihood (MLE) pre-training of G, pre-training of D,
# then adversarial rounds.
#
# Part 1 is the paper's **synthetic oracle** benchmark: a randomly initialised LSTM (the oracle) *is* the data
# distribution, so the quality of generated sequences can be measured exactly as **NLL-oracle**, their per-token
# negative log-likelihood under the oracle (lower is better; Eq. 10). Part 2 trains on a little English text and
# decodes the samples.
#
# **Size switch.** `full` (the default) is a few CPU minutes, on a smaller oracle than the paper's (vocabulary 100
# instead of 5,000, 2,000 sequences instead of 10,000, shorter stages). A single short run shows the stages; whether
# the adversarial stage beats continued MLE is a question for several seeds (`experiments/benchmarks/seqgan_oracle.py`
# and `docs/seqgan.md`). `small` (the test suite's) runs one epoch of each stage on a toy oracle: the numbers mean
# nothing.

# %%
import os

SIZE = os.environ.get("LIT_GANS_NOTEBOOK_SIZE", "full")  # "small": seconds, numbers mean nothing; "full": minutes
SETTINGS = {
    "small": dict(vocab_size=20, seq_len=8, num_samples=128, g_pretrain_epochs=1, d_pretrain_steps=1,
                  adversarial_rounds=1, rollout_num=2, num_eval=200, text_seq_len=6, text_mle_epochs=1),
    "full": dict(vocab_size=100, seq_len=20, num_samples=2_000, g_pretrain_epochs=20, d_pretrain_steps=5,
                 adversarial_rounds=8, rollout_num=16, num_eval=1_000, text_seq_len=10, text_mle_epochs=60),
}[SIZE]
SETTINGS

# %%
import builtins
import logging
import tempfile
import warnings
from pathlib import Path

import lightning as L
import matplotlib.pyplot as plt
import torch

from lit_gans.callbacks.sequences import SequenceMetrics
from lit_gans.data import OracleDataModule, TextDataModule
from lit_gans.metrics.sequences import corpus_bleu, oracle_nll
from lit_gans.models import SeqGAN

logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no banner at each fit
warnings.filterwarnings("ignore", module="lightning")


def fit(model, data, callbacks=()):
    """SeqGAN stops the trainer itself when its schedule ends: max_epochs=-1."""
    trainer = L.Trainer(max_epochs=-1, accelerator="cpu", logger=False, callbacks=list(callbacks),
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0)
    trainer.fit(model, data)

# %% [markdown]
# ## Part 1: the oracle benchmark
#
# The oracle is rebuilt from its seed (embedding 32, hidden 32, every parameter N(0, 1), as in the paper); its own
# samples are the training set. The NLL-oracle of *real* data (the oracle's samples) is the floor a perfect
# generator would reach.

# %%
L.seed_everything(0, verbose=False)
oracle_data = OracleDataModule(vocab_size=SETTINGS["vocab_size"], seq_len=SETTINGS["seq_len"],
                               num_samples=SETTINGS["num_samples"], num_val_samples=0, batch_size=64)
oracle_data.setup("fit")
real_nll = oracle_nll(oracle_data.oracle, oracle_data.train_set.tensors[0])
uniform = torch.randint(oracle_data.num_classes, (SETTINGS["num_eval"], oracle_data.data_shape[0]),
                        generator=torch.Generator().manual_seed(0))
print(f"oracle: vocabulary {oracle_data.num_classes}, length {oracle_data.data_shape[0]}")
print(f"NLL-oracle of real data {real_nll:.3f}, "
      f"of uniformly random tokens {oracle_nll(oracle_data.oracle, uniform):.3f}")

# %% [markdown]
# The model: G an LSTM (embedding 32, hidden 32) as in the paper; D a small CNN over token embeddings (the paper's
# has 12 window sizes with 100-200 filters each); D's Adam learning rate 1e-3 instead of 1e-4 because its
# pre-training here is much shorter (as in `experiments/seqgan/oracle_cpu.yaml`). `SequenceMetrics` measures
# NLL-oracle of fresh samples after every epoch.

# %%
model = SeqGAN(data_shape=oracle_data.data_shape, num_classes=oracle_data.num_classes,
               d_emb_dim=32, d_filter_sizes=(2, 3, 4, 5), d_num_filters=(16, 16, 16, 16),
               g_pretrain_epochs=SETTINGS["g_pretrain_epochs"], d_pretrain_steps=SETTINGS["d_pretrain_steps"],
               adversarial_rounds=SETTINGS["adversarial_rounds"], d_steps=1, d_epochs=3,
               rollout_num=SETTINGS["rollout_num"],
               rollout_update_rate=0.8, d_output_layer="one_logit",  # the settings of docs/notebooks.md's numbers
               d_optimizer=lambda params: torch.optim.Adam(params, lr=1e-3))
print("stages (name, epochs):", [tuple(s) for s in model.schedule()])
metrics = SequenceMetrics(every_n_epochs=1, num_samples=SETTINGS["num_eval"], seed=1)
fit(model, oracle_data, [metrics])

# %% [markdown]
# NLL-oracle after every epoch, coloured by stage. The MLE stage should bring it from the level of random tokens
# most of the way down to the real data's; during D's pre-training G does not change; the adversarial rounds then
# move G by policy gradient. In the paper (vocabulary 5,000) SeqGAN ends below MLE (8.74 vs 9.04, Table 1); on a
# small oracle and one seed the difference can go either way.

# %%
fig, ax = plt.subplots(figsize=(9, 3.5))
colors = {"mle": "C0", "d_pretrain": "C1", "adversarial": "C2"}
rows = [(epoch, stage, value) for epoch, stage, name, value in metrics.history if name == "nll_oracle"]
for i, (epoch, stage, value) in enumerate(rows):
    x = -1 if i == 0 else epoch  # the first row is measured before training
    first_of_stage = i == 0 or stage != rows[i - 1][1]
    ax.scatter(x, value, color=colors.get(stage, "gray"), s=12, label=stage if first_of_stage else None)
ax.axhline(real_nll, color="black", ls=":", label="real data")
ax.set_xlabel("epoch (-1: before training)")
ax.set_ylabel("NLL-oracle")
ax.legend()
plt.show()
print(f"NLL-oracle: start {rows[0][2]:.3f}, end {rows[-1][2]:.3f}, real data {real_nll:.3f}")

# %% [markdown]
# Generated sequences are token ids here (the oracle has no words):

# %%
for line in model.decode(model.sample(4, seed=0)):
    print(line)

# %% [markdown]
# ## Part 2: decoded text
#
# `TextDataModule` reads any UTF-8 file, one sequence per line, tokenised by words (or characters). A self-contained
# little corpus: the first lines of the docstrings of Python's builtins and of the methods of its basic types that
# are plain sentences ("Return the absolute value of the argument.", "Append object to the end of the list.", ...),
# about 200 of them (the exact set depends on the Python version). The vocabulary travels with the model's
# hyper-parameters, so `model.decode` (and `lit-gans sample --out samples.txt` on a checkpoint) prints words.

# %%
documented = [getattr(builtins, name) for name in dir(builtins) if not name.startswith("_")]
for cls in (str, bytes, list, dict, set, int, float, tuple, object, type):
    documented += [getattr(cls, name) for name in dir(cls) if not name.startswith("_")]
first_lines = {(obj.__doc__ or "").strip().split("\n")[0].strip() for obj in documented}
lines = sorted(line for line in first_lines if line.endswith(".") and "(" not in line)  # sentences, no signatures
corpus = Path(tempfile.mkdtemp(prefix="lit_gans_07_")) / "docstrings.txt"
corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
text_data = TextDataModule(str(corpus), level="word", seq_len=SETTINGS["text_seq_len"], val_fraction=0.1,
                           batch_size=32)
text_data.setup("fit")
print(f"{len(text_data.lines)} lines, vocabulary {text_data.num_classes} words; for example:")
for line in text_data.decode(text_data.train_set.tensors[0][:3]):
    print("  ", line)

# %%
L.seed_everything(0, verbose=False)
text_model = SeqGAN(data_shape=text_data.data_shape, num_classes=text_data.num_classes,
                    d_emb_dim=32, d_filter_sizes=(2, 3), d_num_filters=(16, 16),
                    g_pretrain_epochs=SETTINGS["text_mle_epochs"], d_pretrain_steps=SETTINGS["d_pretrain_steps"],
                    adversarial_rounds=SETTINGS["adversarial_rounds"], d_steps=1, d_epochs=1,
                    rollout_num=SETTINGS["rollout_num"], rollout_update_rate=0.8, d_output_layer="one_logit",
                    d_optimizer=lambda params: torch.optim.Adam(params, lr=1e-3))
fit(text_model, text_data)
samples = text_model.decode(text_model.sample(100, seed=0))
references = text_data.decode(text_data.val_set.tensors[0])
print(f"BLEU-2 of 100 samples against the {len(references)} held-out lines: {corpus_bleu(samples, references, 2):.3f}")
for line in samples[:8]:
    print("  ", line)

# %% [markdown]
# At full size the samples read like the corpus: recombinations of its fragments ("Return a copy of ...", "Create
# a new set which ..."), some well formed, some not, some copies of training lines. A couple of hundred sentences
# are far too little text to generalise from, and BLEU against held-out lines rewards reusing the corpus's phrases.
# At small size the samples are random words. For a real corpus:
# `lit-gans fit -c experiments/seqgan/text.yaml --data.init_args.path my_corpus.txt`.
