"""The ``lit-gans`` command.

``fit``, ``validate``, ``test`` and ``predict`` are LightningCLI's (:mod:`lit_gans.lightning_cli`); the other
subcommands (``sample``, ``report``, ...) are small programs in :mod:`lit_gans.commands`. This module imports
neither Lightning nor torch, so that ``lit-gans --help`` and ``lit-gans sample --help`` answer at once.

Every error a user can cause (an unknown name or key, a missing file, data the network cannot take, an option that
a GAN cannot use) ends the command with one line on stderr that says what to fix, and exit status 2.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn, Optional, Sequence

from lit_gans.commands import COMMANDS
from lit_gans.errors import UserError, condense

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")

USAGE = f"""usage: lit-gans SUBCOMMAND [options]

Training and evaluation (LightningCLI; lit-gans fit --help lists every option):
  {', '.join(LIGHTNING_SUBCOMMANDS)}
  e.g. lit-gans fit -c experiments/dcgan/digits.yaml --trainer.fast_dev_run true

Programs on a checkpoint or a run folder (lit-gans SUBCOMMAND --help):
  {', '.join(COMMANDS)}
"""


def main(argv: Optional[Sequence[str]] = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(USAGE, end="")
        return
    try:
        if not argv:
            raise UserError(f"choose a subcommand: {', '.join([*LIGHTNING_SUBCOMMANDS, *COMMANDS])} (lit-gans --help)")
        if argv[0] in COMMANDS:
            COMMANDS[argv[0]](argv[1:])
        else:
            from lit_gans.lightning_cli import run_lightning

            run_lightning(argv)
    except UserError as e:
        _fail(str(e))
    except (ValueError, FileNotFoundError, NotADirectoryError, FloatingPointError) as e:  # building or training (NaN)
        if os.environ.get("LIT_GANS_DEBUG"):
            raise
        _fail(condense(str(e)))
    except ModuleNotFoundError as e:  # an optional package a chosen class needs (rich, mlflow): Lightning says which
        if os.environ.get("LIT_GANS_DEBUG") or "install" not in str(e):
            raise
        _fail(" ".join(str(e).split()))


def _fail(message: str) -> NoReturn:
    print(f"lit-gans: error: {message}", file=sys.stderr)
    sys.exit(2)


def __getattr__(name: str) -> Any:
    """``GANCLI`` and the short-name expansion, from the module that imports Lightning (loaded on first use)."""
    if name in ("GANCLI", "run_lightning", "_expand_short_names"):
        from lit_gans import lightning_cli

        return getattr(lightning_cli, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    main()
