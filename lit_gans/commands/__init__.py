"""Subcommands of ``lit-gans`` beside LightningCLI's: each is ``main(argv: list[str]) -> None`` in its own module.

A variant that brings a command (CycleGAN's ``translate``, say) adds its module here and one entry to
:data:`_MODULES`.
"""

from __future__ import annotations

import importlib
from typing import Callable, Sequence

from lit_gans.errors import UserError  # noqa: F401  (kept importable as lit_gans.commands.UserError)


#: subcommand name -> module of lit_gans.commands defining ``main(argv)``; modules are imported on use
_MODULES = {
    "sample": "sample",
    "translate": "translate",
    "train-classifier": "train_classifier",
    "provenance": "provenance",
    "report": "report",
    "import-weights": "import_weights",
    "compress": "compress",
    "export": "export",
}


def _lazy(module: str) -> Callable[[Sequence[str]], None]:
    def run(argv: Sequence[str]) -> None:
        importlib.import_module(f"lit_gans.commands.{module}").main(argv)

    return run


COMMANDS: dict[str, Callable[[Sequence[str]], None]] = {name: _lazy(module) for name, module in _MODULES.items()}
