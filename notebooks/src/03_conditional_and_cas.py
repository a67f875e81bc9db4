# %% [markdown]
# # 03 · Conditional generation and the classification accuracy score
#
# A conditional GAN (Mirza & Osindero 2014, arXiv:1411.1784) gives the class label y to both players: G draws
# G(z | y), D judges whether an image is a real example *of class y*. After training we can ask for a digit.
#
# How good are the class-conditional samples? The **classification accuracy score** (CAS; Ravuri & Vinyals 2019,
# arXiv:1905.10887) trains a classifier on generated labelled images *only* and reports its accuracy on real
# held-out images. It is high only when the samples of each class are both recognisable and as varied as the real
# class: a generator that draws one perfect "7" for y = 7 gives a classifier that fails on the other sevens.
# `lit_gans.metrics.classifier.classification_accuracy_score` implements it with the small digits CNN of
# `lit_gans.nets.classifier`.
#
# **Size switch.** `full` (the default): a few minutes on a laptop CPU. `small` (the test suite's): a few dozen
# steps; the samples are noise and the CAS is near chance (10%).

# %%
import os

SIZE = os.environ.get("LIT_GANS_NOTEBOOK_SIZE", "full")  # "small": seconds, samples are noise; "full": minutes
SETTINGS = {
    "small": dict(image_size=8, z_dim=16, base_channels=8, batches=20, cas_per_class=20, cas_epochs=2),
    "full": dict(image_size=16, z_dim=64, base_channels=32, batches=25 * 27, cas_per_class=160, cas_epochs=15),
}[SIZE]
SETTINGS

# %%
import logging
import warnings

import lightning as L
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from lit_gans.data import DigitsDataModule
from lit_gans.images import image_grid
from lit_gans.metrics.classifier import accuracy, classification_accuracy_score, fit_classifier
from lit_gans.models import CGAN

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
# ## Data and model
#
# `CGAN(net="dcgan")` uses the DCGAN networks with the label as one-hot input planes (beside z in G, beside the
# image in D); `net="mlp"` is the paper's fully connected version. The held-out tenth of the digits
# (`data.val_set`) is never trained on: it is the CAS test set.

# %%
L.seed_everything(0, verbose=False)
data = DigitsDataModule(image_size=SETTINGS["image_size"], batch_size=64)
data.setup("fit")
x_train, y_train = data.train_set.tensors
x_test, y_test = data.val_set.tensors
print(f"train {len(x_train)} images, held out {len(x_test)}")

model = CGAN(data_shape=data.data_shape, num_classes=data.num_classes, net="dcgan",
             z_dim=SETTINGS["z_dim"], base_channels=SETTINGS["base_channels"])
untrained = CGAN(**model.hparams)  # the same architecture, never trained: the CAS baseline from below
_ = untrained.load_state_dict(model.state_dict())

# %%
trainer = L.Trainer(max_steps=2 * SETTINGS["batches"], accelerator="cpu", logger=False, enable_checkpointing=False,
                    enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
trainer.fit(model, data)

# %% [markdown]
# ## One row per class
#
# `sample(n, labels=...)` takes one label for all samples or one per sample. Row k holds ten samples of class k,
# each column the same noise z: at full size the rows read 0 to 9, and a column often keeps a style (slant, stroke
# width) across the classes, because z carries what the label does not.

# %%
per_row = 10
labels = torch.arange(10).repeat_interleave(per_row)  # 0,0,...,0,1,1,... (100,)
z_seed = 0
samples = model.sample(len(labels), seed=z_seed, labels=labels)
show(image_grid(samples, nrow=per_row), f"CGAN samples, row k = class k (after {int(model.d_steps)} batches)")

# %% [markdown]
# ## The classification accuracy score
#
# For each generator we draw `cas_per_class` images of every class, train the digits classifier on them alone
# (same classifier, same epochs, same seed each time), and test it on the real held-out digits. Two references frame
# the number:
#
# - **real data**: the classifier trained on as many *real* training digits, which is what CAS would be for a
#   perfect generator (Ravuri & Vinyals report this gap between real and generated data);
# - **untrained generator**: the same network before training, which should score near chance (10%).

# %%
n = 10 * SETTINGS["cas_per_class"]
fit_args = dict(epochs=SETTINGS["cas_epochs"], seed=0)
y_fake = torch.arange(n) % 10


def cas(generator) -> float:
    x_fake = generator.sample(n, seed=1, labels=y_fake)
    return classification_accuracy_score(x_fake, y_fake, x_test, y_test, **fit_args)


pick = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(0))[:n]
real_acc = accuracy(fit_classifier(x_train[pick], y_train[pick], **fit_args), x_test, y_test)
scores = {"real training digits": real_acc, "trained CGAN (CAS)": cas(model), "untrained CGAN (CAS)": cas(untrained)}
rows = ["| classifier trained on | accuracy on real held-out digits |", "|---|---|"]
rows += [f"| {name} ({n} images) | {value:.1%} |" for name, value in scores.items()]
display(Markdown("\n".join(rows)))

# %% [markdown]
# ## Reading the result
#
# - At full size the trained CGAN's CAS sits well above chance and below the real-data accuracy; the gap is the
#   part of the real class distributions the generator misses or distorts. At small size both CGAN rows are near
#   chance.
# - CAS depends on the classifier and its training budget; compare generators only with the same settings (here:
#   `fit_args`, `n`, the test split).
# - The same metric from the command line: `lit-gans fit -c experiments/cgan/digits.yaml`, then the evaluation
#   callbacks of `docs/evaluation.md`.
