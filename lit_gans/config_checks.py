"""Checks of a ``fit`` configuration that its type hints cannot express, done before anything is built, so that a
bad value gets one line that names its key instead of a traceback from deep inside a network or an optimizer:

- sizes of the networks (``z_dim``, ``*_channels``, ``*_hidden`` lists, ...) must be positive;
- learning rates of the optimizers must be positive (torch accepts 0, which trains nothing);
- ``--ckpt_path`` must be a readable checkpoint of the configured model (:func:`lit_gans.checkpoints.prepare_resume`).
"""

from __future__ import annotations

from typing import Any, Iterator

from lit_gans.checkpoints.resume import prepare_resume
from lit_gans.errors import UserError

#: model arguments that are sizes: names ending with one of these
SIZE_SUFFIXES = ("_dim", "channels", "hidden", "_filters")


def check_fit_config(config) -> None:
    """Raises :class:`UserError` for the first bad value of ``config`` (the ``fit`` section of the CLI's config)."""
    model_args = _fields(config.get("model.init_args"))
    for key, value in model_args.items():
        if key.endswith(SIZE_SUFFIXES) and any(v <= 0 for v in _numbers(value)):
            raise UserError(f"model.{key} must be positive, got {_plain(value)}")
        optimizer_args = _fields(config.get(f"model.init_args.{key}.init_args")) if key.endswith("_optimizer") else {}
        lr = optimizer_args.get("lr")
        if isinstance(lr, (int, float)) and not lr > 0:
            raise UserError(f"model.{key}.lr must be positive, got {lr}")
    prepare_resume(config)


def _fields(namespace) -> dict[str, Any]:
    return dict(vars(namespace)) if namespace is not None and hasattr(namespace, "__dict__") else {}


def _numbers(value: Any) -> Iterator[float]:
    """The numbers of a size argument: an int, a list of ints, or a per-resolution table's values."""
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _numbers(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
