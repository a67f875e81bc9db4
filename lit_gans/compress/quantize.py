"""Post-training static int8 quantisation of a generator graph for CPU inference (``torch.ao.quantization``, FX
graph mode): observers record the activation ranges on a calibration set of latents drawn the model's way, then
convolutions, linear maps and their fused batch norms and activations run in int8 (weights per channel where the
backend allows; fbgemm kernels), inputs quantised and outputs dequantised at the graph's ends.
Jacob et al. 2018, "Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-Only Inference",
arXiv:1712.05877.

Operators the backend has no int8 kernel for stay in float between a dequantise and a quantise; a generator in
which nothing could be quantised, or which FX cannot trace, is a clear error.
"""

from __future__ import annotations

import warnings
from typing import Iterable, Sequence

import torch
from torch import Tensor, nn

from lit_gans.errors import UserError


def quantized_layers(module: nn.Module) -> int:
    """How many submodules run int8 kernels (``torch.ao.nn.quantized`` modules)."""
    return sum(type(m).__module__.startswith("torch.ao.nn.quantized") and not type(m).__name__.endswith(("Quantize", "DeQuantize"))
               for m in module.modules())


#: the quantised engine int8 graphs are made and run with (a TorchScript int8 file records it in its recipe, and
#: :class:`~lit_gans.compress.graph.DeployedGenerator` selects it before loading one)
ENGINE = "fbgemm"


@torch.no_grad()
def quantize_int8(graph: nn.Module, calibration: Iterable[Sequence[Tensor]], backend: str = ENGINE) -> nn.Module:
    """The int8 version of ``graph`` (a :class:`~lit_gans.compress.graph.GeneratorGraph`), calibrated on the
    batches of inputs ``calibration``.

    ``backend`` is fbgemm's, not ``x86``'s (torch's default engine): with x86's qconfig mapping and engine, DCGAN
    generators that draw visible images came out wrong (mean |int8 - float| 0.45 on the digits teacher, 0.48 on the
    test's tiny one, against 0.01 and 0.02 with fbgemm; tests/test_compress.py), and so did fbgemm-made graphs run
    under the x86 engine; the cause inside torch.ao was not isolated. Sets ``torch.backends.quantized.engine``."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    batches = [tuple(b) for b in calibration]
    torch.backends.quantized.engine = backend
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notices, one per call
        try:
            prepared = prepare_fx(graph.eval(), get_default_qconfig_mapping(backend), batches[0])
            for inputs in batches:
                prepared(*inputs)
            quantized = convert_fx(prepared)
            quantized(*batches[0])
        except Exception as e:  # FX tracing or a missing kernel: torch raises many types here
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(f"int8: cannot quantise this generator ({type(e).__name__}: {first}); try --method distill or prune") from e
    if quantized_layers(quantized) == 0:
        raise UserError("int8: no operator of this generator has an int8 kernel (nothing was quantised); try --method distill or prune")
    return quantized
