"""The update schedule as data: every variant lists its optimisation phases, and the base module's ``training_step``
runs the due ones in order (after the phase list of the official StyleGAN2-ADA code, ``name='Dreg', interval=16``).

A phase says which player takes an optimizer step, on which loss, and how often: every ``every``-th training step
(``n_critic``, lazy regularisation intervals), or whenever a predicate says so (WGAN's early bursts of critic updates).
Consecutive phases of one player make its *turn*: a turn in which at least one phase ran counts as one update of that
player (``d_steps``, ``g_steps``). What a variant's schedule looks like:

==========  ====================================================================================================
GAN family  ``D`` every step, ``G`` every ``n_critic``-th (Goodfellow et al. 2014, Algorithm 1; WGAN's ``n_critic``)
StyleGAN2   ``Dmain``, ``Dreg`` every ``r1_interval``, ``Gmain``, ``Greg`` every ``pl_interval`` (lazy regularisation)
CycleGAN    both generators, then both discriminators, every step, on one shared forward pass
ProGAN      the GAN family's, on real images brought to the fade-in schedule's resolution first
SeqGAN      stages of epochs (MLE, D pre-training, adversarial rounds): its own ``training_step``, see its docstring
==========  ====================================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Optional, Sequence

from torch import Tensor

LossFn = Callable[[Any], tuple[Tensor, dict[str, Tensor]]]


@dataclass(frozen=True)
class Phase:
    """One row of a schedule: ``player`` ("d" or "g") takes one optimizer step on ``loss`` (a bound method: the step's
    inputs -> (loss, logs)) at the 1-based training steps that ``every`` divides, or when ``due()`` is true if given
    (asked when the player's turn comes, after the previous turn was counted). ``name`` prefixes its logs
    (``Dreg/r1``); empty for a schedule with one phase per player."""

    player: Literal["d", "g"]
    loss: LossFn
    every: int = 1
    due: Optional[Callable[[], bool]] = None
    name: str = ""

    def runs_at(self, step: int) -> bool:
        """Whether the phase runs at 1-based training ``step``.

        >>> reg = Phase("d", print, every=16, name="Dreg")
        >>> reg.runs_at(16), reg.runs_at(17), Phase("g", print, due=lambda: False).runs_at(1)
        (True, False, False)
        """
        return self.due() if self.due is not None else step % self.every == 0


def due_phases(phases: Sequence[Phase], step: int) -> list[Phase]:
    """The phases of a fixed-interval table that run at 1-based ``step``.

    >>> table = [Phase("d", print, name="Dmain"), Phase("d", print, every=16, name="Dreg")]
    >>> [p.name for p in due_phases(table, 16)], [p.name for p in due_phases(table, 17)]
    (['Dmain', 'Dreg'], ['Dmain'])
    """
    return [p for p in phases if p.runs_at(step)]
