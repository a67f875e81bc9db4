"""``lit-gans export --ckpt CKPT --format onnx|torchscript --out FILE``: the generator as a deployable graph.

The graph takes ``z`` of shape (N, z_dim) (and ``labels`` (N,) int64 for conditional models) for any batch size N
and returns images (N, C, H, W) in [-1, 1]; the EMA generator's weights when the model has them
(:mod:`lit_gans.compress.graph`). After writing, the file is run (onnxruntime for ONNX, ``torch.jit.load`` for
TorchScript) on seeded latents at two batch sizes and compared with PyTorch: more than ``--tolerance`` apart is an
error. TorchScript files carry the latent recipe, so ``lit-gans sample --ckpt FILE`` draws from them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Sequence

import torch
from jsonargparse import ArgumentParser

from lit_gans.errors import UserError
from lit_gans.commands.parsing import parse_args

SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="lit-gans export", description=__doc__, exit_on_error=False)
    p.add_argument("--ckpt", type=str, required=True, help="checkpoint written by lit-gans fit or lit-gans compress")
    p.add_argument("--format", type=Literal["onnx", "torchscript"], required=True)
    p.add_argument("--out", type=str, required=True, help=".onnx for onnx, .pt for torchscript")
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest allowed |graph - PyTorch| on the check")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset")
    return p


def main(argv: Sequence[str]) -> None:
    from lit_gans.checkpoints.loading import load_model
    from lit_gans.compress.card import derived_from, write_derived_card
    from lit_gans.compress.graph import GeneratorGraph, recipe

    args = parse_args(build_parser(), argv)
    out = Path(args.out)
    if out.suffix != SUFFIX[args.format]:
        raise UserError(f"--format {args.format} writes a {SUFFIX[args.format]} file: got --out {out.name}")
    model = load_model(args.ckpt)
    if not model.has_latent:
        raise UserError(f"export needs a model with one generator of z; {type(model).__name__} has none")
    graph = GeneratorGraph(model)
    example = graph.example_inputs(model, n=2)
    origin = derived_from(args.ckpt, f"export ({args.format})", {"ema_weights": model.generator_ema is not None})
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.format == "onnx":
        _export_onnx(graph, example, out, args.opset)
        run = _onnx_runner(out)
    else:
        from lit_gans.compress.graph import save_torchscript

        run = save_torchscript(graph, example, out, recipe(model, "export (torchscript)", origin))
    try:
        error = max(check_graph(run, graph, graph.example_inputs(model, n, seed=100 + n)) for n in (1, 7))
    except Exception as e:  # the runtime's error for a graph traced with the batch size fixed somewhere inside
        out.unlink()
        raise UserError(f"the exported graph does not run at other batch sizes ({type(e).__name__}); {type(model).__name__}'s "
                        "generator fixes the batch size in its graph (StyleGAN2's modulated convolution groups by batch)") from e
    if not error <= args.tolerance:
        out.unlink()
        raise UserError(f"the exported graph differs from PyTorch by {error:.2e} > --tolerance {args.tolerance}; removed {out}")
    card = write_derived_card(out, model, origin, {"max |graph - PyTorch| on seeded latents (batch 1 and 7)": f"{error:.2e}"}, args.format)
    print(f"wrote {out} (max |graph - PyTorch| = {error:.2e} at batch sizes 1 and 7) and {card.name}")


def _export_onnx(graph, example: tuple, out: Path, opset: int) -> None:
    names = ["z", "labels"][: len(example)]
    batch = torch.export.Dim("batch")
    try:
        torch.onnx.export(graph, example, str(out), input_names=names, output_names=["images"], opset_version=opset,
                          dynamic_shapes=tuple({0: batch} for _ in example), verbose=False)
    except Exception as e:  # torch.export / onnxscript raise many types
        raise UserError(f"cannot export this generator to ONNX with a dynamic batch size ({_summary(e)})") from e


def _summary(e: Exception) -> str:
    """The cause in one line: torch.onnx's "Exception summary" line when there is one (without terminal colours)."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(e).splitlines()]
    cause = next((line for line in lines if line.startswith("<class")), lines[0] if lines else type(e).__name__)
    return cause[:300]


def _onnx_runner(path: Path):
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise UserError("checking an ONNX export needs onnxruntime: pip install 'lit_gans[dev]'") from e
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return lambda *inputs: torch.from_numpy(session.run(None, {n: t.numpy() for n, t in zip(names, inputs)})[0])


@torch.no_grad()
def check_graph(run, graph, inputs: tuple) -> float:
    """max |run(inputs) - graph(inputs)|."""
    return float((run(*inputs) - graph(*inputs)).abs().max())
