# %% [markdown]
# # 05 · StyleGAN2: truncation, style mixing and interpolation
#
# StyleGAN2 (Karras, Laine, Aittala, Hellsten, Lehtinen & Aila 2020, arXiv:1912.04958) splits its generator in two:
#
# - the **mapping network** turns z ~ N(0, I) into an intermediate latent w (`generator.mapping`), broadcast to one
#   copy per synthesis layer: `ws` of shape (N, num_ws, w_dim);
# - the **synthesis network** (`generator.synthesis`) starts from a learned 4x4 constant and lets each w_i modulate
#   the weights of one convolution (modulation / demodulation, section 2.2), with per-pixel noise added.
#
# Because every layer reads its own w_i, we can feed different layers different latents (**style mixing**), move
# along straight lines in W (**interpolation**), and pull w towards the average w (**truncation**,
# w' = w_avg + psi (w - w_avg)). `StyleGAN2.sample(n, truncation=psi)` is the library's API for the last; the other
# two are a few lines on the public networks and on `lit_gans.models.stylegan2.mix_styles`, the function training
# itself uses to mix latents.
#
# **Honest size note.** StyleGAN2 learns slowly on a CPU: `full` (the default) trains a 16x16 model for a few minutes
# and its samples are blurry digit-like blobs, not digits (the benchmark `experiments/benchmarks/stylegan2_digits.py`
# measures how far it is behind DCGAN at equal CPU time). The operations below work the same on any trained
# checkpoint: load one with `lit_gans.checkpoints.load_model(path)` in place of training. `small` (the test suite's)
# trains a few steps; everything is noise but every cell runs.

# %%
import os

SIZE = os.environ.get("LIT_GANS_NOTEBOOK_SIZE", "full")  # "small": seconds, all noise; "full": minutes, blurry
SETTINGS = {
    "small": dict(image_size=8, z_dim=8, w_dim=8, channel_base=64, channel_max=8, batches=6, batch_size=8),
    "full": dict(image_size=16, z_dim=64, w_dim=64, channel_base=256, channel_max=32, batches=600, batch_size=32),
}[SIZE]
CHECKPOINT = None  # or the path of a trained StyleGAN2 checkpoint: then nothing is trained
SETTINGS

# %%
import logging
import warnings

import lightning as L
import matplotlib.pyplot as plt
import torch

from lit_gans.checkpoints import load_model
from lit_gans.data import DigitsDataModule
from lit_gans.images import image_grid
from lit_gans.models import StyleGAN2
from lit_gans.models.stylegan2 import mix_styles

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
# ## Training (or loading)
#
# Config F's training procedure, as in `experiments/stylegan2/digits.yaml`: non-saturating logistic loss, lazy R1
# every 16 steps (gamma 0.1 here), path length regularisation every 4 steps, style mixing with probability 0.9, an
# EMA generator with a half-life of 2k images, DiffAugment (color, translation, cutout), Adam betas (0, 0.99).
# Networks shrunk to 16x16 digits: 2 mapping layers, at most 32 channels.

# %%
L.seed_everything(0, verbose=False)
if CHECKPOINT:
    model = load_model(CHECKPOINT)
else:
    data = DigitsDataModule(image_size=SETTINGS["image_size"], batch_size=SETTINGS["batch_size"])
    adam = lambda params: torch.optim.Adam(params, lr=0.0025, betas=(0.0, 0.99), eps=1e-8)  # noqa: E731
    model = StyleGAN2(data_shape=data.data_shape, z_dim=SETTINGS["z_dim"], w_dim=SETTINGS["w_dim"],
                      mapping_layers=2, channel_base=SETTINGS["channel_base"], channel_max=SETTINGS["channel_max"],
                      r1_gamma=0.1, ema_kimg=2.0, ema_rampup=0.05, augment="color,translation,cutout",
                      g_optimizer=adam, d_optimizer=adam)
    # max_steps counts optimizer steps: 2 a batch plus the lazy R1 and path length steps, so a few less batches
    trainer = L.Trainer(max_steps=2 * SETTINGS["batches"], accelerator="cpu", logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0)
    trainer.fit(model, data)
G = model.generator_ema  # the EMA generator: what sample() uses and what the paper shows
print(f"num_ws = {G.num_ws} style inputs of w_dim = {model.hparams.w_dim}; trained {int(model.g_steps)} batches")
show(image_grid(model.sample(64, seed=0)), "samples (psi = 1)")

