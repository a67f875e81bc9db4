"""``lit-gans sample --ckpt PATH --num N --out FILE``: N samples from a trained model.

``.png`` writes a picture (a grid of images, or a scatter plot of 2D points), ``.pt`` the tensor itself (images in
[-1, 1] of shape (N, C, H, W), points (N, D), token ids (N, T)). Token sequences (SeqGAN) also go to ``.txt``, one
decoded sequence a line, and the first few are printed. ``--label`` picks the class of a conditional model. A grid
of images is enlarged (nearest neighbour) to at least ``--min_size`` pixels across; ``--min_size 0`` keeps the
images' own size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from jsonargparse import ArgumentParser

from lit_gans.errors import UserError
from lit_gans.commands.parsing import parse_args


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="lit-gans sample", description=__doc__, exit_on_error=False)
    p.add_argument("--ckpt", type=str, required=True, help="checkpoint written by lit-gans fit or compress, or a TorchScript generator of lit-gans export / compress --method int8")
    p.add_argument("--num", type=int, default=64, help="number of samples")
    p.add_argument("--out", type=str, required=True, help="output file: .png (picture), .pt (tensor) or .txt (decoded token sequences)")
    p.add_argument("--seed", type=Optional[int], default=0, help="seed of the noise (null for a random draw)")
    p.add_argument("--label", type=Optional[int], default=None, help="class, for conditional models")
    p.add_argument("--nrow", type=Optional[int], default=None, help="images per row of the grid")
    p.add_argument("--min_size", type=int, default=512, help="least width of a grid in pixels (0: the images' size)")
    return p


def main(argv: Sequence[str]) -> None:
    args = parse_args(build_parser(), argv)
    import torch  # after parsing, so that --help needs neither torch nor Lightning

    from lit_gans.compress.graph import load_sampler
    from lit_gans.images import samples_to_picture
    from lit_gans.provenance import save_synthetic_png

    out = Path(args.out)
    if out.suffix not in (".png", ".pt", ".txt"):
        raise UserError(f"--out must end in .png, .pt or .txt, got {out.name}")
    if args.num < 1:
        raise UserError(f"--num must be >= 1, got {args.num}")
    model = load_sampler(args.ckpt)  # a checkpoint, or a TorchScript file of export / compress --method int8
    condition = {} if args.label is None else {"labels": args.label}
    try:
        samples = model.sample(args.num, seed=args.seed, **condition)
    except (TypeError, ValueError) as e:
        raise UserError(str(e)) from e
    out.parent.mkdir(parents=True, exist_ok=True)
    if not samples.is_floating_point():  # token ids: decoded text, or the ids themselves
        return _write_sequences(model, samples, out)
    if out.suffix == ".txt":
        raise UserError(f"{type(model).__name__} makes images or points, not text: use --out with .png or .pt")
    if out.suffix == ".pt":
        torch.save(samples.cpu(), out)
    else:
        picture = samples_to_picture(samples, nrow=args.nrow, min_size=args.min_size)
        save_synthetic_png(picture, out, model, checkpoint=args.ckpt)
    print(f"wrote {args.num} samples to {out}")


def _write_sequences(model, tokens: "torch.Tensor", out: Path) -> None:
    import torch

    if out.suffix == ".png":
        raise UserError(f"{type(model).__name__} makes token sequences: use --out with .txt or .pt")
    if out.suffix == ".pt":
        torch.save(tokens.cpu(), out)
    lines = model.decode(tokens.cpu())
    if out.suffix == ".txt":
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[:5]))
    print(f"wrote {len(lines)} sequences to {out}")
