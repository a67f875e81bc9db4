"""Subcommands of ``lit-gans`` beside LightningCLI's: each is ``main(argv: list[str]) -> None`` in its own module.

A variant that brings a command (CycleGAN's ``translate``, say) adds its module here and one line to
:data:`COMMANDS`.
"""

from __future__ import annotations

from typing import Callable, Sequence


class UserError(Exception):
    """Something the user can fix; the CLI prints it as one line and exits with status 2."""


def _sample(argv: Sequence[str]) -> None:
    from lit_gans.commands.sample import main

    main(argv)


def _train_classifier(argv: Sequence[str]) -> None:
    from lit_gans.commands.train_classifier import main

    main(argv)


COMMANDS: dict[str, Callable[[Sequence[str]], None]] = {"sample": _sample, "train-classifier": _train_classifier}
