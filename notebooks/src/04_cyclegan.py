# %% [markdown]
# # 04 · CycleGAN: unpaired translation between two styles of digits
#
# CycleGAN (Zhu, Park, Isola & Efros 2017, arXiv:1703.10593) learns two translators, G_AB from domain A to B and
# G_BA back, from two image collections that are **not paired**. Each direction is trained adversarially against a
# discriminator of its target domain, and the **cycle-consistency** loss ||G_BA(G_AB(a)) - a||_1 (+ the other way)
# keeps the translation from forgetting its input.
#
# `DigitsStylesDataModule` is an embedded unpaired pair: domain A is scikit-learn's digits (16x16), domain B the
# same kind of digits with strokes thickened by a 3x3 max filter, A and B drawn from *disjoint* halves of the digits,
# so no image has its twin in the other domain. Because the restyling is known, we also hold the ground truth of
# every test translation (`split["test_a"]["other"]`), which real CycleGAN datasets (horses, zebras) do not have.
#
# **Size switch.** `full` (the default): a few minutes on a laptop CPU, enough for visibly thicker / thinner strokes.
# `small` (the test suite's): a few steps of tiny networks; the translations are noise.

# %%
import os

SIZE = os.environ.get("LIT_GANS_NOTEBOOK_SIZE", "full")  # "small": seconds, translations are noise; "full": minutes
SETTINGS = {
    "small": dict(channels=4, n_residual_blocks=1, batches=6, batch_size=4),
    "full": dict(channels=16, n_residual_blocks=3, batches=4 * 45, batch_size=16),  # 45 batches an epoch: 4 epochs
}[SIZE]
SETTINGS

# %%
import logging
import warnings

import lightning as L
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from lit_gans.data import DigitsStylesDataModule
from lit_gans.images import image_grid
from lit_gans.models import CycleGAN

logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no banner at each fit
warnings.filterwarnings("ignore", module="lightning")


def show(picture, title=None, scale=5):
    """Displays a PIL image (a sample grid) without smoothing."""
    plt.figure(figsize=(scale, scale))
    plt.imshow(picture, cmap="gray", interpolation="nearest")
    plt.axis("off")
    if title:
        plt.title(title)
    plt.show()

# %% [markdown]
# ## The two domains
#
# A training batch is an unpaired couple `(a, b)`: a batch of A images and a batch of B images drawn independently.

# %%
L.seed_everything(0, verbose=False)
data = DigitsStylesDataModule(image_size=16, style="thick", batch_size=SETTINGS["batch_size"])
data.setup("fit")
test_a, test_b = data.split["test_a"], data.split["test_b"]
a, b = next(iter(data.train_dataloader()))
show(image_grid(torch.cat([a[:8], b[:8]]), nrow=8), "a training batch: domain A (top), domain B (bottom)", scale=6)

# %% [markdown]
# ## Model and training
#
# The paper's recipe, shrunk: ResNet generators (here 16 channels, 3 residual blocks instead of 64 and 9), a
# PatchGAN discriminator with one stride-2 layer (16x16 patches, the whole image here), the least-squares adversarial
# loss, lambda_cycle = 10, the identity loss at 0.5 lambda_cycle, a 50-image history for the discriminators, Adam
# 2e-4 with beta1 = 0.5. Batch size 16 instead of the paper's 1, to train in CPU minutes.

# %%
model = CycleGAN(data_shape=data.data_shape, g_channels=SETTINGS["channels"], d_channels=SETTINGS["channels"],
                 n_residual_blocks=SETTINGS["n_residual_blocks"], d_layers=1)
trainer = L.Trainer(max_steps=2 * SETTINGS["batches"], accelerator="cpu", logger=False, enable_checkpointing=False,
                    enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
trainer.fit(model, data)
print("batches trained:", int(model.g_steps))

# %% [markdown]
# ## Translations of held-out digits
#
# Each row: a test image of A, its translation G_AB(a), the ground truth (the same digit drawn thick), and the
# reconstruction G_BA(G_AB(a)). Then the same for B → A. At full size the strokes visibly thicken and thin while
# the digit stays the same; at small size the middle columns are noise.

# %%
def rows(source, direction, k=8):
    x = source["images"][:k]
    fake = model.translate(x, direction)
    back = model.translate(fake, "BtoA" if direction == "AtoB" else "AtoB")
    return torch.stack([x, fake, source["other"][:k], back], dim=1).flatten(0, 1)  # (k * 4, C, H, W), row-major


fig, axes = plt.subplots(1, 2, figsize=(9, 9))
for ax, (source, direction) in zip(axes, ((test_a, "AtoB"), (test_b, "BtoA"))):
    ax.imshow(image_grid(rows(source, direction), nrow=4), cmap="gray", interpolation="nearest")
    ax.set_title(f"{direction}: input | translation | truth | cycle")
    ax.axis("off")
plt.show()

# %% [markdown]
# ## Measured on the whole test split
#
# Mean absolute pixel error (images in [-1, 1]) between the translation and the ground truth, beside the error of
# doing nothing (the untranslated input). A translation that learned the style scores below "do nothing"; the cycle
# error says how much of the input survives the round trip.

# %%
results = ["| direction | translation vs truth | input vs truth (do nothing) | cycle error |", "|---|---|---|---|"]
for source, direction in ((test_a, "AtoB"), (test_b, "BtoA")):
    x, truth = source["images"], source["other"]
    fake = model.translate(x, direction)
    back = model.translate(fake, "BtoA" if direction == "AtoB" else "AtoB")
    err = lambda u, v: float((u - v).abs().mean())  # noqa: E731
    results.append(f"| {direction} | {err(fake, truth):.3f} | {err(x, truth):.3f} | {err(back, x):.3f} |")
display(Markdown("\n".join(results)))

# %% [markdown]
# ## Notes
#
# - Nothing in the loss pairs a thin digit with its thick version: the model found the correspondence from the
#   adversarial and cycle terms alone. With a longer run (`lit-gans fit -c experiments/cyclegan/digits.yaml`, 12
#   epochs) the benchmark `experiments/benchmarks/cyclegan_digits.py` also checks that a digit classifier still
#   recognises the translated digits.
# - `lit-gans translate --ckpt ... --input folder/ --out translated/` applies a trained model to image files; see
#   `docs/cyclegan.md`.