# %% [markdown]
# ## Truncation
#
# Each row uses the same 10 latents with a smaller psi. psi = 1 is the untruncated distribution; as psi → 0 every
# sample moves to the image of the average w: less variety, more "typical" samples (the quality / diversity
# trade-off the paper measures with FID and precision / recall). In the last row (psi = 0) the images differ only by
# the per-pixel noise.

# %%
psis = [1.0, 0.7, 0.5, 0.3, 0.0]
rows = torch.cat([model.sample(10, seed=1, truncation=psi) for psi in psis])
show(image_grid(rows, nrow=10), f"truncation, rows psi = {psis}", scale=6)

# %% [markdown]
# ## Style mixing
#
# Two sets of latents, A (the left column) and B (the top row). Each inner image takes the ws of A for every layer
# except a band taken from B: with a 16x16 generator the 6 style inputs are 2 at 4x4 (coarse: pose, overall shape),
# 2 at 8x8 (middle) and 2 at 16x16 (fine: stroke texture). Fixing the noise (`rng` with one seed) makes the
# differences come from the styles alone. Taking B's *coarse* styles should make an inner image follow B's overall
# shape and A's finer detail; on a briefly trained model the effect is faint.

# %%
@torch.no_grad()
def synthesize(ws):
    return G.synthesis(ws, rng=torch.Generator().manual_seed(0))  # the same noise for every call


@torch.no_grad()
def mixing_grid(ws_a, ws_b, layers):
    """Left column A, top row B, inside: A with B's styles on `layers` (a range of style indices)."""
    n_a, n_b = len(ws_a), len(ws_b)
    blank = -torch.ones(1, *model.hparams.data_shape)
    tiles = [blank, synthesize(ws_b)]
    for i in range(n_a):
        mixed = ws_a[i : i + 1].repeat(n_b, 1, 1)  # (n_b, num_ws, w_dim)
        # B's styles on the band [start, stop): mix_styles takes its first argument below the cutoff
        mixed = mix_styles(mixed, ws_b, layers.start)
        mixed = mix_styles(mixed, ws_a[i : i + 1].repeat(n_b, 1, 1), layers.stop)
        tiles += [synthesize(ws_a[i : i + 1]), synthesize(mixed)]
    return image_grid(torch.cat(tiles), nrow=n_b + 1)


with torch.no_grad():
    ws_a = G.mapping(torch.randn(4, model.hparams.z_dim, generator=torch.Generator().manual_seed(2)))
    ws_b = G.mapping(torch.randn(6, model.hparams.z_dim, generator=torch.Generator().manual_seed(3)))
# two style inputs per resolution, from 4x4 (coarse) up to the image size (fine)
bands = {f"{4 * 2**i}x{4 * 2**i}": range(2 * i, 2 * i + 2) for i in range(G.num_ws // 2)}
fig, axes = plt.subplots(1, len(bands), figsize=(15, 5))
for ax, (name, layers) in zip(axes, bands.items()):
    ax.imshow(mixing_grid(ws_a, ws_b, layers), cmap="gray", interpolation="nearest")
    ax.set_title(f"B's styles at {name}")
    ax.axis("off")
plt.show()

# %% [markdown]
# ## Interpolation in Z and in W
#
# Straight lines between two latents. The paper (and StyleGAN before it) argues that W is less entangled than Z:
# a straight line in W passes through fewer unrelated images than one in Z, which the perceptual path length
# measures. The top row interpolates z linearly and maps each point; the bottom row interpolates the two w's.

# %%
with torch.no_grad():
    z0, z1 = torch.randn(2, model.hparams.z_dim, generator=torch.Generator().manual_seed(4))
    t = torch.linspace(0, 1, 10)[:, None]
    z_line = torch.lerp(z0.expand(10, -1), z1.expand(10, -1), t)  # (10, z_dim)
    w0, w1 = G.mapping(torch.stack([z0, z1]))  # each (num_ws, w_dim)
    w_line = torch.lerp(w0.expand(10, -1, -1), w1.expand(10, -1, -1), t[:, :, None])  # (10, num_ws, w_dim)
    rows = torch.cat([synthesize(G.mapping(z_line)), synthesize(w_line)])
show(image_grid(rows, nrow=10), "interpolation: in Z (top), in W (bottom)", scale=7)

# %% [markdown]
# ## From the command line
#
# `lit-gans fit -c experiments/stylegan2/digits.yaml` trains the same model for 20 epochs with sample grids and
# checkpoints; `lit-gans sample --ckpt .../last.ckpt --out grid.png` draws untruncated samples, and truncated ones come
# from Python: `load_model(path).sample(64, truncation=0.7)`.
# `docs/stylegan2.md` lists what is implemented and where it differs from config F.
