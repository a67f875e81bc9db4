"""The model card of a compressed or exported generator (beside the file, ``<name>_MODEL_CARD.md``): what it is,
what it derives from (source checkpoint and its hash, method, settings), what it measured, and the same intended-use
and responsible-use terms as the card of a fit (:mod:`lit_gans.callbacks.model_card`)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import lit_gans
from lit_gans.callbacks.model_card import paper_of, use_sections
from lit_gans.provenance import file_sha256


def card_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}_MODEL_CARD.md")


def derived_from(source: str | Path, method: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The provenance record kept in the compressed file and in its card."""
    return {"checkpoint": str(source), "checkpoint_sha256": file_sha256(source), "method": method, "settings": settings}


def write_derived_card(out: Path, teacher, origin: dict[str, Any], measured: dict[str, Any], fmt: str) -> Path:
    """Writes the card of ``out`` (a file of format ``fmt``) derived from ``teacher`` as ``origin`` records."""
    name = type(teacher).__name__
    lines = [
        f"# Model card: {name} generator, {origin['method']} ({fmt})",
        "",
        f"Written by lit_gans {lit_gans.__version__} on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC.",
        "",
        "## Derived from",
        f"- Source checkpoint: `{origin['checkpoint']}` sha256 `{origin['checkpoint_sha256']}`",
        f"- Source variant: `{type(teacher).__module__}.{name}` ({paper_of(teacher)})",
        f"- Method: {origin['method']}; settings: " + ", ".join(f"`{k}={v!r}`" for k, v in origin["settings"].items()),
        "- Compression methods: Li et al. 2020, arXiv:2003.08936 (distillation); Liu et al. 2021, arXiv:2104.02244; "
        "Li et al. 2017, arXiv:1608.08710 (L1 channel pruning); Jacob et al. 2018, arXiv:1712.05877 (int8).",
        "- Its quality is at most the source's: the training data, biases and limitations of the source model apply.",
        "",
        "## This file",
        f"- `{out.name}` ({fmt}) sha256 `{file_sha256(out)}`, {out.stat().st_size / 1e6:.3f} MB",
        *[f"- {k}: {v}" for k, v in measured.items()],
        "",
        *use_sections(),
    ]
    path = card_path(out)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
