# %% [markdown]
# # 02 · Losses and mode collapse on 2D Gaussian mixtures
#
# Images hide mode collapse: a generator that draws only some digits still makes nice grids. On a mixture of 2D
# Gaussians with known means we can *count*: the protocol of PacGAN (Lin et al. 2018, arXiv:1712.04086, section 5.1)
# and VEEGAN (Srivastava et al. 2017, arXiv:1705.07761), implemented in `lit_gans.metrics.modes`:
#
# - a generated point is **high quality** when it lies within 3 standard deviations of its nearest mode;
# - a mode is **covered** when at least one high-quality point falls on it;
# - the **reverse KL** compares the histogram of high-quality points over the modes with the uniform weights of the
#   mixture (0 when every mode gets its share; log K when everything lands on one of K modes).
#
# Two mixtures (`Toy2DDataModule`): the **ring** of 8 Gaussians (radius 1, std 0.01) and the **grid** of 25 Gaussians
# (5x5, spacing 2, std 0.05). Three objectives for the same MLP generator:
#
# 1. **minimax**: G minimises log(1 - D(G(z))), the value function of Goodfellow et al. 2014 (arXiv:1406.2661)
#    exactly. When D confidently rejects the fakes this term is flat: G's gradient vanishes ("saturates").
# 2. **non-saturating**: G maximises log D(G(z)) instead, the fix proposed in the same paper (section 3).
# 3. **WGAN-GP** (Gulrajani et al. 2017, arXiv:1704.00028): a critic estimates the earth-mover distance, kept
#    1-Lipschitz by a gradient penalty; 5 critic updates per generator update.
#
# **Size switch.** `full` (the default) trains the six runs in a few minutes in total on a laptop CPU. GAN results
# on these mixtures vary a lot from seed to seed; one seed here is an illustration, not a measurement (the
# benchmark `experiments/benchmarks/toy2d.py` averages seeds). `small` (the test suite's) trains a few dozen steps:
# the points are still a blob and the numbers mean nothing.

# %%
import os

SIZE = os.environ.get("LIT_GANS_NOTEBOOK_SIZE", "full")  # "small": seconds, numbers mean nothing; "full": minutes
SETTINGS = {
    "small": dict(hidden=(16, 16), g_steps=15, num_samples=2_000, eval_samples=500),
    "full": dict(hidden=(128, 128), g_steps=800, num_samples=100_000, eval_samples=2_500),
}[SIZE]
SETTINGS

# %%
import csv
import logging
import tempfile
import warnings
from pathlib import Path

import lightning as L
import matplotlib.pyplot as plt
import torch
from lightning.pytorch.loggers import CSVLogger

from lit_gans.data import Toy2DDataModule
from lit_gans.metrics.modes import mode_statistics
from lit_gans.models import WGANGP, VanillaGAN

logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no banner at each fit
warnings.filterwarnings("ignore", module="lightning")

RUN_DIR = Path(tempfile.mkdtemp(prefix="lit_gans_02_"))


def adam(lr, betas):
    """An optimizer factory, the form every lit_gans model takes (g_optimizer / d_optimizer)."""
    return lambda params: torch.optim.Adam(params, lr=lr, betas=betas)

# %% [markdown]
# ## The models
#
# All three share the generator (z of 2 dimensions, hidden layers of ReLU units, linear output) and the
# discriminator's hidden layers. The GANs use Adam with learning rate 1e-3 and beta1 = 0.5; WGAN-GP uses Adam 1e-3
# with betas (0.5, 0.9) as the reference code's toy experiments do (the paper's Algorithm 1 has 1e-4, slower for a
# short run). Each run gets the same number of **generator** updates, so WGAN-GP sees 5x as many batches.

# %%
def make_model(kind: str):
    hidden = SETTINGS["hidden"]
    if kind == "WGAN-GP":
        return WGANGP(data_shape=(2,), net="mlp", z_dim=2, g_hidden=hidden, d_hidden=hidden, n_critic=5,
                      g_optimizer=adam(1e-3, (0.5, 0.9)), d_optimizer=adam(1e-3, (0.5, 0.9)))
    return VanillaGAN(data_shape=(2,), z_dim=2, g_hidden=hidden, d_hidden=hidden, loss=kind,
                      g_optimizer=adam(1e-3, (0.5, 0.999)), d_optimizer=adam(1e-3, (0.5, 0.999)))


def train(model, data, name):
    """Fits for SETTINGS["g_steps"] generator updates; returns the run's CSV log folder."""
    logger = CSVLogger(RUN_DIR, name=name)
    # max_steps counts optimizer steps: n_critic discriminator steps + 1 generator step per generator update
    trainer = L.Trainer(max_steps=SETTINGS["g_steps"] * (model.n_critic + 1), accelerator="cpu", logger=logger,
                        log_every_n_steps=5, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0)
    trainer.fit(model, data)
    return Path(logger.log_dir)

