# %% [markdown]
# # 01 · Quick start: DCGAN on the embedded digits
#
# This notebook trains a DCGAN (Radford, Metz & Chintala 2015, arXiv:1511.06434) on scikit-learn's bundled 8x8
# handwritten digits (1,797 images, no download), then looks at what it learned the two ways GAN users look:
# **sample grids** and **loss curves**.
#
# The same run from the command line is `lit-gans fit -c experiments/dcgan/digits.yaml`; here we build the pieces by
# hand so that each is visible: a `LightningDataModule`, a `LightningModule` and a Lightning `Trainer`.
#
# **Size switch.** `SIZE = "full"` (the default) trains for about two minutes on a laptop CPU, enough to see digits.
# `SIZE = "small"` (what the test suite runs, `LIT_GANS_NOTEBOOK_SIZE=small`) trains tiny networks for a few dozen
# steps: it only checks that every cell runs, and its samples are noise.

# %%
import os

SIZE = os.environ.get("LIT_GANS_NOTEBOOK_SIZE", "full")  # "small": seconds, samples are noise; "full": minutes
SETTINGS = {
    "small": dict(image_size=8, z_dim=16, g_channels=8, d_channels=8, batches=20),
    "full": dict(image_size=16, z_dim=64, g_channels=64, d_channels=32, batches=25 * 27),  # 27 epochs of 25 batches
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

from lit_gans.data import DigitsDataModule
from lit_gans.images import image_grid
from lit_gans.models import DCGAN

logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no banner at each fit
warnings.filterwarnings("ignore", module="lightning")

L.seed_everything(0, verbose=False)
RUN_DIR = Path(tempfile.mkdtemp(prefix="lit_gans_01_"))  # logs go here, outside the repository


def show(picture, title=None, scale=4):
    """Displays a PIL image (a sample grid) without smoothing."""
    plt.figure(figsize=(scale, scale))
    plt.imshow(picture, cmap="gray", interpolation="nearest")
    plt.axis("off")
    if title:
        plt.title(title)
    plt.show()

# %% [markdown]
# ## The data
#
# `DigitsDataModule` serves `(image, label)` batches; images are scaled to [-1, 1] (the generator ends in `tanh`) and,
# at full size, upsampled to 16x16 because DCGAN's networks halve the resolution down to 4x4. The model reads the
# shape of one sample from `data.data_shape`.

# %%
data = DigitsDataModule(image_size=SETTINGS["image_size"], batch_size=64)
data.setup("fit")
real = torch.stack([data.train_set[i][0] for i in range(64)])
print("data_shape:", data.data_shape, "| training images:", len(data.train_set))
show(image_grid(real), "real digits")

# %% [markdown]
# ## The model, before training
#
# `DCGAN` holds a generator G (transposed convolutions from a 4x4 map up to the image size, batch norm, ReLU, `tanh`)
# and a discriminator D (strided convolutions, batch norm, LeakyReLU), with the paper's optimiser: Adam, learning rate
# 2e-4, beta1 = 0.5. `model.sample(n, seed=...)` is the one interface every callback, metric and command uses; with a
# seed, the same noise comes back, so we can watch the *same* latent vectors before and after training.

# %%
model = DCGAN(data_shape=data.data_shape, z_dim=SETTINGS["z_dim"],
              g_channels=SETTINGS["g_channels"], d_channels=SETTINGS["d_channels"])
print(f"G: {sum(p.numel() for p in model.generator.parameters()):,} parameters, "
      f"D: {sum(p.numel() for p in model.discriminator.parameters()):,} parameters")
show(image_grid(model.sample(64, seed=0)), "untrained generator")

# %% [markdown]
# ## Training
#
# Each batch is one step of Algorithm 1 of Goodfellow et al. 2014 (arXiv:1406.2661): a discriminator update on real
# and generated images, then a generator update with the non-saturating loss. Lightning counts **optimizer** steps in
# `max_steps`, two per batch for a GAN, hence the `2 *` below (the logged `step` counts batches). The `CSVLogger`
# writes every logged value to `metrics.csv`.

# %%
logger = CSVLogger(RUN_DIR, name="dcgan_digits")
trainer = L.Trainer(
    max_steps=2 * SETTINGS["batches"],
    accelerator="cpu",  # "auto" uses a GPU if there is one; these networks are small enough for a CPU
    logger=logger,
    log_every_n_steps=5,
    enable_checkpointing=False,
    enable_progress_bar=False,
    enable_model_summary=False,
    limit_val_batches=0,
)
trainer.fit(model, data)
print("batches trained:", int(model.d_steps), "| generator updates:", int(model.g_steps))

# %% [markdown]
# ## Samples after training
#
# The same 64 latent vectors as above. At full size, after two to three minutes of CPU, many samples read as digits
# and the rest as blurred strokes; training longer (the shipped config runs 60 epochs) sharpens them. Watch whether
# some classes come out more often than others: a mild form of the mode collapse that notebook 02 studies. At small
# size the samples are still noise.

# %%
show(image_grid(model.sample(64, seed=0)), f"after {int(model.d_steps)} batches")

# %% [markdown]
# ## Loss curves
#
# GAN losses are not a training loss that goes down: each player's loss depends on the other player. What to look
# for:
#
# - `d_loss` near 2 log 2 ≈ 1.39 means D cannot tell real from fake (the equilibrium of the minimax game); D winning
#   outright (`d_loss` → 0, `d_real` → 1, `d_fake` → 0) starves G of gradient;
# - `d_real` and `d_fake` are D's mean probabilities that real and generated images are real;
# - curves that oscillate without drifting are normal; a `g_loss` that climbs steadily while `d_loss` falls to 0
#   signals a failing run.

# %%
def read_metrics(path: Path) -> dict[str, tuple[list[int], list[float]]]:
    """Columns of a CSVLogger metrics.csv as {name: (steps, values)}, skipping empty cells."""
    columns: dict[str, tuple[list[int], list[float]]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for name, value in row.items():
                if name != "step" and value not in ("", None):
                    steps, values = columns.setdefault(name, ([], []))
                    steps.append(int(row["step"]))
                    values.append(float(value))
    return columns


metrics = read_metrics(Path(logger.log_dir) / "metrics.csv")
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
for name in ("train/d_loss", "train/g_loss"):
    axes[0].plot(*metrics[name], label=name.split("/")[1])
axes[0].axhline(2 * torch.log(torch.tensor(2.0)).item(), color="gray", ls=":", label="2 log 2")
for name in ("train/d_real", "train/d_fake"):
    axes[1].plot(*metrics[name], label=name.split("/")[1])
for ax, title in zip(axes, ("losses", "D's mean output (probability of 'real')")):
    ax.set_xlabel("batch")
    ax.set_title(title)
    ax.legend()
plt.show()

# %% [markdown]
# ## Where to go next
#
# - `lit-gans fit -c experiments/dcgan/digits.yaml` trains the same model for 60 epochs with sample grids and
#   checkpoints in `runs/dcgan_digits/`; `lit-gans sample --ckpt .../last.ckpt --out grid.png` draws from it.
# - Notebook 02 compares the adversarial losses on 2D mixtures where mode collapse can be counted.
# - Notebook 03 conditions the generator on the digit class and measures it with the classification accuracy score.
