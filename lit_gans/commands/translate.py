"""``lit-gans translate --ckpt PATH --input DIR_OR_FILE --direction AtoB --out DIR``: image-to-image translation
with a trained CycleGAN.

Each input image is read as RGB or greyscale (the model's channel count), resized and center-cropped to the model's
training size (``--size`` overrides it; a multiple of 4), translated, and written as ``DIR/<name>.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import torch
from jsonargparse import ArgumentParser

from lit_gans.errors import UserError


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="lit-gans translate", description=__doc__, exit_on_error=False)
    p.add_argument("--ckpt", type=str, required=True, help="CycleGAN checkpoint written by lit-gans fit")
    p.add_argument("--input", type=str, required=True, help="an image file, or a folder of images")
    p.add_argument("--direction", type=str, default="AtoB", help="AtoB (G_AB) or BtoA (G_BA)")
    p.add_argument("--out", type=str, required=True, help="folder for the translated PNGs")
    p.add_argument("--size", type=Optional[int], default=None, help="image side (default: the training size)")
    p.add_argument("--batch_size", type=int, default=8, help="images translated at once")
    return p


def input_files(path: Path) -> list[Path]:
    from lit_gans.data.unpaired import list_images

    if path.is_file():
        return [path]
    if path.is_dir():
        return list_images(path)
    raise UserError(f"--input {path} does not exist: give an image file or a folder of images")


def main(argv: Sequence[str]) -> None:
    from lit_gans.checkpoints.loading import load_model
    from lit_gans.data.base import DataError
    from lit_gans.data.unpaired import load_image, to_tensor_transform
    from lit_gans.images import image_grid
    from lit_gans.provenance import image_metadata, relabel, save_synthetic_png
    from lit_gans.models.cyclegan import CycleGAN

    try:
        args = build_parser().parse_args(list(argv))
    except Exception as e:  # jsonargparse's ArgumentError: unknown or missing options
        raise UserError(str(e).splitlines()[0]) from e
    if args.direction not in ("AtoB", "BtoA"):
        raise UserError(f"--direction must be AtoB or BtoA, got {args.direction}")
    model = load_model(args.ckpt, expected=CycleGAN)
    channels, size = model.hparams.data_shape[0], args.size or model.hparams.data_shape[-1]
    if size < 4 or size % 4:
        raise UserError(f"--size must be a positive multiple of 4, got {size}")
    try:
        files = input_files(Path(args.input))
        transform = to_tensor_transform(size)
        out = Path(args.out)
        meta = image_metadata(model, args.ckpt)  # hashing the checkpoint once for all the files
        for start in range(0, len(files), args.batch_size):
            chunk = files[start : start + args.batch_size]
            x = torch.stack([transform(load_image(f, channels)) for f in chunk])  # (n, C, size, size) in [-1, 1]
            for f, y in zip(chunk, model.translate(x, args.direction)):
                description = f"synthetic {args.direction} translation of {f.name} by CycleGAN (lit_gans)"
                picture = image_grid(y[None], nrow=1)
                save_synthetic_png(picture, out / f"{f.stem}.png", model, metadata=relabel(meta, description))
    except DataError as e:
        raise UserError(str(e)) from e
    print(f"wrote {len(files)} {args.direction} translations to {out}")
