"""The errors lit_gans raises on purpose, in one place at the bottom of the package (every layer may import them).

- :class:`UserError`: something the user can fix (a path, a value, a checkpoint of another model); ``lit-gans``
  prints it as one line (``lit-gans: error: ...``) and exits with status 2.
- :class:`NonFiniteLossError`: a player's loss became NaN or infinite; the base module raises it on the first step
  that reads the device after it (:mod:`lit_gans.models.host_state`), before any checkpoint of the weights it reached.
- :func:`condense`: a nested, multi-line jsonargparse message as the one line the CLI prints.
"""

import re


class UserError(Exception):
    """Something the user can fix; the CLI prints it as one line and exits with status 2."""


class NonFiniteLossError(FloatingPointError):
    """A player's loss became NaN or infinite; raised before any checkpoint of the weights it reached is written."""


def condense(message: str) -> str:
    """The informative part of a nested, multi-line jsonargparse message, as one line."""
    missing = re.search(r"class_path '([\w.]+)':\s+the following arguments are required: ([\w, ]+)", str(message))
    noise = ("Subtypes:", "Errors:", "Given value", "Does not validate", "Expected a <class 'NoneType'>", "Problem with")
    useful = [ln.strip().lstrip("- ").strip() for ln in str(message).splitlines()]
    useful = [ln for ln in useful if ln and not ln.startswith(noise)] or [str(message).strip()]
    head, tail = useful[0], re.sub(r"^[\w.]+\.\w+(Error|Exception): ", "", useful[-1])  # a DataLoader worker's re-raise
    if missing:  # a class given without an argument it needs (a logger without save_dir)
        tail = f"{missing[1]} needs {missing[2].strip()}, which was not given"
    return f"{head} {tail}" if head.startswith("Parser key") and tail != head else tail
