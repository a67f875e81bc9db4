"""Argument parsing shared by the subcommands: jsonargparse's errors become one :class:`UserError` line."""

from __future__ import annotations

from typing import Sequence

from jsonargparse import ArgumentParser, Namespace

from lit_gans.errors import UserError


def parse_args(parser: ArgumentParser, argv: Sequence[str]) -> Namespace:
    """``parser.parse_args(argv)``; an unknown, missing or ill-typed option is a UserError with the first line."""
    try:
        return parser.parse_args(list(argv))
    except Exception as e:  # jsonargparse's ArgumentError: unknown or missing options
        raise UserError(str(e).splitlines()[0]) from e
