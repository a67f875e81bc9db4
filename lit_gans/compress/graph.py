"""A trained generator as a deployable graph: ``z (N, z_dim) [, labels (N,)] -> images (N, C, H, W)`` in [-1, 1],
from the EMA weights when the model has them, saved as TorchScript (with a small recipe that says how to draw z) or
ONNX. :class:`DeployedGenerator` loads a TorchScript file back and samples like a lit_gans model, so
``lit-gans sample`` works on it.

Generators with per-layer noise inputs (StyleGAN2) are exported with their fixed noise images (``noise_mode``
``const``, the trained noise strengths kept): a graph whose output is random is not a function of z, and cannot be
checked against PyTorch; a variant whose ``generate`` has no ``noise_mode`` gets its noise strengths set to 0.
"""

from __future__ import annotations

import copy
import inspect
import json
import warnings
import zipfile
from pathlib import Path
from typing import Any, Optional, Sequence

import torch
from torch import Tensor, nn

from lit_gans.errors import UserError

RECIPE = "lit_gans_recipe.json"  # the TorchScript extra file holding the recipe


class GeneratorGraph(nn.Module):
    """The model's sampling generator (EMA when present, eval mode) behind ``forward(z, labels=None)``, through the
    model's own :meth:`~lit_gans.models.base.GANModule.generate` hook."""

    def __init__(self, model) -> None:
        super().__init__()
        self.net = copy.deepcopy(model.sampling_generator()).eval().requires_grad_(False)
        self.noise = {"noise_mode": "const"} if "noise_mode" in inspect.signature(model.generate).parameters else {}
        if not self.noise:
            with torch.no_grad():
                for name, p in self.net.named_parameters():
                    if name.endswith("noise_strength"):
                        p.zero_()
        self.conditional = model.num_label_classes > 0
        # bound methods, not submodules: the graph holds only the generator
        self._generate, self._to_data_range = model.generate, model.to_data_range

    def forward(self, z: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        images = self._generate(self.net, z, **({"labels": labels} if self.conditional else {}), **self.noise)
        return self._to_data_range(images)  # as model.sample gives them (StyleGAN2 clips)

    def example_inputs(self, model, n: int = 2, seed: int = 0) -> tuple[Tensor, ...]:
        """Seeded inputs the model's way: (z,) or (z, labels)."""
        rng = torch.Generator().manual_seed(seed)
        z = model.sample_latent(n, generator=rng)
        return (z, model.sample_condition(n, rng)["labels"]) if self.conditional else (z,)


def recipe(model, method: str, derived_from: dict[str, Any]) -> dict[str, Any]:
    """What a deployed graph needs besides its weights: how z is drawn, the classes, the provenance."""
    hparams = dict(model.hparams)
    return {
        "variant": type(model).__name__,
        "z_dim": int(hparams["z_dim"]),
        "z_dist": hparams.get("z_dist", "normal"),
        "num_classes": model.num_label_classes,
        "method": method,
        "derived_from": derived_from,
    }


def save_torchscript(module: nn.Module, inputs: Sequence[Tensor], path: Path, meta: dict[str, Any]) -> nn.Module:
    """Traces ``module`` on ``inputs`` and saves it with the recipe; returns the traced module."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript's deprecation notice
        traced = torch.jit.trace(module, tuple(inputs), check_trace=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.save(traced, str(path), _extra_files={RECIPE: json.dumps(meta)})
    return traced


def is_torchscript(path: str | Path) -> bool:
    """Whether ``path`` is a TorchScript archive written by lit_gans (it holds the recipe)."""
    try:
        with zipfile.ZipFile(path) as z:
            return any(name.endswith(f"extra/{RECIPE}") for name in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def read_recipe(path: str | Path) -> dict[str, Any]:
    """The recipe of a TorchScript file written by lit_gans, read from the archive without loading the graph."""
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith(f"extra/{RECIPE}"))
        return json.loads(z.read(name))


class DeployedGenerator(nn.Module):
    """A TorchScript generator written by ``lit-gans export`` or ``compress --method int8``, with ``sample`` like a
    lit_gans model's: z drawn from the seed as the original model draws it, so the same seed gives the same images."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        engine = read_recipe(path).get("quantized_engine")
        if engine:  # int8 weights are packed for the engine current when the file is loaded
            torch.backends.quantized.engine = engine
        extra = {RECIPE: ""}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # TorchScript's deprecation notice
            self.graph = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        self.recipe = json.loads(extra[RECIPE])
        self.device = torch.device("cpu")

    def state_dict(self, *args, **kwargs):  # provenance hashes the file itself: quantised tensors hash poorly
        return {}

    def sample_latent(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
        if self.recipe["z_dist"] == "uniform":
            return torch.rand(n, self.recipe["z_dim"], generator=generator) * 2.0 - 1.0
        return torch.randn(n, self.recipe["z_dim"], generator=generator)

    @torch.no_grad()
    def sample(self, n: int, *, seed: Optional[int] = None, labels: int | Sequence[int] | None = None) -> Tensor:
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        z = self.sample_latent(n, rng)
        k = self.recipe["num_classes"]
        if not k:
            if labels is not None:
                raise TypeError(f"this {self.recipe['variant']} generator is unconditional; it takes no labels")
            return self.graph(z)
        y = torch.arange(n) % k if labels is None else torch.as_tensor(labels, dtype=torch.long).flatten().expand(n)
        if int(y.min()) < 0 or int(y.max()) >= k:
            raise ValueError(f"labels must be in [0, {k - 1}], got {labels}")
        return self.graph(z, y)


def load_sampler(path: str | Path):
    """A lit_gans checkpoint's model, or a deployed TorchScript generator; one line for an ONNX file."""
    from lit_gans.checkpoints.loading import load_model

    if Path(path).suffix == ".onnx":
        raise UserError(f"{path} is an ONNX graph: run it with onnxruntime (see docs/compression.md), or sample a .ckpt or TorchScript file")
    return DeployedGenerator(path) if is_torchscript(path) else load_model(path)
