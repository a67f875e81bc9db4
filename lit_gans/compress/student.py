"""Students: the teacher's own variant class, rebuilt from the teacher's hyper-parameters with its generator's width
arguments scaled (a table, not layer surgery, so a change inside a variant's networks keeps working).

A student is saved as an ordinary lit_gans checkpoint of that class (:func:`student_checkpoint`): ``lit-gans sample``
loads it, and ``lit-gans fit --ckpt_path`` continues it adversarially (fresh optimizers, step 0).
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from lit_gans.errors import UserError
from lit_gans.models import GANModule

#: variant -> the constructor arguments that set its generator's channel counts (ints, or lists of widths); those
#: that also set the discriminator (CGAN's, StyleGAN2's) make the student's discriminator narrower too.
WIDTH_HPARAMS: dict[str, tuple[str, ...]] = {
    "DCGAN": ("g_channels",),
    "CGAN": ("base_channels", "hidden"),
    "StyleGAN2": ("channel_base", "channel_max"),
    "VanillaGAN": ("g_hidden",),
    "WGAN": ("g_channels", "g_hidden"),
    "WGANGP": ("g_channels", "g_hidden"),
}


def check_supported(teacher: GANModule) -> None:
    """A clear error for variants whose generator cannot be narrowed by its constructor arguments."""
    name = type(teacher).__name__
    if name not in WIDTH_HPARAMS:
        raise UserError(
            f"compress does not support {name} (its generator is not one z -> sample network with a width argument); "
            f"supported: {', '.join(sorted(WIDTH_HPARAMS))}"
        )


def scale_width(value: Any, width: float) -> Any:
    """``value`` (an int or a list of ints) times ``width``, rounded, at least 1.

    >>> scale_width(64, 0.25), scale_width([256, 512], 0.5)
    (16, [128, 256])
    """
    if isinstance(value, (list, tuple)):
        return [scale_width(v, width) for v in value]
    return max(1, round(int(value) * width))


def teacher_hparams(teacher: GANModule) -> dict[str, Any]:
    """The teacher's constructor arguments (without LightningCLI's bookkeeping entries and transfer settings)."""
    hparams = {k: v for k, v in dict(teacher.hparams).items() if not k.startswith("_")}
    hparams.pop("init_from", None)  # the student starts from the teacher, not from the teacher's own source
    return hparams


def student_hparams(teacher: GANModule, width: float) -> dict[str, Any]:
    """The teacher's constructor arguments with the generator's width arguments scaled by ``width``."""
    check_supported(teacher)
    if not 0.0 < width <= 1.0:
        raise UserError(f"--width must be in (0, 1], got {width}")
    hparams = teacher_hparams(teacher)
    for key in WIDTH_HPARAMS[type(teacher).__name__]:
        if key in hparams:
            hparams[key] = scale_width(hparams[key], width)
    return hparams


def build_student(teacher: GANModule, width: float) -> GANModule:
    """A fresh model of the teacher's class at ``width``; a discriminator of the same shape takes the teacher's
    weights (``fit --ckpt_path`` on the student then starts against a trained discriminator)."""
    student = type(teacher)(**student_hparams(teacher, width))
    own, source = student.discriminator.state_dict(), teacher.discriminator.state_dict()
    if all(k in source and source[k].shape == v.shape for k, v in own.items()):
        student.discriminator.load_state_dict(source)
    return student


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def student_checkpoint(student: GANModule, derived_from: dict[str, Any]) -> dict[str, Any]:
    """An ordinary lit_gans checkpoint of ``student``: weights, constructor arguments, the variant's fresh optimizer
    states (so ``fit --ckpt_path`` resumes from it at step 0) and ``derived_from`` (what it was compressed from)."""
    student.generator_ema = None  # a later fit makes the EMA copy from the distilled generator
    optimizers, schedulers = student.configure_optimizers()
    ckpt: dict[str, Any] = {
        "epoch": 0,
        "global_step": 0,
        "pytorch-lightning_version": L.__version__,
        "state_dict": student.state_dict(),
        "optimizer_states": [opt.state_dict() for opt in optimizers],
        "lr_schedulers": [s.state_dict() for s in schedulers],
        # _class_path as LightningCLI records it: `fit --ckpt_path` then takes the student's widths from the file
        "hyper_parameters": {"_class_path": f"{type(student).__module__}.{type(student).__name__}", **student.hparams},
        "lit_gans_derived_from": derived_from,
    }
    student.on_save_checkpoint(ckpt)  # lit_gans_model, lit_gans_format, RNG states
    return ckpt
