"""Shape checks at the networks' boundaries, after the official StyleGAN2 code's ``misc.assert_shape``: one cheap
comparison of sizes where a tensor enters a network, and an error that names the shape wanted and the shape given
instead of a matrix-multiplication failure deep inside."""

from __future__ import annotations

from typing import Sequence, Union

import torch
from torch import Tensor


def check_shape(x: Tensor, shape: Sequence[Union[int, str]], name: str) -> None:
    """Raises ``ValueError`` unless ``x`` has ``len(shape)`` axes of the given sizes; a string (``"N"``, ``"H"``)
    stands for any size.

    >>> check_shape(torch.zeros(4, 6, 8), ("N", 6, 8), "ws")
    >>> check_shape(torch.zeros(4, 8), ("N", 6, 8), "ws")
    Traceback (most recent call last):
    ...
    ValueError: ws must have shape (N, 6, 8), got (4, 8)
    """
    if torch.jit.is_tracing() or torch.fx._symbolic_trace.is_fx_symbolic_tracing():  # a traced graph (export, int8 by FX)
        return  # fixes the shapes it was traced with; an FX proxy has no sizes to compare
    if x.dim() != len(shape) or any(isinstance(s, int) and d != s for d, s in zip(x.shape, shape)):
        raise ValueError(f"{name} must have shape ({', '.join(map(str, shape))}), got {tuple(x.shape)}")
