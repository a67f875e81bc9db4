# %% [markdown]
# # 06 · ProGAN: watching the networks grow
#
# Progressive growing (Karras, Aila, Laine & Lehtinen 2017, arXiv:1710.10196) trains G and D at 4x4 first, then
# adds a block to each network per resolution: 8x8, 16x16, ... A new block is **faded in**: for a while its output
# is blended with the upsampled output of the previous resolution, with a weight alpha that goes from 0 to 1
# (figure 2 of the paper), and the real images are blended the same way. Then the new resolution is **stabilised**
# at alpha = 1 before the next block arrives.
#
# The schedule is data (`fade_kimg`, `stable_kimg`: thousands of real images per phase). This notebook grows a
# 16x16 generator on the digits (4 → 8 → 16) and keeps a snapshot of the same 16 latents at every phase boundary.
#
# **Honest size note.** The paper spends 800k images per phase; `full` (the default) spends 1,000, a few CPU
# minutes in all. Its samples show the growth (coarse blobs at 4x4, then finer ones) but are not good digits; the
# shipped config `experiments/progan/digits.yaml` (2k images a phase) and the benchmark
# `experiments/benchmarks/progan_vs_dcgan.py` go further. `small` (the test suite's) grows an 8x8 model over a few
# dozen images: every cell runs, all of it is noise.

# %%
import os

SIZE = os.environ.get("LIT_GANS_NOTEBOOK_SIZE", "full")  # "small": seconds, all noise; "full": minutes
SETTINGS = {
    "small": dict(image_size=8, z_dim=8, channels={4: 8, 8: 8}, phase_kimg=0.032, extra_kimg=0.016),
    "full": dict(image_size=16, z_dim=64, channels={4: 64, 8: 32, 16: 16}, phase_kimg=1.0, extra_kimg=1.0),
}[SIZE]
SETTINGS

# %%
import logging
import warnings

import lightning as L
import matplotlib.pyplot as plt
import torch

from lit_gans.data import DigitsDataModule
from lit_gans.images import image_grid
from lit_gans.models import ProGAN
from lit_gans.models.progan import schedule_images
from lit_gans.nets.progan import resolutions

logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no banner at each fit
warnings.filterwarnings("ignore", module="lightning")

# %% [markdown]
# ## The model and its schedule
#
# The paper's training settings (WGAN-GP loss with lambda = 10 plus the drift term 0.001 E[D(x)^2], Adam 1e-3 with
# betas (0, 0.99), batch 16, pixel norm, equalised learning rate, minibatch standard deviation in D) with small
# networks and short phases. `schedule_images(r, alpha, ...)` inverts the schedule: how many real images have been
# shown when resolution r reaches alpha. Those are the moments we take snapshots.

# %%
L.seed_everything(0, verbose=False)
data = DigitsDataModule(image_size=SETTINGS["image_size"], batch_size=16)
phase = SETTINGS["phase_kimg"]
model = ProGAN(data_shape=data.data_shape, z_dim=SETTINGS["z_dim"], channels=SETTINGS["channels"],
               fade_kimg=phase, stable_kimg=phase, batch_size={4: 16}, ema_decay=0.99)
fade, stable = model.fade_images, model.stable_images
moments = [("4x4, end of its phase", stable)]  # (label, images shown)
for r in resolutions(model.target)[1:]:
    moments += [(f"{r}x{r} fade-in, alpha 0.5", schedule_images(r, 0.5, fade, stable)),
                (f"{r}x{r} fade-in done", schedule_images(r, 1.0, fade, stable)),
                (f"{r}x{r} stabilised", schedule_images(r, 1.0, fade, stable) + stable)]
total_images = moments[-1][1] + int(SETTINGS["extra_kimg"] * 1000)
for label, n in moments:
    print(f"{label:26s} after {n:5d} images")
print("training for", total_images, "images")

# %% [markdown]
# ## Training, with snapshots
#
# A small Lightning callback looks at the model after every batch and, when the number of images shown passes one
# of the moments above, stores 16 samples with a fixed seed. `model.sample` draws at the current resolution and
# alpha and upsamples to 16x16 (nearest), so every snapshot has the same size.

# %%
class GrowthSnapshots(L.Callback):
    def __init__(self, moments):
        self.pending, self.snapshots, self.history = list(moments), [], []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        shown = int(pl_module.images_shown)
        r, alpha, *_ = pl_module.phase
        self.history.append((shown, r, alpha))
        while self.pending and shown >= self.pending[0][1]:
            label, _ = self.pending.pop(0)
            self.snapshots.append((label, shown, pl_module.sample(16, seed=0)))


snapshots = GrowthSnapshots(moments)
trainer = L.Trainer(max_steps=2 * (total_images // 16), accelerator="cpu", logger=False, callbacks=[snapshots],
                    enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                    limit_val_batches=0)
trainer.fit(model, data)
print("images shown:", int(model.images_shown), "| final phase:", model.phase)

# %% [markdown]
# ## The schedule as it ran
#
# Resolution (steps) and alpha (ramps) against the images shown.

# %%
shown, res, alpha = zip(*snapshots.history)
fig, ax = plt.subplots(figsize=(9, 3))
ax.step(shown, res, where="post", label="resolution")
ax.set_ylabel("resolution")
ax2 = ax.twinx()
ax2.plot(shown, alpha, color="C1", label="alpha")
ax2.set_ylabel("alpha", color="C1")
ax.set_xlabel("real images shown")
plt.show()

# %% [markdown]
# ## Growth: the same 16 latents at each phase boundary
#
# One row per snapshot, upsampled to the final size. Expect 4x4 blocks in the first row, an 8x8 structure appearing
# during its fade-in, and finer detail at 16x16.

# %%
fig, axes = plt.subplots(len(snapshots.snapshots), 1, figsize=(10, 1.0 * len(snapshots.snapshots) + 1))
for ax, (label, n, images) in zip(axes, snapshots.snapshots):
    ax.imshow(image_grid(images, nrow=16), cmap="gray", interpolation="nearest")
    ax.set_title(f"{label} ({n} images)", fontsize=9, loc="left")
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## One generator, every resolution
#
# The final EMA generator still has the toRGB layer of every resolution, so it can be read out at 4x4, 8x8 and
# 16x16 (alpha = 1): the same latents, each resolution a coarser summary of the next.

# %%
G = model.generator_ema
z = torch.randn(8, model.hparams.z_dim, generator=torch.Generator().manual_seed(0))
fig, axes = plt.subplots(1, len(resolutions(model.target)), figsize=(12, 2.5))
with torch.no_grad():
    for ax, r in zip(axes, resolutions(model.target)):
        ax.imshow(image_grid(G(z, resolution=r, alpha=1.0), nrow=4), cmap="gray", interpolation="nearest")
        ax.set_title(f"{r}x{r}")
        ax.axis("off")
plt.show()
