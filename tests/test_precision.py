"""Mixed precision and compile switches with manual optimisation, on the CPU.

Lightning turns ``precision="16-mixed"`` on a CPU into bf16, so the fp16 tests give the Trainer the fp16 plugin
explicitly, with a CPU ``GradScaler``: the same code path (scaled backward, unscale before the step, skipped steps on
overflow) as on a GPU, where ``--trainer.precision 16-mixed`` makes it.
"""

from __future__ import annotations

import lightning as L
import pytest
import torch
from conftest import quick_trainer
from lightning.pytorch.plugins import MixedPrecision

from lit_gans.callbacks.performance import ClipGradNorm, Speedups
from lit_gans.checkpoints import load_model
from lit_gans.data.digits import DigitsDataModule
from lit_gans.models import DCGAN, WGANGP

TINY = dict(data_shape=(1, 8, 8), z_dim=4, g_channels=4, d_channels=4)


def fp16(init_scale: float) -> MixedPrecision:
    return MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu", init_scale=init_scale))


class GradNorms(L.Callback):
    """The global gradient norm each optimizer steps with (after Lightning's unscaling and any clipping)."""

    def __init__(self) -> None:
        self.norms: list[float] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        grads = [p.grad.norm() for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        self.norms.append(float(torch.linalg.vector_norm(torch.stack(grads))))


def fit(model, batches: int, **trainer_kwargs) -> L.Trainer:
    trainer = quick_trainer(2 * batches, **trainer_kwargs)  # two optimizer steps per batch
    trainer.fit(model, datamodule=DigitsDataModule(image_size=8, batch_size=8))
    return trainer


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if k.endswith(("weight", "bias"))}


def test_bf16_mixed_trains_on_cpu():
    L.seed_everything(0)
    model = WGANGP(**TINY, n_critic=1)  # the gradient penalty's double backward under autocast too
    before = weights(model)
    trainer = fit(model, 2, precision="bf16-mixed")
    assert trainer.precision == "bf16-mixed"
    logged = {k: float(v) for k, v in trainer.callback_metrics.items()}
    assert all(torch.isfinite(torch.tensor(v)) for v in logged.values()) and "train/gradient_penalty" in logged
    # every weight moved (a bias just before a normalisation gets no gradient, and may stay put)
    assert all(not torch.equal(before[k], v) for k, v in weights(model).items() if k.endswith("weight"))


def test_fp16_reports_and_clips_unscaled_gradients():
    L.seed_everything(0)
    seen = GradNorms()
    trainer = fit(DCGAN(**TINY), 2, plugins=[fp16(2.0**12)], callbacks=[ClipGradNorm(max_norm=0.002), seen])
    # every step was clipped to the norm asked for, in unscaled units (clipping scaled gradients would give 0.002/4096)
    assert len(seen.norms) == 4 and all(abs(n - 0.002) < 1e-5 for n in seen.norms)
    # the logged norm is the unscaled one before clipping (about 0.2 here), not 4096 times it
    d_norm = float(trainer.callback_metrics["train/d_grad_norm"])
    assert 0.02 < d_norm < 20.0


def test_fp16_overflow_steps_are_skipped_not_fatal():
    """A loss scale so large that the scaled gradients overflow: GradScaler skips each step and halves the scale;
    the NaN check (on the unscaled loss) stays quiet."""
    L.seed_everything(0)
    model = DCGAN(**TINY)
    before = weights(model)
    plugin = fp16(2.0**40)
    fit(model, 2, plugins=[plugin])
    assert all(torch.equal(before[k], v) for k, v in weights(model).items())  # no step was taken
    assert plugin.scaler.get_scale() == 2.0**36  # four optimizer steps, each skipped with the scale halved
    assert int(model.d_steps) == 2 and int(model.g_steps) == 2


def test_compiled_dcgan_trains_and_its_checkpoint_loads(tmp_path):
    """``Speedups(compile=True)`` compiles G and D in place: 2 steps train, and the checkpoint keeps plain keys.

    The test compiles with the ``eager`` backend (graph capture without code generation, seconds on a small CPU);
    ``inductor``, the default, was run by hand (about 160 s for this tiny model on 2 loaded cores).
    """
    L.seed_everything(0)
    model = DCGAN(**TINY, ema_decay=0.9)
    before = weights(model)
    speedups = Speedups(compile=True, compile_backend="eager", channels_last=True)
    trainer = fit(model, 2, callbacks=[speedups])
    assert model.generator._compiled_call_impl is not None and model.discriminator._compiled_call_impl is not None
    assert model.generator_ema._compiled_call_impl is None  # compiled after the EMA copy, never the copy
    assert model.generator.net[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert all(not torch.equal(before[k], v) for k, v in weights(model).items() if k.startswith("generator."))
    path = tmp_path / "compiled.ckpt"
    trainer.save_checkpoint(path)
    loaded = load_model(path)
    assert not any("_orig_mod" in k for k in loaded.state_dict())
    assert torch.allclose(loaded.sample(4, seed=1), model.sample(4, seed=1), atol=1e-5)


def test_clip_grad_norm_rejects_a_non_positive_norm():
    with pytest.raises(ValueError, match="max_norm must be positive"):
        ClipGradNorm(0.0)
