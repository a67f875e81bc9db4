"""``lit-gans provenance FILE [FILE ...]``: whether each PNG was made by lit_gans, and by which model and checkpoint.

Prints one line per file: ``synthetic`` with the model, checkpoint hash, weights hash, step and library version, or
``no lit_gans provenance`` (a file without the mark: not written by lit-gans, or re-encoded since).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from lit_gans.errors import UserError


def main(argv: Sequence[str]) -> None:
    from PIL import UnidentifiedImageError

    from lit_gans.provenance import read_provenance

    if not argv or any(a.startswith("-") for a in argv):
        raise UserError("usage: lit-gans provenance FILE [FILE ...] (PNG files written by lit-gans)")
    for name in argv:
        path = Path(name)
        if not path.is_file():
            raise UserError(f"{path} does not exist: give the path of a PNG file")
        try:
            fields = read_provenance(path)
        except (UnidentifiedImageError, OSError) as e:
            raise UserError(f"{path} is not a readable image ({type(e).__name__})") from e
        if fields.get("synthetic") == "true":
            keys = ("model", "checkpoint_sha256", "weights_sha256", "step", "version", "created")
            print(f"{path}: synthetic; " + ", ".join(f"{k}={fields.get(k, '?')}" for k in keys))
        else:
            print(f"{path}: no lit_gans provenance")