# %% [markdown]
# ## Training the six runs

# %%
KINDS = ["minimax", "non_saturating", "WGAN-GP"]
MIXTURES = ["ring", "grid"]
runs = {}
for mixture in MIXTURES:
    data = Toy2DDataModule(mixture=mixture, num_samples=SETTINGS["num_samples"], batch_size=100)
    for kind in KINDS:
        L.seed_everything(0, verbose=False)
        model = make_model(kind)
        log_dir = train(model, data, f"{mixture}_{kind}")
        points = model.sample(SETTINGS["eval_samples"], seed=1)
        runs[mixture, kind] = dict(data=data, points=points, log_dir=log_dir,
                                   stats=mode_statistics(points, data.means, data.std))
        print(f"{mixture:5s} {kind:15s} {runs[mixture, kind]['stats'].modes:2d} modes covered")

# %% [markdown]
# ## What the generators draw
#
# Blue: generated points; red circles: the means of the mixture. Look for points that fall *between* modes (low
# quality), modes with no points (dropped), and runs where all points sit on a few modes (collapse).

# %%
fig, axes = plt.subplots(len(MIXTURES), len(KINDS), figsize=(4 * len(KINDS), 4 * len(MIXTURES)))
for row, mixture in enumerate(MIXTURES):
    for col, kind in enumerate(KINDS):
        run, ax = runs[mixture, kind], axes[row, col]
        means, pts = run["data"].means, run["points"].clamp(-10, 10)
        ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.4)
        ax.scatter(means[:, 0], means[:, 1], s=60, facecolors="none", edgecolors="red")
        lim = 1.6 if mixture == "ring" else 5.5
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        s = run["stats"]
        ax.set_title(f"{mixture}, {kind}\n{s.modes}/{len(means)} modes, {s.high_quality:.1f}% HQ")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## The mode metrics
#
# Over the generated points of each run (2,500 at full size, as PacGAN reports). Higher is better for the first two
# columns, lower for the reverse KL (`inf` when no point is of high quality).

# %%
from IPython.display import Markdown, display

rows = ["| mixture | loss | modes covered | high quality (%) | reverse KL |", "|---|---|---|---|---|"]
for (mixture, kind), run in runs.items():
    s = run["stats"]
    rows.append(f"| {mixture} | {kind} | {s.modes} / {len(s.counts)} | {s.high_quality:.1f} | {s.reverse_kl:.3f} |")
display(Markdown("\n".join(rows)))

# %% [markdown]
# ## The generator's gradient: minimax vs non-saturating
#
# Both GANs log the norm of the generator's gradient at every update (`g_grad_norm`). The minimax generator
# minimises log(1 - D(G(z))), which is flat where D confidently rejects the fakes (D(G(z)) ≈ 0), so its gradient
# vanishes exactly when the generator is worst; the non-saturating loss -log D(G(z)) is steepest there. How much this
# matters depends on how confident D gets. In these runs D is updated once per generator update and is never close
# to optimal, so the two curves may stay close; with D trained to optimality against a fixed generator the gap is
# about four orders of magnitude (`experiments/benchmarks/vanishing_gradient.py`: 0.0007 against 10.5 after 975 D
# steps, `experiments/results/vanishing_gradient.json`).

# %%
def read_column(log_dir: Path, name: str) -> tuple[list[int], list[float]]:
    steps, values = [], []
    with open(log_dir / "metrics.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row.get(name):
                steps.append(int(row["step"]))
                values.append(float(row[name]))
    return steps, values


fig, axes = plt.subplots(1, len(MIXTURES), figsize=(11, 3.5))
for ax, mixture in zip(axes, MIXTURES):
    for kind in ("minimax", "non_saturating"):
        ax.semilogy(*read_column(runs[mixture, kind]["log_dir"], "train/g_grad_norm"), label=kind)
    ax.set_title(f"{mixture}: generator gradient norm")
    ax.set_xlabel("batch")
    ax.legend()
plt.show()

# %% [markdown]
# ## What to take away
#
# - Read the table with the plots: a high "modes covered" with a low high-quality share means points spread between
#   the modes rather than on them (typical on the grid after a short run).
# - With one seed and a few minutes of training, the ranking of the three objectives can go either way (WGAN-GP's
#   critic, with its penalty, needs more updates than this budget gives; `docs/notebooks.md` lists measured runs). The
#   benchmark `python experiments/benchmarks/toy2d.py` repeats each run over seeds and reports means with standard
#   errors, and the shipped configs `experiments/{gan,wgan,wgan_gp}/{ring,grid}.yaml` train for much longer
#   (`lit-gans fit -c experiments/gan/ring.yaml`).
# - Remedies for collapse in the library: PacGAN packing (`pack=2` on `VanillaGAN` / `DCGAN`), spectral
#   normalisation (`spectral_norm=True`), the Wasserstein objectives (`WGAN`, `WGANGP`).
