"""What a training step keeps on the host so that it never waits for the device between logging steps.

- **Counters** (player updates, ProGAN's images shown, SeqGAN's epochs of the schedule) are Python ints: a schedule
  reads them every step, and reading a device buffer back (``int(buffer)``) makes the CPU wait for the GPU's queue.
  :func:`keep_counters_in_state_dict` writes them into the module's state dict as the 0-d long tensors under the
  same names that earlier versions kept in buffers, and reads them back on load: checkpoints keep their layout, and
  old checkpoints load.
- **Non-finite losses** (:class:`NonFiniteWatch`): testing ``torch.isfinite(loss)`` on the host every step is a
  synchronisation too; the watch keeps the losses of the steps in between and tests them all at once at the next
  step that reads the host anyway (a logging step), at the end of an epoch or of training, and before any checkpoint
  is written, so a checkpoint never holds the weights that a non-finite loss has reached.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lit_gans.errors import NonFiniteLossError

#: losses kept one by one before they are stacked into one tensor (a few hundred small tensors at most)
FOLD_EVERY = 256


def keep_counters_in_state_dict(module: nn.Module) -> None:
    """Makes ``module.state_dict()`` hold every name of ``module.host_counters`` as a 0-d long tensor, and
    ``load_state_dict`` set the Python ints from them (a strict load of a state dict without them fails as before)."""
    module._register_state_dict_hook(_counters_to_state_dict)
    module._register_load_state_dict_pre_hook(_counters_from_state_dict, with_module=True)


def _counters_to_state_dict(module: nn.Module, state_dict: dict, prefix: str, local_metadata: Any) -> None:
    for name in module.host_counters:
        state_dict[prefix + name] = torch.tensor(int(getattr(module, name)), dtype=torch.long)


def _counters_from_state_dict(module: nn.Module, state_dict: dict, prefix: str, local_metadata: Any, strict: bool,
                              missing_keys: list, unexpected_keys: list, error_msgs: list) -> None:
    for name in module.host_counters:
        value = state_dict.pop(prefix + name, None)  # a copy of the caller's dict (Module.load_state_dict makes it)
        if value is not None:
            setattr(module, name, int(value))
        elif strict:
            missing_keys.append(prefix + name)


class NonFiniteWatch:
    """The losses of the steps that do not read the host, tested together when :meth:`check` is called."""

    def __init__(self) -> None:
        self.chunks: list[Tensor] = []  # earlier losses, stacked FOLD_EVERY at a time (1-d float tensors)
        self.recent: list[Tensor] = []  # the latest losses, 0-d
        self.where: list[tuple[str, int]] = []  # (player, step) of every loss kept, in order

    def note(self, loss: Tensor, player: str, step: int, check: bool) -> None:
        """Keeps ``loss`` of ``player`` at ``step``; with ``check`` (a step that reads the host anyway) tests it, and
        everything kept before, now: the error is raised before the loss's gradient reaches the weights."""
        if check:
            self.check(now=step)
            if not torch.isfinite(loss):
                raise NonFiniteLossError(_message(player, loss.item(), step))
            return
        self.recent.append(loss.detach())
        self.where.append((player, step))
        if len(self.recent) == FOLD_EVERY:  # no host read: one stack on the device
            self.chunks.append(torch.stack([t.float() for t in self.recent]))
            self.recent = []

    def check(self, now: Any = None) -> None:
        """Raises :class:`NonFiniteLossError` for the first non-finite loss kept (a host read), and forgets them all."""
        if not self.where:
            return
        losses = torch.cat(self.chunks + ([torch.stack([t.float() for t in self.recent])] if self.recent else []))
        where = self.where
        self.chunks, self.recent, self.where = [], [], []
        bad = ~torch.isfinite(losses)
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            (player, step), noticed = where[i], f" (noticed at step {now})" if now is not None else ""
            raise NonFiniteLossError(_message(player, float(losses[i]), step, noticed))


def _message(player: str, value: float, step: int, noticed: str = "") -> str:
    return (f"the {player} loss became {value} at step {step}{noticed}; lower the learning rate or change the loss "
            "(checkpoints already saved are kept)")
